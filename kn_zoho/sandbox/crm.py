"""Zoho CRM v8 record writes for Contacts and Leads: insert, update, upsert; and the routes.

Replies follow Zoho's OpenAPI description (github.com/zoho/crm-oas, v8.0/record.json): one
result per record, in order, with 201 for inserts, 200 for updates and upserts, 207 when results
are mixed and 400 when every record failed. What a record may hold comes from the module's
field layout (:mod:`.crm_layout`):

- A field API name the layout does not have is dropped and the write succeeds. Zoho's pages do
  not say what happens to an unknown name; integrations observe that it is silently ignored
  (e.g. github.com/amalc/rubyzoho/issues/20), so the sandbox drops it too, read-only system
  fields likewise, and ``kn-zoho doctor`` plus the per-run field check are what protect us.
- A unique field ("Do not allow duplicate values") refuses a value another record holds with
  DUPLICATE_DATA, as Zoho does for unique fields.
- Upsert checks ``duplicate_check_fields`` in the order given, and only the system-defined
  duplicate check field (Email) and unique fields may be named (Kaizen #56,
  https://help.zoho.com/portal/en/community/topic/kaizen-56-upsert-records-api). Without the key
  the order is: system-defined fields, then unique fields. Naming any other field is refused;
  Zoho documents no error code for that, so the sandbox answers the request with
  INVALID_DATA naming ``duplicate_check_fields`` (the stricter choice).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from kn_zoho.sandbox.crm_common import (
    CrmService,
    RecordError,
    Records,
    crm_error,
    item_error,
    module_of,
)
from kn_zoho.sandbox.crm_layout import (
    OWNER,
    SANDBOX_USER,
    SYSTEM_DUPLICATE_CHECK,
    FieldSpec,
    get_org,
    layout,
    list_fields,
    list_users,
    unique_fields,
)
from kn_zoho.sandbox.crm_read import get_record, list_records, search_records
from kn_zoho.sandbox.emails import looks_like_email
from kn_zoho.sandbox.pipeline import ApiError, zoho_endpoint
from kn_zoho.sandbox.state import SandboxState

MAX_RECORDS_PER_WRITE = 100
Layout = dict[str, FieldSpec]


# --- request parsing ------------------------------------------------------------------------

async def _write_body(request: Request) -> tuple[list[Any], list[str] | None]:
    """The records and duplicate_check_fields of an insert/upsert body."""
    try:
        body = json.loads(await request.body())
    except ValueError:
        raise crm_error(400, "INVALID_DATA", "body is not a valid JSON") from None
    if not isinstance(body, dict) or "data" not in body:
        raise crm_error(400, "MANDATORY_NOT_FOUND", "required field not found",
                        {"api_name": "data", "json_path": "$.data"})
    data = body["data"]
    if not isinstance(data, list) or not data:
        raise crm_error(400, "INVALID_DATA", "invalid data",
                        {"api_name": "data", "json_path": "$.data",
                         "expected_data_type": "jsonarray"})
    if len(data) > MAX_RECORDS_PER_WRITE:
        raise ApiError(JSONResponse({"data": [item_error(
            "LIMIT_EXCEEDED", "count of records in your request exceeds the limit",
            maximum_length=MAX_RECORDS_PER_WRITE, api_name="data")]}, status_code=400))
    check_fields = body.get("duplicate_check_fields")
    if check_fields is not None and (
            not isinstance(check_fields, list)
            or not all(isinstance(name, str) for name in check_fields)):
        raise _bad_check_fields("jsonarray")
    return data, check_fields


def _bad_check_fields(expected: str | None = None, field: str | None = None) -> ApiError:
    details: dict[str, Any] = {"api_name": "duplicate_check_fields",
                               "json_path": "$.duplicate_check_fields"}
    if expected:
        details["expected_data_type"] = expected
    if field:
        details["field"] = field
    return crm_error(400, "INVALID_DATA", "invalid data", details)


def _check_fields(module: str, fields: Layout, given: list[str] | None) -> list[str]:
    """The fields an upsert matches on, in order; refuse any that is not unique."""
    system = list(SYSTEM_DUPLICATE_CHECK[module])
    if given is None:
        return system + unique_fields(fields)
    for name in given:
        if name not in fields or not (name in system or fields[name].unique):
            raise _bad_check_fields(field=name)
    return list(given)


def _clean_record(fields: Layout, index: int, record: Any) -> dict[str, Any]:
    """The storable fields of one input record; RecordError for the first invalid value.
    Names not in the layout and read-only fields are dropped (see the module docstring)."""
    if not isinstance(record, dict):
        raise RecordError(item_error("INVALID_DATA", "invalid data", api_name="data",
                                     json_path=f"$.data[{index}]",
                                     expected_data_type="jsonobject"))
    cleaned: dict[str, Any] = {}
    for name, value in record.items():
        spec = fields.get(name)
        if spec is not None and not spec.read_only:
            _check_value(name, value, spec, f"$.data[{index}].{name}")
            cleaned[name] = value
    return cleaned


def _invalid(name: str, json_path: str, **details: Any) -> RecordError:
    return RecordError(item_error("INVALID_DATA", "invalid data", api_name=name,
                                  json_path=json_path, **details))


def _check_value(name: str, value: Any, spec: FieldSpec, json_path: str) -> None:
    if value is None:
        return
    if spec.data_type == "boolean":
        if not isinstance(value, bool):
            raise _invalid(name, json_path, expected_data_type="boolean")
        return
    if spec.data_type == "lookup":
        if not isinstance(value, dict) or not value.get("id"):
            raise _invalid(name, json_path, expected_data_type="jsonobject")
        return
    if not isinstance(value, str):
        raise _invalid(name, json_path, expected_data_type=spec.data_type)
    if spec.length and len(value) > spec.length:
        raise _invalid(name, json_path, maximum_length=spec.length)
    if spec.data_type == "email" and value and not looks_like_email(value):
        raise _invalid(name, json_path, expected_data_type="email")


def _check_mandatory(fields: Layout, index: int, values: dict[str, Any]) -> None:
    for name, spec in fields.items():
        if not spec.mandatory:
            continue
        value = values.get(name)
        if value is None or (isinstance(value, str) and not value.strip()):
            raise RecordError(item_error("MANDATORY_NOT_FOUND", "required field not found",
                                         api_name=name, json_path=f"$.data[{index}].{name}"))


# --- storage --------------------------------------------------------------------------------

def _matches(records: Records, name: str, value: Any) -> list[dict[str, Any]]:
    return records.matching(name, value)


def _duplicate_error(module: str, index: int, name: str,
                     matches: list[dict[str, Any]]) -> RecordError:
    first = matches[0]
    return RecordError(item_error(
        "DUPLICATE_DATA", "duplicate data", api_name=name, json_path=f"$.data[{index}].{name}",
        id=first["id"], duplicate_record={"id": first["id"], "Owner": first["Owner"],
                                          "module": {"api_name": module, "id": first["id"]}},
        more_records=len(matches) > 1))


def _check_unique(module: str, fields: Layout, index: int, values: dict[str, Any],
                  records: Records, own_id: str | None = None) -> None:
    """A unique field refuses a value another record already holds."""
    for name in unique_fields(fields):
        value = values.get(name)
        if value in (None, ""):
            continue
        others = [r for r in _matches(records, name, value) if r["id"] != own_id]
        if others:
            raise _duplicate_error(module, index, name, others)


def _insert(state: SandboxState, module: str, fields: dict[str, Any]) -> dict[str, Any]:
    now = state.crm_timestamp()
    record = {"id": state.new_id("crm"), "Owner": OWNER, **fields, "Created_Time": now,
              "Modified_Time": now, "Created_By": SANDBOX_USER, "Modified_By": SANDBOX_USER}
    state.collection("crm", module)[record["id"]] = record
    return record


def _update(state: SandboxState, record: dict[str, Any], fields: dict[str, Any]) -> None:
    record.update(fields)
    record["Modified_Time"] = state.crm_timestamp()
    record["Modified_By"] = SANDBOX_USER


def _success(record: dict[str, Any], *, updated: bool) -> dict[str, Any]:
    return {
        "code": "SUCCESS",
        "details": {key: record[key] for key in (
            "Modified_Time", "Modified_By", "Created_Time", "id", "Created_By")},
        "message": "record updated" if updated else "record added",
        "status": "success",
    }


def _upsert_success(record: dict[str, Any], action: str,
                    duplicate_field: str | None) -> dict[str, Any]:
    """The OAS types ``duplicate_field`` as a string: absent when nothing was matched on."""
    item = {**_success(record, updated=action == "update"), "action": action}
    if duplicate_field is not None:
        item["duplicate_field"] = duplicate_field
    return item


def _write_reply(items: list[dict[str, Any]], all_ok_status: int) -> JSONResponse:
    failed = sum(item["status"] == "error" for item in items)
    status = all_ok_status if not failed else 400 if failed == len(items) else 207
    return JSONResponse({"data": items}, status_code=status)


# --- handlers -------------------------------------------------------------------------------

RecordWriter = Callable[[SandboxState, str, Layout, int, Any, Records], dict[str, Any]]


async def _write(request: Request, state: SandboxState,
                 writer: Callable[[Layout, list[str] | None], RecordWriter],
                 all_ok_status: int) -> Response:
    """The frame every CRM write shares: one reply item per input record, in order; a record
    Zoho refuses becomes its error item and the others still go through."""
    module = module_of(request)
    data, check_fields = await _write_body(request)
    items = []
    with state.lock:
        fields = layout(state, module)
        write_one = writer(fields, check_fields)
        records = Records(state.collection("crm", module))
        for index, raw in enumerate(data):
            try:
                item = write_one(state, module, fields, index, raw, records)
            except RecordError as error:
                item = error.item
            else:
                records.written(item["details"]["id"])
            items.append(item)
        state.save()
    return _write_reply(items, all_ok_status)


def _inserter(fields: Layout, check_fields: list[str] | None) -> RecordWriter:
    """Insert; duplicate_check_fields, if given, refuse a record whose value exists."""
    names = check_fields or []

    def insert_one(state: SandboxState, module: str, fields: Layout, index: int, raw: Any,
                   records: Records) -> dict[str, Any]:
        values = _clean_record(fields, index, raw)
        _check_mandatory(fields, index, values)
        for name in names:
            value = values.get(name)
            matches = _matches(records, name, value) if value not in (None, "") else []
            if matches:
                raise _duplicate_error(module, index, name, matches)
        _check_unique(module, fields, index, values, records)
        return _success(_insert(state, module, values), updated=False)

    return insert_one


async def insert_records(request: Request, state: SandboxState) -> Response:
    """POST /crm/v8/{module}: every record is new."""
    return await _write(request, state, _inserter, 201)


def _upserter(fields: Layout, check_fields: list[str] | None) -> RecordWriter:
    ordered: dict[str, list[str]] = {}

    def upsert_one(state: SandboxState, module: str, fields: Layout, index: int, raw: Any,
                   records: Records) -> dict[str, Any]:
        if module not in ordered:
            ordered[module] = _check_fields(module, fields, check_fields)
        return _upsert_one(state, module, fields, index, _clean_record(fields, index, raw),
                           records, ordered[module])

    return upsert_one


async def upsert_records(request: Request, state: SandboxState) -> Response:
    """POST /crm/v8/{module}/upsert: update the record matching the first duplicate check
    field the input has a value for, else insert."""
    module = module_of(request)
    with state.lock:  # refuse bad duplicate_check_fields for the request as a whole
        fields = layout(state, module)
    _, check_fields = await _write_body(request)
    _check_fields(module, fields, check_fields)
    return await _write(request, state, _upserter, 200)


def _upsert_one(state: SandboxState, module: str, fields: Layout, index: int,
                values: dict[str, Any], records: Records,
                check_fields: Iterable[str]) -> dict[str, Any]:
    duplicate_field = None
    for name in check_fields:
        value = values.get(name)
        if value in (None, ""):
            continue
        duplicate_field = duplicate_field or name
        matches = _matches(records, name, value)
        if len(matches) > 1:
            raise _duplicate_error(module, index, name, matches)
        if matches:
            _check_mandatory(fields, index, {**matches[0], **values})
            _check_unique(module, fields, index, values, records, matches[0]["id"])
            _update(state, matches[0], values)
            return _upsert_success(matches[0], "update", name)
    _check_mandatory(fields, index, values)
    _check_unique(module, fields, index, values, records)
    return _upsert_success(_insert(state, module, values), "insert", duplicate_field)


def _updater(fields: Layout, check_fields: list[str] | None) -> RecordWriter:
    def update_one(state: SandboxState, module: str, fields: Layout, index: int, raw: Any,
                   records: Records) -> dict[str, Any]:
        values = _clean_record(fields, index, raw)
        record = _record_to_update(records, index, raw.get("id"))
        _check_mandatory(fields, index, {**record, **values})
        _check_unique(module, fields, index, values, records, record["id"])
        _update(state, record, values)
        return _success(record, updated=True)

    return update_one


async def update_records(request: Request, state: SandboxState) -> Response:
    """PUT /crm/v8/{module}: change the records named by each input's ``id``."""
    return await _write(request, state, _updater, 200)


