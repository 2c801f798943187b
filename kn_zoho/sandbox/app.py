"""The sandbox as one ASGI app: accounts server, CRM v8 and Books v3 under one base URL,
plus the /__sandbox admin API."""

from __future__ import annotations

import re
import time
from collections.abc import Callable

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from kn_zoho.sandbox.admin import ADMIN_PREFIX, admin_routes
from kn_zoho.sandbox.books import books_routes
from kn_zoho.sandbox.books_organizations import organization_routes
from kn_zoho.sandbox.config import SandboxConfig
from kn_zoho.sandbox.crm import crm_routes
from kn_zoho.sandbox.oauth import token_endpoint
from kn_zoho.sandbox.state import SandboxState

_ID_SEGMENT = re.compile(r"/\d+(?=/|$)")


def endpoint_key(method: str, path: str) -> str:
    """How stats name an endpoint: 'GET /books/v3/invoices/{id}' (numeric ids folded)."""
    return f"{method} {_ID_SEGMENT.sub('/{id}', path)}"


class RequestCounter:
    """Counts every request except the admin API's, before anything can refuse it."""

    def __init__(self, app: ASGIApp, state: SandboxState) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not scope["path"].startswith(ADMIN_PREFIX):
            with self.state.lock:
                self.state.stats.requests_total += 1
                self.state.stats.requests_by_endpoint[
                    endpoint_key(scope["method"], scope["path"])] += 1
        await self.app(scope, receive, send)


async def _http_error(request: Request, error: HTTPException) -> Response:
    """Unknown paths and methods, worded like the service the path belongs to."""
    path = request.url.path
    if path.startswith("/crm/"):
        if error.status_code == 405:
            body = {"code": "INVALID_REQUEST_METHOD", "details": {},
                    "message": "The http request method type is not a valid one",
                    "status": "error"}
            return JSONResponse(body, status_code=400)
        return JSONResponse({"code": "INVALID_URL_PATTERN", "details": {},
                             "message": "Please check if the URL trying to access is a "
                                        "correct one", "status": "error"}, status_code=404)
    if path.startswith("/books/"):
        if error.status_code == 405:
            return JSONResponse({"code": 37, "message": "The HTTP method is not allowed for "
                                                        "the requested resource"},
                                status_code=405)
        return JSONResponse({"code": 5, "message": "Invalid URL Passed"}, status_code=404)
    return JSONResponse({"error": error.detail}, status_code=error.status_code)


def create_app(config: SandboxConfig | None = None, *,
               clock: Callable[[], float] = time.time) -> Starlette:
    """A fresh sandbox; its state is ``app.state.sandbox``."""
    state = SandboxState(config, clock)
    routes = [Route("/oauth/v2/token", token_endpoint, methods=["POST"]),
              *crm_routes(), *books_routes(), *organization_routes(),
              *admin_routes()]
    app = Starlette(routes=routes,
                    middleware=[Middleware(RequestCounter, state=state)],
                    exception_handlers={404: _http_error, 405: _http_error})
    app.state.sandbox = state
    return app
