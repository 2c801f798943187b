"""What every sandbox CRM endpoint shares: CRM's error shapes, the module check and how
records are matched."""

from __future__ import annotations

import math
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from kn_zoho.sandbox.limits import Refusal, RequestLimiter
from kn_zoho.sandbox.oauth import TokenCheck
from kn_zoho.sandbox.pipeline import ApiError, Service
from kn_zoho.sandbox.state import SandboxState

CRM_MODULES = ("Contacts", "Leads")


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

    async def admit(self, request: Request, state: SandboxState) -> Response | None:
        """Spend the call's API credits (see :class:`~kn_zoho.sandbox.limits.CreditLedger`)."""
        if state.crm_credits is None:
            return None
        if state.crm_credits.try_charge(state.now(), await credit_cost(request)):
            return None
        return crm_error(429, "TOO_MANY_REQUESTS",
                         "You have exhausted the API credits of this 24-hour window.").response

    def finish(self, response: Response, state: SandboxState) -> Response:
        if state.crm_credits is not None:
            remaining = state.crm_credits.remaining_if_half_used(state.now())
            if remaining is not None:
                response.headers["X-API-CREDITS-REMAINING"] = str(remaining)
        return response


async def credit_cost(request: Request) -> int:
    """1 credit a call; an insert, update or upsert 1 per 10 records (shared/ZOHO_FACTS.md)."""
    if request.method not in ("POST", "PUT"):
        return 1
    try:
        body = await request.json()
    except ValueError:
        return 1  # the handler refuses the body; the call still costs its credit
    records = body.get("data") if isinstance(body, dict) else None
    return max(1, math.ceil(len(records) / 10)) if isinstance(records, list) else 1


def crm_error(status: int, code: str, message: str,
              details: dict[str, Any] | None = None) -> ApiError:
    return ApiError(JSONResponse(
        {"code": code, "details": details or {}, "message": message, "status": "error"},
        status_code=status))


def item_error(code: str, message: str, **details: Any) -> dict[str, Any]:
    return {"code": code, "details": details, "message": message, "status": "error"}


class RecordError(Exception):
    """One record of a batch failed; ``item`` is its entry in the reply's data list."""

    def __init__(self, item: dict[str, Any]) -> None:
        super().__init__(item["code"])
        self.item = item


def module_of(request: Request) -> str:
    module = request.path_params["module"]
    if module not in CRM_MODULES:
        raise crm_error(400, "INVALID_MODULE", "the module name given seems to be invalid",
                        {"resource_path_index": 0})
    return module


def same_value(left: Any, right: Any) -> bool:
    """Zoho's duplicate check ignores letter case in text."""
    if isinstance(left, str) and isinstance(right, str):
        return left.strip().casefold() == right.strip().casefold()
    return left == right


class Records:
    """A module's records during one write request, with an index per field looked up, so a
    batch of 100 costs one pass over the module, not three per record (the benchmarks need a
    sandbox that is never the bottleneck). Only speed: what matches is ``same_value``, checked
    on the live record, exactly as a scan would."""

    def __init__(self, records: dict[str, dict[str, Any]]) -> None:
        self.records = records
        self._by_field: dict[str, dict[Any, set[str]]] = {}
        self._order: dict[str, int] = {}  # insertion order: matches come oldest first

    def get(self, record_id: str) -> dict[str, Any] | None:
        return self.records.get(record_id)

    def matching(self, name: str, value: Any) -> list[dict[str, Any]]:
        key = _index_key(value)
        if key is None:  # not hashable (a list): scan
            return [r for r in self.records.values() if same_value(r.get(name), value)]
        if name not in self._by_field:
            self._by_field[name] = {}
            for position, record_id in enumerate(self.records):
                self._order.setdefault(record_id, position)
                self._add(name, record_id)
        ids = sorted(self._by_field[name].get(key, ()), key=self._order.__getitem__)
        return [self.records[i] for i in ids
                if i in self.records and same_value(self.records[i].get(name), value)]

    def written(self, record_id: str) -> None:
        """A record this request inserted or changed: index its values too (entries of its
        old values are left, the live check above ignores them). Nothing to do before the
        first lookup: building an index reads every record."""
        if not self._by_field:
            return
        self._order.setdefault(record_id, len(self._order))
        for name in self._by_field:
            self._add(name, record_id)

    def _add(self, name: str, record_id: str) -> None:
        key = _index_key(self.records[record_id].get(name))
        if key is not None:
            self._by_field[name].setdefault(key, set()).add(record_id)


def _index_key(value: Any) -> Any:
    """What ``same_value`` compares, hashable: folded text, or the value; None if unhashable."""
    if isinstance(value, str):
        return value.strip().casefold()
    try:
        hash(value)
    except TypeError:
        return None
    return value
