"""Zoho CRM v8 records API for Contacts and Leads: insert, update, upsert, search, get, list.

Replies follow Zoho's OpenAPI description (github.com/zoho/crm-oas, v8.0/record): one result
per record, in order, with 201 for inserts, 200 for updates and upserts, 207 when results
are mixed and 400 when every record failed. Fields the module does not have are dropped, as
Zoho drops unknown API names, except custom fields (``*__c``), which are stored as given.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from kn_zoho.sandbox.emails import looks_like_email
from kn_zoho.sandbox.limits import Refusal, RequestLimiter
from kn_zoho.sandbox.oauth import TokenCheck
from kn_zoho.sandbox.pipeline import ApiError, Service, zoho_endpoint
from kn_zoho.sandbox.state import SandboxState

MAX_RECORDS_PER_WRITE = 100
MAX_PER_PAGE = 200
MAX_FIELDS_PER_READ = 50
SANDBOX_USER = {"name": "KN Sandbox Admin", "id": "5725767000000411001"}
OWNER = {**SANDBOX_USER, "email": "sandbox-admin@knbiosciences.example"}
DEFAULT_DUPLICATE_CHECK_FIELDS = ("Email",)


@dataclass(frozen=True)
class FieldSpec:
    """A standard field: its data type as Zoho names it, and its maximum length if text."""

    data_type: str
    max_length: int | None = None


def _text(max_length: int) -> FieldSpec:
    return FieldSpec("text", max_length)


_PERSON_FIELDS = {
    "Salutation": _text(25), "First_Name": _text(40), "Last_Name": _text(80),
    "Email": FieldSpec("email", 100), "Secondary_Email": FieldSpec("email", 100),
    "Phone": FieldSpec("phone", 30), "Mobile": FieldSpec("phone", 30),
    "Fax": FieldSpec("phone", 30), "Title": _text(100), "Lead_Source": _text(120),
    "Description": FieldSpec("textarea", 32000), "Email_Opt_Out": FieldSpec("boolean"),
}
MODULE_FIELDS: dict[str, dict[str, FieldSpec]] = {
    "Contacts": {
        **_PERSON_FIELDS, "Department": _text(100), "Mailing_Street": _text(250),
        "Mailing_City": _text(100), "Mailing_State": _text(100), "Mailing_Zip": _text(30),
        "Mailing_Country": _text(100),
    },
    "Leads": {
        **_PERSON_FIELDS, "Company": _text(200), "Designation": _text(100),
        "Lead_Status": _text(120), "Industry": _text(120), "Website": _text(255),
        "Street": _text(250), "City": _text(100), "State": _text(100), "Zip_Code": _text(30),
        "Country": _text(100),
    },
}
# Leads need a Company in Zoho's standard layout (conversion makes it the Account).
MANDATORY_FIELDS = {"Contacts": ("Last_Name",), "Leads": ("Last_Name", "Company")}


class CrmService(Service):
    """CRM's request-level errors: ``{"code": "...", "details": {}, "message", "status"}``."""

    def limiter(self, state: SandboxState) -> RequestLimiter:
        return state.crm_limiter

    def auth_failure(self, check: TokenCheck) -> Response:
        if check is TokenCheck.MISSING:
            return crm_error(401, "AUTHENTICATION_FAILURE", "Authentication failed").response
        return crm_error(401, "INVALID_TOKEN", "invalid oauth token").response

    def limit_refusal(self, refusal: Refusal) -> Response:
        return crm_error(429, "TOO_MANY_REQUESTS",
                         "You have exceeded the concurrency limit. "
                         "Please try again after some time.").response

    def internal_error(self) -> Response:
        return crm_error(500, "INTERNAL_ERROR", "Internal Server Error").response


def crm_error(status: int, code: str, message: str,
              details: dict[str, Any] | None = None) -> ApiError:
    return ApiError(JSONResponse(
        {"code": code, "details": details or {}, "message": message, "status": "error"},
        status_code=status))


def _item_error(code: str, message: str, **details: Any) -> dict[str, Any]:
    return {"code": code, "details": details, "message": message, "status": "error"}


class RecordError(Exception):
    """One record of a batch failed; ``item`` is its entry in the reply's data list."""

    def __init__(self, item: dict[str, Any]) -> None:
        super().__init__(item["code"])
        self.item = item


# --- request parsing ------------------------------------------------------------------------

