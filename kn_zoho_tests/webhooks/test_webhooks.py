"""The Books webhook receiver: secret, size cap, malformed bodies, debounced early pulls."""

from __future__ import annotations

import time
import warnings

import pytest
from starlette.exceptions import StarletteDeprecationWarning

from kn_zoho.webhooks.app import MAX_BODY_BYTES, EarlyPull, create_webhook_app

with warnings.catch_warnings():
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from starlette.testclient import TestClient

SECRET = "s3cret-s3cret-s3cret"


@pytest.fixture
def asked() -> list[int]:
    return []


@pytest.fixture
def client(asked: list[int]) -> TestClient:
    return TestClient(create_webhook_app(SECRET, lambda: asked.append(1)))


def _post(client: TestClient, event: str = "item", body: object = None, secret: str = SECRET,
          **kwargs: object) -> int:
    return client.post(f"/webhooks/books/{event}", headers={"X-KN-Webhook-Secret": secret},
                       json={"item": {"sku": "KNB-BF-0001"}} if body is None else body,
                       **kwargs).status_code


def test_a_good_delivery_asks_for_a_pull(client: TestClient, asked: list[int]) -> None:
    for event in ("item", "invoice", "creditnote", "inventoryadjustment"):
        assert _post(client, event) == 202
    assert len(asked) == 4


def test_bad_deliveries_are_refused_and_ask_nothing(client: TestClient, asked: list[int]
                                                    ) -> None:
    assert _post(client, secret="wrong") == 401
    assert client.post("/webhooks/books/item", json={}).status_code == 401  # no header
    assert _post(client, "contact") == 404
    assert _post(client, body=[1, 2]) == 400
    assert client.post("/webhooks/books/item", headers={"X-KN-Webhook-Secret": SECRET},
                       content=b"{not json").status_code == 400
    assert client.post("/webhooks/books/item", headers={"X-KN-Webhook-Secret": SECRET},
                       content=b"{" + b" " * MAX_BODY_BYTES + b"}").status_code == 413
    assert client.get("/webhooks/books/item").status_code == 405
    assert asked == []


def test_a_short_secret_is_refused_at_start() -> None:
    with pytest.raises(ValueError, match="at least 16"):
        create_webhook_app("short", lambda: None)


def test_duplicate_deliveries_coalesce_into_one_pull() -> None:
    pulls: list[float] = []
    early = EarlyPull(lambda: pulls.append(time.monotonic()), debounce_seconds=0.5)
    try:
        for _ in range(20):  # a burst, with Zoho's duplicate and replayed deliveries
            early.request()
        time.sleep(0.4)
        assert len(pulls) == 1
        early.request()
        early.request()
        time.sleep(0.9)
        assert len(pulls) == 2 and pulls[1] - pulls[0] >= 0.5  # debounced, not dropped
    finally:
        early.close()


def test_the_sandbox_delivers_drops_and_duplicates_webhooks() -> None:
    import threading
    from http.server import BaseHTTPRequestHandler, HTTPServer

    from kn_zoho.sandbox import SandboxState
    from kn_zoho.sandbox.webhooks import configure, notify

    received: list[tuple[str, str | None]] = []

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            received.append((self.path, self.headers.get("X-KN-Webhook-Secret")))
            self.send_response(202)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    state = SandboxState()
    base = f"http://127.0.0.1:{server.server_port}/webhooks/books"
    try:
        with pytest.raises(ValueError, match="loopback"):
            configure(state, {"url": "http://example.com/hook"})
        configure(state, {"url": base, "secret": SECRET})
        notify(state, "item", {"sku": "A"})
        configure(state, {"url": base, "duplicate_rate": 1.0})
        notify(state, "creditnote", {"creditnote_id": "1"})
        configure(state, {"url": base, "drop_rate": 1.0})
        notify(state, "invoice", {"invoice_id": "2"})
        time.sleep(1.0)
        assert sorted(received) == [("/webhooks/books/creditnote", None)] * 2 + [
            ("/webhooks/books/item", SECRET)]
    finally:
        server.shutdown()
