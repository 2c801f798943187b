"""The clients against the local Zoho sandbox over real HTTP (127.0.0.1 only).

These check what unit tests cannot: many processes sharing one token through Postgres, the
refresh after Zoho expires a token, a burst kept under Books' per-minute limit, and that no
secret ends up in a database column or a log line.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import sqlalchemy as sa
from cryptography.fernet import Fernet

from kn_zoho.sandbox import (
    DEMO_CLIENT_ID,
    DEMO_CLIENT_SECRET,
    DEMO_ORGANIZATION_ID,
    DEMO_REFRESH_TOKEN,
    RunningSandbox,
    SandboxConfig,
    start_sandbox,
)
from kn_zoho.zoho.config import ZohoConfig
from kn_zoho.zoho.factory import ZohoClients, build_zoho_clients
from kn_zoho.zoho.http import HttpSettings
from kn_zoho.zoho.ratelimit import RateLimit
from kn_zoho_tests.zoho.fakes import database_text

CONTACTS_PATH = "/crm/v8/Contacts?fields=Last_Name,Email"
FAST_RETRIES = HttpSettings(backoff_base=0.05, backoff_max=0.5,
                            crm_rate_limit=RateLimit(6000), books_rate_limit=RateLimit(6000))


@pytest.fixture
def sandbox() -> Iterator[RunningSandbox]:
    with start_sandbox(SandboxConfig()) as running:
        yield running


def config_for(sandbox: RunningSandbox) -> ZohoConfig:
    return ZohoConfig(
        client_id=DEMO_CLIENT_ID,
        client_secret=DEMO_CLIENT_SECRET,
        refresh_token=DEMO_REFRESH_TOKEN,
        books_organization_id=DEMO_ORGANIZATION_ID,
        accounts_url=sandbox.base_url,
    )


def clients_for(sandbox: RunningSandbox, engine: sa.Engine,
                settings: HttpSettings = FAST_RETRIES) -> ZohoClients:
    return build_zoho_clients(engine, config_for(sandbox), secret_key=Fernet.generate_key(),
                              settings=settings)


def stats(sandbox: RunningSandbox) -> dict[str, Any]:
    return requests.get(sandbox.base_url + "/__sandbox/stats", timeout=5).json()


def secrets_of(sandbox: RunningSandbox) -> list[str]:
    return [*stats(sandbox)["issued_access_tokens"], DEMO_REFRESH_TOKEN, DEMO_CLIENT_SECRET]


@pytest.mark.slow
def test_twenty_cli_processes_share_one_token(
    sandbox: RunningSandbox, database_url: str, engine: sa.Engine, tmp_path: Path
) -> None:
    env = {
        **os.environ,
        "ZOHO_ACCOUNTS_URL": sandbox.base_url,
        "ZOHO_CLIENT_ID": DEMO_CLIENT_ID,
        "ZOHO_CLIENT_SECRET": DEMO_CLIENT_SECRET,
        "ZOHO_REFRESH_TOKEN": DEMO_REFRESH_TOKEN,
        "ZOHO_BOOKS_ORGANIZATION_ID": DEMO_ORGANIZATION_ID,
        "KN_ZOHO_SECRET_KEY": Fernet.generate_key().decode(),
        "KN_ZOHO_DATA_DIR": str(tmp_path),
    }
    command = [sys.executable, "-m", "kn_zoho.zoho.cli", "GET", CONTACTS_PATH,
               "--database-url", database_url]
    started = time.monotonic()
    processes = [subprocess.Popen(command, env=env, stdout=subprocess.PIPE,  # noqa: S603
                                  stderr=subprocess.PIPE, text=True) for _ in range(20)]
    outputs = [process.communicate(timeout=120) for process in processes]
    duration = time.monotonic() - started
    for process, (_, err) in zip(processes, outputs, strict=True):
        assert process.returncode == 0, err
    counters = stats(sandbox)
    print(f"\n20 processes: token_refreshes={counters['token_refreshes']}, "
          f"rate_limited={counters['rate_limited']}, duration={duration:.1f}s")
    assert counters["token_refreshes"] == 1
    everything = database_text(engine) + "".join(out + err for out, err in outputs)
    for secret in secrets_of(sandbox):
        assert secret not in everything


def test_expired_token_is_refreshed_once(sandbox: RunningSandbox, engine: sa.Engine) -> None:
    clients = clients_for(sandbox, engine)
    clients.crm.search_by_email("Contacts", "nobody@example.com")
    clients.books.list_taxes()
    assert stats(sandbox)["token_refreshes"] == 1
    reply = requests.post(sandbox.base_url + "/__sandbox/faults",
                          json={"expire_tokens_now": True}, timeout=5)
    assert reply.json()["expired_tokens"] == 1
    assert clients.books.list_taxes()  # 401 -> one refresh -> one retry -> success
    clients.crm.search_by_email("Contacts", "nobody@example.com")
    assert stats(sandbox)["token_refreshes"] == 2
    assert clients.tokens.refreshes == 2


@pytest.mark.slow
def test_burst_stays_under_the_books_per_minute_limit(database_url: str,
                                                      engine: sa.Engine) -> None:
    limit = SandboxConfig(rate_limit_per_minute=60, minute_seconds=6)
    with start_sandbox(limit) as sandbox:
        settings = HttpSettings(books_rate_limit=RateLimit(60, period_seconds=6.0),
                                backoff_base=0.5, backoff_max=3.0)
        clients = clients_for(sandbox, engine, settings)
        started = time.monotonic()
        for _ in range(180):
            clients.books.call("GET", "/settings/taxes")
        duration = time.monotonic() - started
        counters = stats(sandbox)
    print(f"\n180 Books calls at 60 per 6 s: sandbox 429s={counters['rate_limited']}, "
          f"client 429s={clients.http.rate_limited}, duration={duration:.1f}s, "
          f"api_calls={clients.http.api_calls}")
    assert counters["rate_limited"] <= 2
    assert clients.http.api_calls["GET /books/v3/settings/taxes"] == 180 + counters["rate_limited"]


def test_no_secret_in_the_database_or_logs(sandbox: RunningSandbox, engine: sa.Engine,
                                           caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    clients = clients_for(sandbox, engine)
    clients.crm.upsert("Contacts", [{"Last_Name": "Rao", "Email": "asha@example.com"}])
    requests.post(sandbox.base_url + "/__sandbox/faults", json={"expire_tokens_now": True},
                  timeout=5)
    assert clients.crm.search_by_email("Contacts", "asha@example.com")
    logging.getLogger("kn_zoho.test").info("token in a message: %s", clients.tokens.get())
    logging.getLogger("kn_zoho.test").info(
        "header Zoho-oauthtoken %s", clients.tokens.get().value)
    assert "Zoho-oauthtoken ***" in caplog.text
    everything = database_text(engine) + caplog.text
    secrets = secrets_of(sandbox)
    assert len(secrets) == 4  # two access tokens were issued
    for secret in secrets:
        assert secret not in everything