def _module(request: Request) -> str:
    module = request.path_params["module"]
    if module not in MODULE_FIELDS:
        raise crm_error(400, "INVALID_MODULE", "the module name given seems to be invalid",
                        {"resource_path_index": 0})
    return module


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
        raise ApiError(JSONResponse({"data": [_item_error(
            "LIMIT_EXCEEDED", "count of records in your request exceeds the limit",
            maximum_length=MAX_RECORDS_PER_WRITE, api_name="data")]}, status_code=400))
    check_fields = body.get("duplicate_check_fields")
    if check_fields is not None and (
            not isinstance(check_fields, list)
            or not all(isinstance(name, str) for name in check_fields)):
        raise crm_error(400, "INVALID_DATA", "invalid data",
                        {"api_name": "duplicate_check_fields",
                         "json_path": "$.duplicate_check_fields",
                         "expected_data_type": "jsonarray"})
    return data, check_fields


def _clean_record(module: str, index: int, record: Any) -> dict[str, Any]:
    """The storable fields of one input record; RecordError for the first invalid value."""
    if not isinstance(record, dict):
        raise RecordError(_item_error("INVALID_DATA", "invalid data", api_name="data",
                                      json_path=f"$.data[{index}]",
                                      expected_data_type="jsonobject"))
    specs = MODULE_FIELDS[module]
    cleaned: dict[str, Any] = {}
    for name, value in record.items():
        if name.endswith("__c"):
            cleaned[name] = value
        elif name in specs:
            _check_value(name, value, specs[name], f"$.data[{index}].{name}")
            cleaned[name] = value
    return cleaned


def _check_value(name: str, value: Any, spec: FieldSpec, json_path: str) -> None:
    if value is None:
        return
    if spec.data_type == "boolean":
        if not isinstance(value, bool):
            raise RecordError(_item_error("INVALID_DATA", "invalid data", api_name=name,
                                          json_path=json_path, expected_data_type="boolean"))
        return
    if not isinstance(value, str):
        raise RecordError(_item_error("INVALID_DATA", "invalid data", api_name=name,
                                      json_path=json_path, expected_data_type=spec.data_type))
    if spec.max_length is not None and len(value) > spec.max_length:
        raise RecordError(_item_error("INVALID_DATA", "invalid data", api_name=name,
                                      json_path=json_path, maximum_length=spec.max_length))
    if spec.data_type == "email" and value and not looks_like_email(value):
        raise RecordError(_item_error("INVALID_DATA", "invalid data", api_name=name,
                                      json_path=json_path, expected_data_type="email"))


def _check_mandatory(module: str, index: int, fields: dict[str, Any]) -> None:
    for name in MANDATORY_FIELDS[module]:
        value = fields.get(name)
        if value is None or (isinstance(value, str) and not value.strip()):
            raise RecordError(_item_error("MANDATORY_NOT_FOUND", "required field not found",
                                          api_name=name, json_path=f"$.data[{index}].{name}"))


# --- storage --------------------------------------------------------------------------------

def _same(left: Any, right: Any) -> bool:
    """Zoho's duplicate check ignores letter case in text."""
    if isinstance(left, str) and isinstance(right, str):
        return left.strip().casefold() == right.strip().casefold()
    return left == right


def _matches(records: dict[str, dict[str, Any]], name: str, value: Any) -> list[dict[str, Any]]:
    return [record for record in records.values() if _same(record.get(name), value)]


def _duplicate_error(module: str, index: int, name: str,
                     matches: list[dict[str, Any]]) -> RecordError:
    first = matches[0]
    return RecordError(_item_error(
        "DUPLICATE_DATA", "duplicate data", api_name=name, json_path=f"$.data[{index}].{name}",
        id=first["id"], duplicate_record={"id": first["id"], "Owner": first["Owner"],
                                          "module": {"api_name": module, "id": first["id"]}},
        more_records=len(matches) > 1))


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
    return {**_success(record, updated=action == "update"), "duplicate_field": duplicate_field,
            "action": action}


def _write_reply(items: list[dict[str, Any]], all_ok_status: int) -> JSONResponse:
    failed = sum(item["status"] == "error" for item in items)
    status = all_ok_status if not failed else 400 if failed == len(items) else 207
    return JSONResponse({"data": items}, status_code=status)


# --- handlers -------------------------------------------------------------------------------

RecordWriter = Callable[[SandboxState, str, int, Any, dict[str, dict[str, Any]], list[str] | None],
                        dict[str, Any]]


