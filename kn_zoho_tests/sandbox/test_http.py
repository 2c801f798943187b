"""The sandbox over real HTTP: startup, concurrency limits, hangs, lost replies, the CLI."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
import requests
from click.testing import CliRunner

from kn_zoho.sandbox import (
    DEMO_ORGANIZATION_ID,
    SandboxConfig,
    export_lines,
    start_sandbox,
)
from kn_zoho.sandbox import cli as sandbox_cli
from kn_zoho.sandbox.server import RunningSandbox
from kn_zoho_tests.sandbox.conftest import REFRESH_PARAMS


def _token(sandbox: RunningSandbox) -> str:
    reply = requests.post(f"{sandbox.base_url}/oauth/v2/token", data=REFRESH_PARAMS, timeout=5)
    body = reply.json()
    assert body["api_domain"] == sandbox.base_url
    return body["access_token"]


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Zoho-oauthtoken {token}"}


def test_started_sandbox_serves_oauth_crm_and_books_on_a_free_port() -> None:
    with start_sandbox() as first, start_sandbox() as second:
        assert first.port != second.port
        assert first.base_url.startswith("http://127.0.0.1:")
        token = _token(first)
        upsert = requests.post(f"{first.base_url}/crm/v8/Contacts/upsert", headers=_auth(token),
                               json={"data": [{"Last_Name": "Rao", "Email": "r@x.in"}]},
                               timeout=5)
        assert upsert.status_code == 200
        items = requests.get(f"{first.base_url}/books/v3/items", headers=_auth(token),
                             params={"organization_id": DEMO_ORGANIZATION_ID}, timeout=5)
        assert items.json()["code"] == 0
        assert len(first.state.records("crm_contacts")) == 1
        assert second.state.records("crm_contacts") == []


def _concurrent_calls(url: str, count: int, **kwargs: Any) -> list[requests.Response]:
    replies: list[requests.Response] = []
    lock = threading.Lock()

    def call() -> None:
        reply = requests.get(url, timeout=10, **kwargs)
        with lock:
            replies.append(reply)

    threads = [threading.Thread(target=call) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return replies


@pytest.mark.parametrize(("path", "params", "refused_code"), [
    ("/books/v3/items", {"organization_id": DEMO_ORGANIZATION_ID}, 1070),
    ("/crm/v8/Contacts/search", {"email": "a@x.in"}, "TOO_MANY_REQUESTS"),
])
def test_calls_beyond_the_concurrency_limit_get_429(path: str, params: dict[str, str],
                                                     refused_code: object) -> None:
    config = SandboxConfig(books_concurrency=2, crm_concurrency=2)
    with start_sandbox(config) as sandbox:
        token = _token(sandbox)
        requests.post(f"{sandbox.base_url}/__sandbox/faults", json={"latency_ms": 400},
                      timeout=5)
        replies = _concurrent_calls(sandbox.base_url + path, 5, params=params,
                                    headers=_auth(token))
        refused = [reply for reply in replies if reply.status_code == 429]
        assert len(refused) >= 1 and len(replies) - len(refused) <= 2
        assert {reply.json()["code"] for reply in refused} == {refused_code}
        stats = requests.get(f"{sandbox.base_url}/__sandbox/stats", timeout=5).json()
        assert stats["rate_limited"] == len(refused)


def test_a_hanging_call_times_out_without_storing_anything() -> None:
    with start_sandbox() as sandbox:
        token = _token(sandbox)
        requests.post(f"{sandbox.base_url}/__sandbox/faults",
                      json={"timeout_rate": 1, "timeout_seconds": 1}, timeout=5)
        with pytest.raises(requests.exceptions.ReadTimeout):
            requests.post(f"{sandbox.base_url}/crm/v8/Contacts", headers=_auth(token),
                          json={"data": [{"Last_Name": "Lost"}]}, timeout=0.3)
        assert sandbox.state.records("crm_contacts") == []
        requests.post(f"{sandbox.base_url}/__sandbox/faults", json={"timeout_rate": 0},
                      timeout=5)


def test_a_lost_reply_over_http_is_a_502_page_after_the_write() -> None:
    with start_sandbox() as sandbox:
        token = _token(sandbox)
        requests.post(f"{sandbox.base_url}/__sandbox/faults", json={"lost_response_rate": 1},
                      timeout=5)
        reply = requests.post(
            f"{sandbox.base_url}/books/v3/contacts", headers=_auth(token),
            params={"organization_id": DEMO_ORGANIZATION_ID},
            json={"contact_name": "Stored anyway"}, timeout=5)
        assert reply.status_code == 502
        assert reply.headers["content-type"].startswith("text/html")
        assert [c["contact_name"] for c in sandbox.state.records("books_contacts")] == [
            "Stored anyway"]


def test_export_lines_point_the_client_at_the_sandbox() -> None:
    assert export_lines("http://127.0.0.1:8765/") == [
        "export ZOHO_ACCOUNTS_URL=http://127.0.0.1:8765",
        "export ZOHO_CLIENT_ID=1000.KNBIOSANDBOX",
        "export ZOHO_CLIENT_SECRET=kn-sandbox-client-secret",
        "export ZOHO_REFRESH_TOKEN=1000.kn-sandbox-refresh-token",
        "export ZOHO_BOOKS_ORGANIZATION_ID=60012345678",
    ]


def test_cli_options_reach_the_config(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    served: dict[str, Any] = {}

    def fake_serve(config: SandboxConfig, host: str, port: int) -> None:
        served.update(config=config, host=host, port=port)

    monkeypatch.setattr(sandbox_cli, "serve", fake_serve)
    result = CliRunner().invoke(sandbox_cli.sandbox_command, [
        "--port", "9000", "--rate-limit-per-minute", "5", "--minute-seconds", "2",
        "--token-ttl-seconds", "30", "--seed", "4", "--state-file", str(tmp_path / "s.json")])
    assert result.exit_code == 0, result.output
    assert (served["host"], served["port"]) == ("127.0.0.1", 9000)
    assert served["config"] == SandboxConfig(
        rate_limit_per_minute=5, minute_seconds=2.0, token_ttl_seconds=30.0, seed=4,
        state_file=tmp_path / "s.json")