def _record_to_update(records: Records, index: int,
                      record_id: Any) -> dict[str, Any]:
    if record_id in (None, ""):
        raise RecordError(item_error("MANDATORY_NOT_FOUND", "required field not found",
                                     api_name="id", json_path=f"$.data[{index}].id"))
    record = records.get(str(record_id))
    if record is None:
        raise RecordError(item_error("INVALID_DATA", "the id given seems to be invalid",
                                     api_name="id", json_path=f"$.data[{index}].id"))
    return record


def crm_routes() -> list[Route]:
    service = CrmService()
    return [
        Route("/crm/v8/settings/fields", zoho_endpoint(service, list_fields), methods=["GET"]),
        Route("/crm/v8/users", zoho_endpoint(service, list_users), methods=["GET"]),
        Route("/crm/v8/org", zoho_endpoint(service, get_org), methods=["GET"]),
        Route("/crm/v8/{module}/upsert", zoho_endpoint(service, upsert_records),
              methods=["POST"]),
        Route("/crm/v8/{module}/search", zoho_endpoint(service, search_records),
              methods=["GET"]),
        Route("/crm/v8/{module}/{record_id}", zoho_endpoint(service, get_record),
              methods=["GET"]),
        Route("/crm/v8/{module}", zoho_endpoint(service, insert_records), methods=["POST"]),
        Route("/crm/v8/{module}", zoho_endpoint(service, update_records), methods=["PUT"]),
        Route("/crm/v8/{module}", zoho_endpoint(service, list_records), methods=["GET"]),
    ]
