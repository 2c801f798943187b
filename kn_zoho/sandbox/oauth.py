"""The accounts server: the refresh-token grant, its throttle, token lifetime and checks.

Zoho lets one refresh token mint about 10 access tokens per 10 minutes (a sliding window
here) and keeps at most 15 of them alive (a new one retires the oldest); both are config
knobs. Token errors come back as JSON ``{"error": ...}``, mostly with HTTP 200, as Zoho does.
"""

from __future__ import annotations

import enum
import hashlib
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse

from kn_zoho.sandbox.credentials import CLIENT_SECRETS, REFRESH_TOKEN_CLIENTS
from kn_zoho.sandbox.state import SandboxState, sandbox_state

SCOPE = "ZohoCRM.modules.ALL,ZohoBooks.fullaccess.all"
THROTTLED = {
    "error": "Access Denied",
    "error_description": "You have made too many requests continuously. "
                         "Please try again after some time.",
}
AUTH_SCHEME = "Zoho-oauthtoken "


class TokenCheck(enum.Enum):
    """The verdict on a call's Authorization header."""

    VALID = "valid"
    MISSING = "missing"   # no header, or not the Zoho-oauthtoken scheme
    INVALID = "invalid"   # unknown, expired or retired token


async def token_endpoint(request: Request) -> JSONResponse:
    """POST /oauth/v2/token: parameters in the query string or a form body, as Zoho takes them."""
    state = sandbox_state(request)
    params: dict[str, Any] = dict(request.query_params)
    if request.headers.get("content-type", "").startswith(
            ("application/x-www-form-urlencoded", "multipart/form-data")):
        params.update((await request.form()).items())
    if params.get("grant_type") != "refresh_token":
        return JSONResponse({"error": "unsupported_grant_type"})
    client_id = params.get("client_id")
    if client_id not in CLIENT_SECRETS or CLIENT_SECRETS[client_id] != params.get(
            "client_secret"):
        return JSONResponse({"error": "invalid_client"})
    refresh_token = params.get("refresh_token")
    if REFRESH_TOKEN_CLIENTS.get(refresh_token or "") != client_id:
        return JSONResponse({"error": "invalid_code"})
    access_token = mint_access_token(state, refresh_token)
    if access_token is None:
        return JSONResponse(THROTTLED, status_code=400)
    return JSONResponse({
        "access_token": access_token,
        "scope": SCOPE,
        "api_domain": str(request.base_url).rstrip("/"),
        "token_type": "Bearer",
        "expires_in": int(state.config.token_ttl_seconds),
    })


def mint_access_token(state: SandboxState, refresh_token: str) -> str | None:
    """Issue an access token for refresh_token, or None when the throttle refuses."""
    config = state.config
    with state.lock:
        now = state.now()
        data = state.data
        mints = [t for t in data["token_mints"].get(refresh_token, [])
                 if now - t < config.refresh_window_seconds]
        data["token_mints"][refresh_token] = mints
        if len(mints) >= config.refresh_limit:
            state.stats.token_refresh_denied += 1
            return None
        tokens = data["access_tokens"]
        for token, info in list(tokens.items()):
            if info["expires_at"] <= now:
                del tokens[token]
        live = sorted((info["serial"], token) for token, info in tokens.items()
                      if info["refresh_token"] == refresh_token)
        while live and len(live) >= config.max_live_tokens:
            del tokens[live.pop(0)[1]]
        data["token_counter"] += 1
        serial = data["token_counter"]
        token = _token_value(config.seed, serial)
        tokens[token] = {"refresh_token": refresh_token, "serial": serial,
                         "issued_at": now, "expires_at": now + config.token_ttl_seconds}
        mints.append(now)
        state.stats.token_refreshes += 1
        state.stats.issued_access_tokens.append(token)
        state.save()
        return token


def check_authorization(state: SandboxState, header: str | None) -> TokenCheck:
    """Whether an ``Authorization: Zoho-oauthtoken <token>`` header carries a live token."""
    if not header or not header.startswith(AUTH_SCHEME):
        return TokenCheck.MISSING
    token = header[len(AUTH_SCHEME):].strip()
    with state.lock:
        info = state.data["access_tokens"].get(token)
        if info is None or info["expires_at"] <= state.now():
            return TokenCheck.INVALID
    return TokenCheck.VALID


def expire_all_tokens(state: SandboxState) -> int:
    """Make every live access token expire now; returns how many were live."""
    with state.lock:
        now = state.now()
        live = [info for info in state.data["access_tokens"].values() if info["expires_at"] > now]
        for info in live:
            info["expires_at"] = now
        state.save()
        return len(live)


def _token_value(seed: int, serial: int) -> str:
    """A Zoho-shaped token (1000.<32 hex>.<32 hex>), unique per serial, repeatable per seed."""
    def part(label: str) -> str:
        return hashlib.sha256(f"{seed}:{serial}:{label}".encode()).hexdigest()[:32]
    return f"1000.{part('id')}.{part('signature')}"
