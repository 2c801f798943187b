"""The path every CRM and Books call takes: auth, limits, injected faults, then the handler.

CRM and Books agree on the steps but not on how errors look, so each supplies a
:class:`Service` that renders its own 401s, 429s and 500s.
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from kn_zoho.sandbox.limits import Refusal, RequestLimiter
from kn_zoho.sandbox.oauth import TokenCheck, check_authorization
from kn_zoho.sandbox.state import SandboxState, sandbox_state

Handler = Callable[[Request, SandboxState], Awaitable[Response]]
Endpoint = Callable[[Request], Awaitable[Response]]

# What a client sees when the reply is lost or the call hangs: a proxy's page, not Zoho JSON.
LOST_REPLY = "<html><body><h1>502 Bad Gateway</h1></body></html>"
TIMED_OUT_REPLY = "<html><body><h1>504 Gateway Time-out</h1></body></html>"


class ApiError(Exception):
    """A request-level failure; ``response`` is the reply Zoho would send."""

    def __init__(self, response: Response) -> None:
        super().__init__(response.status_code)
        self.response = response


class Service(ABC):
    """How one Zoho service (CRM or Books) words its request-level errors."""

    @abstractmethod
    def limiter(self, state: SandboxState) -> RequestLimiter: ...

    @abstractmethod
    def auth_failure(self, check: TokenCheck) -> Response: ...

    @abstractmethod
    def limit_refusal(self, refusal: Refusal) -> Response: ...

    @abstractmethod
    def internal_error(self) -> Response: ...

    def precheck(self, request: Request, state: SandboxState) -> Response | None:
        """A service-specific refusal before the call is counted against limits."""
        return None

    async def admit(self, request: Request, state: SandboxState) -> Response | None:
        """A refusal of a call already within the request limits (e.g. CRM's credits)."""
        return None

    def finish(self, response: Response, state: SandboxState) -> Response:
        """Last touches on every admitted reply (e.g. rate-limit headers)."""
        return response


def zoho_endpoint(service: Service, handler: Handler) -> Endpoint:
    """Wrap a handler so it runs the way a Zoho API call does."""

    async def endpoint(request: Request) -> Response:
        state = sandbox_state(request)
        check = check_authorization(state, request.headers.get("authorization"))
        if check is not TokenCheck.VALID:
            return service.auth_failure(check)
        refused = service.precheck(request, state)
        if refused is not None:
            return refused
        limiter = service.limiter(state)
        refusal = limiter.try_acquire(state.now())
        if refusal is not None:
            with state.lock:
                state.stats.rate_limited += 1
            return service.limit_refusal(refusal)
        try:
            refused = await service.admit(request, state)
            if refused is not None:
                with state.lock:
                    state.stats.rate_limited += 1
                return refused
            return service.finish(await _run(service, handler, request, state), state)
        finally:
            limiter.release()

    return endpoint


async def _run(service: Service, handler: Handler, request: Request,
               state: SandboxState) -> Response:
    plan = state.draw_faults(request.method)
    if plan.latency_seconds:
        await asyncio.sleep(plan.latency_seconds)
    if plan.hang_seconds is not None:
        await asyncio.sleep(plan.hang_seconds)
        return HTMLResponse(TIMED_OUT_REPLY, status_code=504)
    if plan.fail:
        return service.internal_error()
    try:
        response = await handler(request, state)
    except ApiError as error:
        response = error.response
    if plan.lose_response:
        return HTMLResponse(LOST_REPLY, status_code=502)
    return response