async def _write(request: Request, state: SandboxState, write_one: RecordWriter,
                 all_ok_status: int) -> Response:
    """The frame every CRM write shares: one reply item per input record, in order; a record
    Zoho refuses becomes its error item and the others still go through."""
    module = _module(request)
    data, check_fields = await _write_body(request)
    items = []
    with state.lock:
        records = state.collection("crm", module)
        for index, raw in enumerate(data):
            try:
                items.append(write_one(state, module, index, raw, records, check_fields))
            except RecordError as error:
                items.append(error.item)
        state.save()
    return _write_reply(items, all_ok_status)


def _insert_one(state: SandboxState, module: str, index: int, raw: Any,
                records: dict[str, dict[str, Any]], check_fields: list[str] | None
                ) -> dict[str, Any]:
    fields = _clean_record(module, index, raw)
    _check_mandatory(module, index, fields)
    for name in check_fields or ():
        value = fields.get(name)
        matches = _matches(records, name, value) if value not in (None, "") else []
        if matches:
            raise _duplicate_error(module, index, name, matches)
    return _success(_insert(state, module, fields), updated=False)


async def insert_records(request: Request, state: SandboxState) -> Response:
    """POST /crm/v8/{module}: every record is new; duplicate_check_fields, if given, refuse
    a record whose value already exists."""
    return await _write(request, state, _insert_one, 201)


async def upsert_records(request: Request, state: SandboxState) -> Response:
    """POST /crm/v8/{module}/upsert: update the record matching the first duplicate check
    field the input has a value for (Email by default), else insert."""
    return await _write(
        request, state,
        lambda state, module, index, raw, records, check_fields: _upsert_one(
            state, module, index, _clean_record(module, index, raw), records,
            check_fields or list(DEFAULT_DUPLICATE_CHECK_FIELDS)),
        200)


def _upsert_one(state: SandboxState, module: str, index: int, fields: dict[str, Any],
                records: dict[str, dict[str, Any]], check_fields: Iterable[str]
                ) -> dict[str, Any]:
    duplicate_field = None
    for name in check_fields:
        value = fields.get(name)
        if value in (None, ""):
            continue
        duplicate_field = duplicate_field or name
        matches = _matches(records, name, value)
        if len(matches) > 1:
            raise _duplicate_error(module, index, name, matches)
        if matches:
            _check_mandatory(module, index, {**matches[0], **fields})
            _update(state, matches[0], fields)
            return _upsert_success(matches[0], "update", name)
    _check_mandatory(module, index, fields)
    return _upsert_success(_insert(state, module, fields), "insert", duplicate_field)


def _update_one(state: SandboxState, module: str, index: int, raw: Any,
                records: dict[str, dict[str, Any]], _check_fields: list[str] | None
                ) -> dict[str, Any]:
    fields = _clean_record(module, index, raw)
    record = _record_to_update(records, index, raw.get("id"))
    _check_mandatory(module, index, {**record, **fields})
    _update(state, record, fields)
    return _success(record, updated=True)


async def update_records(request: Request, state: SandboxState) -> Response:
    """PUT /crm/v8/{module}: change the records named by each input's ``id``."""
    return await _write(request, state, _update_one, 200)


def _record_to_update(records: dict[str, dict[str, Any]], index: int,
                      record_id: Any) -> dict[str, Any]:
    if record_id in (None, ""):
        raise RecordError(_item_error("MANDATORY_NOT_FOUND", "required field not found",
                                      api_name="id", json_path=f"$.data[{index}].id"))
    record = records.get(str(record_id))
    if record is None:
        raise RecordError(_item_error("INVALID_DATA", "the id given seems to be invalid",
                                      api_name="id", json_path=f"$.data[{index}].id"))
    return record


def _page_params(request: Request) -> tuple[int, int]:
    params = request.query_params
    try:
        page = int(params.get("page", "1"))
        per_page = int(params.get("per_page", str(MAX_PER_PAGE)))
    except ValueError:
        raise crm_error(400, "INVALID_DATA", "invalid data",
                        {"param_name": "page/per_page", "expected_data_type": "integer"}
                        ) from None
    if page < 1:
        raise crm_error(400, "INVALID_DATA", "invalid data", {"param_name": "page"})
    if not 1 <= per_page <= MAX_PER_PAGE:
        raise crm_error(400, "INVALID_DATA", "invalid data",
                        {"param_name": "per_page", "maximum_length": MAX_PER_PAGE})
    return page, per_page


