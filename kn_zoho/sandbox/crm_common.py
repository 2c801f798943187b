"""What every sandbox CRM endpoint shares: CRM's error shapes and the module check."""

from __future__ import annotations

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
