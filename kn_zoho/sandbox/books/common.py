"""What every Books endpoint shares: the envelope, error replies, body and number parsing,
organization and limit checks, and paginated lists with Books' filter variants.

Codes Zoho documents: 0 success, 1000 internal error, 1002 does not exist, and the HTTP
statuses 400/401/404/405/429/500 (https://www.zoho.com/books/api/v3/errors/). Codes taken
from what clients of the live API report: 2 "Invalid value passed for ...", 14 no
credentials, 57 not authorized (bad token), 6041 unknown organization, 44/45/1070
per-minute/daily/concurrency limits. 1001 "already exists": no Books v3 page lists it; the
closest documented source is Zoho Invoice's API, which shares Books' backend and lists "1001
Invoice Number already exist" (https://www.zoho.com/invoice/api/v3/invoices/). Codes no Zoho
page documents, chosen by the sandbox: 4 missing value, 15 too long, 3062 contact name
already exists (only reported by clients), 1038 malformed JSON, 5 unknown URL, 37 wrong
method. Because of that, the sync never relies on a code alone to detect a duplicate: after
any permanent refusal of a create it looks the record up by its key (kn_zoho/sync/books).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Iterable, Mapping
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from kn_zoho.sandbox.credentials import DEMO_ORGANIZATION_ID
from kn_zoho.sandbox.limits import Refusal, RequestLimiter
from kn_zoho.sandbox.oauth import TokenCheck
from kn_zoho.sandbox.pipeline import ApiError, Service
from kn_zoho.sandbox.state import SandboxState

MAX_PER_PAGE = 200

LIMIT_REPLIES = {
    Refusal.PER_MINUTE: (44, "You have made too many requests per minute for this "
                             "organization. Please try again after some time."),
    Refusal.DAILY: (45, "You have reached the maximum number of API requests allowed for "
                        "this organization today. Please try again tomorrow."),
    Refusal.CONCURRENCY: (1070, "You have reached the maximum number of concurrent API "
                                "requests for this organization. Please try again after "
                                "some time."),
}


def books_error(status: int, code: int, message: str) -> ApiError:
    return ApiError(JSONResponse({"code": code, "message": message}, status_code=status))


def invalid(field: str) -> ApiError:
    return books_error(400, 2, f"Invalid value passed for {field}")


def missing(field: str) -> ApiError:
    return books_error(400, 4, f"Please enter a value for {field}.")


def too_long(field: str, limit: int) -> ApiError:
    return books_error(400, 15, f"Please ensure that the {field} has less than {limit} "
                                "characters.")


def not_found(resource: str, status: int = 404) -> ApiError:
    """1002; 404 for the record in the URL, 400 for an id given in the body."""
    return books_error(status, 1002, f"{resource} does not exist.")


def already_exists(message: str, code: int = 1001) -> ApiError:
    """1001: not on any Books v3 page; Zoho Invoice's API (same backend) documents "1001
    Invoice Number already exist" (https://www.zoho.com/invoice/api/v3/invoices/), and 12018
    for a credit note number (https://www.zoho.com/invoice/api/v3/credit-notes/)."""
    return books_error(400, code, message)


class BooksService(Service):
    """Books' request-level errors: ``{"code": <int>, "message": "..."}``."""

    def limiter(self, state: SandboxState) -> RequestLimiter:
        return state.books_limiter

    def auth_failure(self, check: TokenCheck) -> Response:
        if check is TokenCheck.MISSING:
            return books_error(401, 14, "The request could not be authenticated as the "
                                        "authentication value you entered is invalid. Enter a "
                                        "valid authentication value and try again.").response
        return books_error(401, 57, "You are not authorized to perform this operation").response

    def limit_refusal(self, refusal: Refusal) -> Response:
        code, message = LIMIT_REPLIES[refusal]
        return books_error(429, code, message).response

    def internal_error(self) -> Response:
        return books_error(500, 1000, "Internal error").response

    def precheck(self, request: Request, state: SandboxState) -> Response | None:
        organization_id = request.query_params.get("organization_id", "").strip()
        if not organization_id:
            return invalid("organization_id").response
        if organization_id != DEMO_ORGANIZATION_ID:
            return books_error(400, 6041, "This user is not associated with the "
                                          f"CompanyID/CompanyName:{organization_id}.").response
        return None

    def finish(self, response: Response, state: SandboxState) -> Response:
        allowance = state.books_limiter.allowance(state.now())
        if allowance is not None:
            response.headers["X-Rate-Limit-Limit"] = str(allowance.limit)
            response.headers["X-Rate-Limit-Remaining"] = str(allowance.remaining)
            response.headers["X-Rate-Limit-Reset"] = str(allowance.reset_seconds)
        return response


SERVICE = BooksService()


# --- replies ----------------------------------------------------------------------------------

def reply(message: str, resource: str, record: Any, status: int = 200) -> JSONResponse:
    """Books' success envelope; creates answer 201."""
    return JSONResponse({"code": 0, "message": message, resource: record}, status_code=status)


def message_reply(message: str) -> JSONResponse:
    """Books' envelope for an action that returns no record."""
    return JSONResponse({"code": 0, "message": message})


def copy(record: Any) -> Any:
    """A detached copy of stored JSON, safe to send after the lock is released."""
    return json.loads(json.dumps(record))


# --- request parsing --------------------------------------------------------------------------

async def read_payload(request: Request) -> dict[str, Any]:
    """The request's JSON object: a JSON body, or the ``JSONString`` form field Books accepts."""
    content_type = request.headers.get("content-type", "")
    if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        text = (await request.form()).get("JSONString", "")
    else:
        text = (await request.body()).decode("utf-8", errors="replace")
    if not isinstance(text, str) or not text.strip():
        return {}
    try:
        payload = json.loads(text)
    except ValueError:
        payload = None
    if not isinstance(payload, dict):
        raise books_error(400, 1038, "JSON is not well formed")
    return payload


def decimal_value(value: Any, field: str) -> Decimal:
    """A number given as JSON number or numeric string; Zoho refuses anything else."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise invalid(field)
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        raise invalid(field) from None
    if not number.is_finite():
        raise invalid(field)
    return number


def optional_text(payload: Mapping[str, Any], field: str, limit: int) -> str:
    """A text field, '' when absent; too long or not text is refused."""
    value = payload.get(field)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise invalid(field)
    if len(value) > limit:
        raise too_long(field, limit)
    return value.strip()


def required_text(payload: Mapping[str, Any], field: str, limit: int) -> str:
    value = optional_text(payload, field, limit)
    if not value:
        raise missing(field)
    return value


def required_value(payload: Mapping[str, Any], field: str, label: str | None = None) -> Any:
    """payload[field]; missing (code 4, naming ``label or field``) when absent or empty."""
    value = payload.get(field)
    if value is None or value == "":
        raise missing(label or field)
    return value


def iso_date(value: Any, field: str, default: str) -> str:
    """A yyyy-mm-dd date, or default when absent."""
    if value in (None, ""):
        return default
    try:
        return date.fromisoformat(str(value)).isoformat()
    except ValueError:
        raise invalid(field) from None


def boolean(value: Any, field: str, default: bool = False) -> bool:
    if value is None:
        return default
    if not isinstance(value, bool):
        raise invalid(field)
    return value


def money(amount: Decimal) -> float:
    """A stored amount: a JSON number, as Books sends them."""
    return float(amount)


def find_by(records: Iterable[dict[str, Any]], field: str, value: str) -> dict[str, Any] | None:
    """The record whose field equals value, ignoring case (Books' names and numbers are)."""
    wanted = value.strip().casefold()
    for record in records:
        if str(record.get(field) or "").strip().casefold() == wanted:
            return record
    return None


# --- lists ------------------------------------------------------------------------------------

Predicate = Callable[[dict[str, Any]], bool]


def list_reply(request: Request, records: list[dict[str, Any]], resource: str,
               report_name: str, filters: Iterable[str] = (),
               search_fields: Iterable[str] = (),
               applied_filter: str = "Status.All") -> JSONResponse:
    """A page of records, newest first, filtered the way Books' list APIs filter.

    Each name in ``filters`` matches exactly (ignoring case) and has ``_startswith`` and
    ``_contains`` variants; ``search_text`` looks for a substring in ``search_fields`` (and is
    ignored where the endpoint documents none). Any other query parameter filters nothing,
    the realistic stricter reading of an undocumented filter: a client that relies on one
    gets every record back and must match on its side.
    """
    params = request.query_params
    page, per_page = _page_params(params)
    predicates = _predicates(params, filters, search_fields)
    selected = [record for record in reversed(records)
                if all(predicate(record) for predicate in predicates)]
    start = (page - 1) * per_page
    page_context = {
        "page": page, "per_page": per_page, "has_more_page": start + per_page < len(selected),
        "report_name": report_name, "applied_filter": applied_filter,
        "sort_column": "created_time", "sort_order": "D",
    }
    return JSONResponse({"code": 0, "message": "success",
                         resource: copy(selected[start:start + per_page]),
                         "page_context": page_context})


def _page_params(params: Mapping[str, str]) -> tuple[int, int]:
    try:
        page = int(params.get("page", "1"))
    except ValueError:
        raise invalid("page") from None
    try:
        per_page = int(params.get("per_page", str(MAX_PER_PAGE)))
    except ValueError:
        raise invalid("per_page") from None
    if page < 1:
        raise invalid("page")
    if not 1 <= per_page <= MAX_PER_PAGE:
        raise invalid("per_page")
    return page, per_page


def _text_of(record: dict[str, Any], field: str) -> str:
    return str(record.get(field) or "").casefold()


def _predicates(params: Mapping[str, str], filters: Iterable[str],
                search_fields: Iterable[str]) -> list[Predicate]:
    predicates: list[Predicate] = []
    for field in filters:
        for suffix, test in (("", str.__eq__), ("_startswith", str.startswith),
                             ("_contains", str.__contains__)):
            if field + suffix in params:
                wanted = params[field + suffix].strip().casefold()
                predicates.append(lambda record, field=field, test=test, wanted=wanted:
                                  test(_text_of(record, field), wanted))
    fields = tuple(search_fields)
    if "search_text" in params and fields:
        text = params["search_text"].strip().casefold()
        predicates.append(lambda record: any(text in _text_of(record, field)
                                             for field in fields))
    return predicates


Endpoint = Callable[[Request, SandboxState], Awaitable[Response]]


def create_endpoint(build: Callable[[SandboxState, dict[str, Any]], dict[str, Any]],
                    message: str, resource: str) -> Endpoint:
    """POST handler: build the record from the payload under the lock, persist, reply 201."""

    async def create(request: Request, state: SandboxState) -> Response:
        payload = await read_payload(request)
        with state.lock:
            record = build(state, payload)
            state.save()
            return reply(message, resource, copy(record), 201)

    return create


def get_endpoint(collection: str, id_param: str, label: str, resource: str) -> Endpoint:
    """GET-by-id handler: the record, or Zoho's "does not exist" for ``label``."""

    async def get(request: Request, state: SandboxState) -> Response:
        with state.lock:
            record = state.collection("books", collection).get(request.path_params[id_param])
            if record is None:
                raise not_found(label)
            return reply("success", resource, copy(record))

    return get
