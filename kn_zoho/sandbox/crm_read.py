"""Zoho CRM v8 record reads: list, search and get (https://github.com/zoho/crm-oas v8.0/record).

An empty page or an unknown id answers 204 with no body, as Zoho does.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from kn_zoho.sandbox.crm_common import crm_error, module_of, same_value
from kn_zoho.sandbox.state import SandboxState

MAX_PER_PAGE = 200
MAX_FIELDS_PER_READ = 50


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
    module = module_of(request)
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
    # The OAS types the page tokens as strings: with no next page they are absent, not null.
    return _page_reply(rows, page, per_page, {"sort_by": "id", "sort_order": "desc"})


Predicate = Callable[[dict[str, Any]], bool]


async def search_records(request: Request, state: SandboxState) -> Response:
    """GET /crm/v8/{module}/search with email, phone, word or criteria=(Field:equals:value)."""
    module = module_of(request)
    page, per_page = _page_params(request)
    matches = _search_predicate(request.query_params)
    with state.lock:
        found = [dict(record) for record in state.collection("crm", module).values()
                 if matches(record)]
    return _page_reply(found, page, per_page)


def _search_predicate(params: Mapping[str, str]) -> Predicate:
    if "email" in params:
        email = params["email"]
        return lambda record: any(same_value(record.get(name), email)
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
            if operator == "equals" and not same_value(actual, value):
                return False
            if operator == "starts_with" and not (
                    isinstance(actual, str) and actual.casefold().startswith(value.casefold())):
                return False
        return True

    return matches


async def get_record(request: Request, state: SandboxState) -> Response:
    """GET /crm/v8/{module}/{id}: 204 when there is no such record."""
    module = module_of(request)
    with state.lock:
        record = state.collection("crm", module).get(request.path_params["record_id"])
        if record is None:
            return Response(status_code=204)
        return JSONResponse({"data": [dict(record)]})
