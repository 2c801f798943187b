"""What a Zoho reply means: which product a path belongs to, the reply's body, or the typed
:mod:`~kn_zoho.zoho.errors` exception it stands for (CRM and Books report errors differently),
and ``Retry-After`` in seconds. Kept apart from :class:`~kn_zoho.zoho.http.ZohoHttp`, which sends
the calls, because this is Zoho's documented reply shapes, not our call handling.
"""

from __future__ import annotations

import email.utils
import time
from typing import Any

import requests
from urllib3.exceptions import NewConnectionError

from kn_zoho.zoho.errors import (
    ZohoAuthError,
    ZohoError,
    ZohoNotFoundError,
    ZohoPermanentError,
    ZohoRateLimitError,
    ZohoTransientError,
)

CRM = "crm"
BOOKS = "books"
_BOOKS_RATE_CODES = {44: "per-minute", 45: "daily", 1070: "concurrency"}
_BOOKS_INTERNAL_ERROR = 1000
_BOOKS_NOT_FOUND = 1002
_BOOKS_NOT_AUTHORIZED = 57


def product_of_path(path: str) -> str:
    if path.startswith("/crm/"):
        return CRM
    if path.startswith(("/books/", "/inventory/")):
        # Zoho Inventory serves the same organization with Books' envelope and error shape
        # (its inventory adjustments are the documented ones; see kn_zoho/zoho/books.py).
        return BOOKS
    raise ValueError(f"not a Zoho CRM or Books path: {path!r} (expected /crm/... or /books/...)")


def reply_json(response: requests.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def parse_reply(product: str, response: requests.Response, record_errors: bool) -> dict[str, Any]:
    """The reply body, or the typed error it stands for."""
    status = response.status_code
    if status == 204:
        return {}
    body = reply_json(response)
    if 200 <= status < 300:
        if not body and response.content.strip():
            raise ZohoTransientError(
                f"Zoho {product} sent a reply that is not JSON (HTTP {status})",
                http_status=status, outcome_unknown=True,
            )
        if product == CRM or body.get("code", 0) == 0:
            return body
    elif product == CRM and record_errors and status == 400 and isinstance(body.get("data"), list):
        return body
    retry_after = _retry_after(response.headers.get("Retry-After"))
    if product == CRM:
        raise _crm_error(status, body, retry_after)
    raise _books_error(status, body, retry_after)


def _crm_error(status: int, body: dict[str, Any], retry_after: float | None) -> ZohoError:
    code = body.get("code")
    message = str(body.get("message") or f"HTTP {status}")
    details = body.get("details") if isinstance(body.get("details"), dict) else {}
    common: dict[str, Any] = {"code": code, "http_status": status, "reply": body}
    if status == 429 or code == "TOO_MANY_REQUESTS":
        return ZohoRateLimitError(
            f"Zoho CRM limit reached: {message}", retry_after=retry_after, **common
        )
    if code == "OAUTH_SCOPE_MISMATCH":
        return ZohoAuthError(
            f"the Zoho token lacks the CRM scope for this call ({message}): add "
            "ZohoCRM.modules.ALL to the self client and generate a new ZOHO_REFRESH_TOKEN",
            **common,
        )
    if status == 401:
        return ZohoAuthError(
            f"Zoho CRM refused a freshly refreshed access token ({message}): check that "
            "ZOHO_ACCOUNTS_URL is the account's data centre and the CRM user is active",
            **common,
        )
    if status == 403 or code == "NO_PERMISSION":
        return ZohoAuthError(
            f"the Zoho CRM user behind the token may not do this ({message}): grant the "
            "profile permission for the module",
            **common,
        )
    if status >= 500:
        return ZohoTransientError(
            f"Zoho CRM failed: {message}", outcome_unknown=True, retry_after=retry_after, **common
        )
    if status == 404:
        return ZohoNotFoundError(f"Zoho CRM: {message}", **common)
    return ZohoPermanentError(
        f"Zoho CRM rejected the request: {message}", field=details.get("api_name"), **common
    )


def _books_error(status: int, body: dict[str, Any], retry_after: float | None) -> ZohoError:
    code = body.get("code")
    message = str(body.get("message") or f"HTTP {status}")
    common: dict[str, Any] = {"code": code, "http_status": status, "reply": body}
    if status == 429 or code in _BOOKS_RATE_CODES:
        kind = _BOOKS_RATE_CODES.get(code, "rate") if isinstance(code, int) else "rate"
        return ZohoRateLimitError(
            f"Zoho Books {kind} limit reached: {message}",
            daily=code == 45, retry_after=retry_after, **common,
        )
    if status >= 500 or code == _BOOKS_INTERNAL_ERROR:
        return ZohoTransientError(
            f"Zoho Books failed: {message}", outcome_unknown=True, retry_after=retry_after,
            **common,
        )
    if status == 401 or code == _BOOKS_NOT_AUTHORIZED:
        return ZohoAuthError(
            f"Zoho Books refused the call ({message}): check the self client's scopes "
            "(ZohoBooks.fullaccess.all or the per-module scopes), that "
            "ZOHO_BOOKS_ORGANIZATION_ID belongs to this account, and the user's role",
            **common,
        )
    if status == 404 or code == _BOOKS_NOT_FOUND:
        return ZohoNotFoundError(f"Zoho Books: {message}", **common)
    return ZohoPermanentError(f"Zoho Books rejected the request: {message}", **common)


def _retry_after(header: str | None) -> float | None:
    """``Retry-After`` in seconds, from either of its two formats."""
    if not header:
        return None
    try:
        return max(0.0, float(header))
    except ValueError:
        pass
    try:
        moment = email.utils.parsedate_to_datetime(header)
    except (TypeError, ValueError):
        return None
    return max(0.0, moment.timestamp() - time.time())


def never_sent(exc: requests.ConnectionError) -> bool:
    """True when the connection failed before the request left (safe to send again)."""
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    return isinstance(reason, NewConnectionError)
