"""The webhook receiver: Books workflow rules on items, invoices, credit notes and inventory
adjustments POST here, and the next stock pull comes sooner.

Webhooks only shorten the wait: the one-minute schedule is the guarantee, and a pull is
idempotent, so a duplicate, replayed or dropped delivery does no harm. Every request must
carry the shared secret in ``X-KN-Webhook-Secret`` (a Books webhook has a Headers section,
and its "Default Payload" body is the record as application/JSON:
https://zoho.com/books/kb/automation/create-webhook.html ,
https://www.zoho.com/books/help/settings/automation/workflow-actions/webhooks.html ); it is
compared in constant time. Bodies over ``MAX_BODY_BYTES`` get 413, anything but a JSON object
400, an unknown event 404.
"""

from __future__ import annotations

import hmac
import json
import logging
import threading
import time
from collections.abc import Callable

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

SECRET_HEADER = "x-kn-webhook-secret"  # noqa: S105 - a header name, not a secret
MAX_BODY_BYTES = 64 * 1024
EVENTS = frozenset({"item", "invoice", "creditnote", "inventoryadjustment"})

log = logging.getLogger(__name__)


class EarlyPull:
    """Runs ``pull`` in a background thread at most once per ``debounce_seconds``, however
    many requests arrive: requests within the window coalesce into one pull."""

    def __init__(self, pull: Callable[[], object], debounce_seconds: float = 10.0) -> None:
        self._pull = pull
        self._debounce = debounce_seconds
        self._wanted = threading.Event()
        self._stop = threading.Event()
        self.pulls = 0
        self._thread = threading.Thread(target=self._run, name="kn-zoho-early-pull",
                                        daemon=True)
        self._thread.start()

    def request(self) -> None:
        self._wanted.set()

    def _run(self) -> None:
        last = float("-inf")
        while not self._stop.is_set():
            if not self._wanted.wait(0.2):
                continue
            wait = last + self._debounce - time.monotonic()
            if wait > 0 and self._stop.wait(wait):
                return
            self._wanted.clear()
            last = time.monotonic()
            try:
                self._pull()
                self.pulls += 1
            except Exception:  # the schedule pulls anyway; never let the thread die
                log.exception("early stock pull failed")

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)


def create_webhook_app(secret: str, early_pull: Callable[[], None]) -> Starlette:
    """The receiver; ``early_pull`` is called (cheaply: it only asks) per accepted delivery."""
    if len(secret) < 16:
        raise ValueError("KN_ZOHO_WEBHOOK_SECRET must be at least 16 characters")
    expected = secret.encode()

    async def receive(request: Request) -> JSONResponse:
        given = request.headers.get(SECRET_HEADER, "").encode()
        if not hmac.compare_digest(given, expected):
            return JSONResponse({"error": "unauthorized"}, status_code=401)
        event = request.path_params["event"]
        if event not in EVENTS:
            return JSONResponse({"error": f"unknown event {event!r}",
                                 "events": sorted(EVENTS)}, status_code=404)
        declared = request.headers.get("content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > MAX_BODY_BYTES):
            return JSONResponse({"error": "body too large"}, status_code=413)
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_BODY_BYTES:
                return JSONResponse({"error": "body too large"}, status_code=413)
        try:
            payload = json.loads(body)
        except ValueError:
            payload = None
        if not isinstance(payload, dict):
            return JSONResponse({"error": "the body must be a JSON object"}, status_code=400)
        early_pull()
        return JSONResponse({"accepted": event}, status_code=202)

    return Starlette(routes=[Route("/webhooks/books/{event}", receive, methods=["POST"])])