def _page_reply(records: list[dict[str, Any]], page: int, per_page: int,
                extra_info: dict[str, Any] | None = None) -> Response:
    """One page of records, or 204 with no body when the page is empty (as Zoho answers)."""
    start = (page - 1) * per_page
    chunk = records[start:start + per_page]
    if not chunk:
        return Response(status_code=204)
    info = {"per_page": per_page, "count": len(chunk), "page": page,
            "more_records": start + per_page < len(records), **(extra_info or {})}
    return JSONResponse({"data": chunk, "info": info})


async def list_records(request: Request, state: SandboxState) -> Response:
    """GET /crm/v8/{module}?fields=...: v8 requires the fields to return."""
    module = _module(request)
    requested = [name.strip() for name in request.query_params.get("fields", "").split(",")
                 if name.strip()]
    if not requested:
        raise crm_error(400, "REQUIRED_PARAM_MISSING", "required param is missing",
                        {"param_name": "fields"})
    if len(requested) > MAX_FIELDS_PER_READ:
        raise crm_error(400, "LIMIT_EXCEEDED", "limit exceeded",
                        {"limit": MAX_FIELDS_PER_READ, "param_name": "fields"})
    page, per_page = _page_params(request)
    with state.lock:
        newest_first = sorted(state.collection("crm", module).values(),
                              key=lambda record: int(record["id"]), reverse=True)
        rows = [{"id": record["id"], **{name: record.get(name) for name in requested}}
                for record in newest_first]
    return _page_reply(rows, page, per_page, {
        "sort_by": "id", "sort_order": "desc", "next_page_token": None,
        "previous_page_token": None, "page_token_expiry": None})


Predicate = Callable[[dict[str, Any]], bool]


async def search_records(request: Request, state: SandboxState) -> Response:
    """GET /crm/v8/{module}/search with email, phone, word or criteria=(Field:equals:value)."""
    module = _module(request)
    page, per_page = _page_params(request)
    matches = _search_predicate(request.query_params)
    with state.lock:
        found = [dict(record) for record in state.collection("crm", module).values()
                 if matches(record)]
    return _page_reply(found, page, per_page)


def _search_predicate(params: Mapping[str, str]) -> Predicate:
    if "email" in params:
        email = params["email"]
        return lambda record: any(_same(record.get(name), email)
                                  for name in ("Email", "Secondary_Email"))
    if "phone" in params:
        phone = params["phone"]
        return lambda record: any(record.get(name) == phone for name in ("Phone", "Mobile"))
    if "word" in params:
        word = params["word"].casefold()
        return lambda record: any(isinstance(value, str) and word in value.casefold()
                                  for value in record.values())
    if "criteria" in params:
        return _criteria_predicate(params["criteria"])
    raise crm_error(400, "REQUIRED_PARAM_MISSING", "required param is missing",
                    {"param_name": "criteria/email/phone/word"})


_CONDITION = re.compile(r"^\(?\s*(\w+)\s*:\s*(equals|starts_with)\s*:\s*(.*?)\s*\)?$")


def _criteria_predicate(criteria: str) -> Predicate:
    """Conditions like ``(Email:equals:a@b.in)`` joined by ``and``."""
    conditions = []
    for part in re.split(r"\)\s*and\s*\(", criteria.strip()):
        parsed = _CONDITION.match(part.strip())
        if parsed is None:
            raise crm_error(400, "INVALID_QUERY", "invalid query formed",
                            {"reason": "invalid criteria", "criteria": criteria})
        conditions.append(parsed.groups())

    def matches(record: dict[str, Any]) -> bool:
        for name, operator, value in conditions:
            actual = record.get(name)
            if operator == "equals" and not _same(actual, value):
                return False
            if operator == "starts_with" and not (
                    isinstance(actual, str) and actual.casefold().startswith(value.casefold())):
                return False
        return True

    return matches


async def get_record(request: Request, state: SandboxState) -> Response:
    """GET /crm/v8/{module}/{id}: 204 when there is no such record."""
    module = _module(request)
    with state.lock:
        record = state.collection("crm", module).get(request.path_params["record_id"])
        if record is None:
            return Response(status_code=204)
        return JSONResponse({"data": [dict(record)]})


def crm_routes() -> list[Route]:
    service = CrmService()
    return [
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
