"""A Books sandbox over real HTTP and clients against it, for the Books sync tests.

Test modules take the fixtures with ``from kn_zoho_tests.sync.books_fixtures import *``.
The sandbox gets a high per-minute limit and the clients a matching rate limit: the tests
count calls rather than wait out Zoho's 100 calls a minute (the acceptance run makes ~850).
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import pytest
import requests
import sqlalchemy as sa
from cryptography.fernet import Fernet

from kn_zoho.sandbox import credentials
from kn_zoho.sandbox.config import SandboxConfig
from kn_zoho.sandbox.server import RunningSandbox, start_sandbox
from kn_zoho.zoho.config import ZohoConfig
from kn_zoho.zoho.factory import ZohoClients, build_zoho_clients
from kn_zoho.zoho.http import HttpSettings
from kn_zoho.zoho.ratelimit import RateLimit

__all__ = ["books_clients", "books_sandbox", "books_sandbox_server"]

ORGANIZATION_STATE = "KA"  # the sandbox organization's state (intra-state GST inside it)
SECRET_KEY = Fernet.generate_key()  # one key: clients built in one test share the stored token
NO_FAULTS = {"error_rate": 0, "lost_response_rate": 0, "latency_ms": 0, "timeout_rate": 0}


class BooksSandbox:
    """The sandbox's admin API: what Books holds, call counters, faults."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self._session = requests.Session()

    def _post(self, path: str, body: dict[str, Any]) -> None:
        self._session.post(self.base_url + path, json=body, timeout=10).raise_for_status()

    def records(self, kind: str) -> list[dict[str, Any]]:
        reply = self._session.get(f"{self.base_url}/__sandbox/records/{kind}", timeout=10)
        reply.raise_for_status()
        return reply.json()

    def calls(self) -> Counter[str]:
        """Books API calls by endpoint, e.g. 'POST /books/v3/invoices'."""
        stats = self._session.get(f"{self.base_url}/__sandbox/stats", timeout=10).json()
        return Counter({endpoint: n for endpoint, n in stats["requests_by_endpoint"].items()
                        if "/books/" in endpoint})

    def faults(self, **faults: float) -> None:
        self._post("/__sandbox/faults", faults)

    def reset(self) -> None:
        self._post("/__sandbox/reset", {})


@pytest.fixture(scope="session")
def books_sandbox_server() -> Iterator[RunningSandbox]:
    config = SandboxConfig(seed=5, rate_limit_per_minute=1_000_000, daily_limit=100_000_000,
                           books_concurrency=50, organization_state=ORGANIZATION_STATE)
    with start_sandbox(config) as server:
        yield server


@pytest.fixture
def books_sandbox(books_sandbox_server: RunningSandbox) -> Iterator[BooksSandbox]:
    sandbox = BooksSandbox(books_sandbox_server.base_url)
    sandbox.reset()
    yield sandbox
    sandbox.faults(**NO_FAULTS)


def make_clients(engine: sa.Engine, sandbox: BooksSandbox) -> ZohoClients:
    """Clients on the test database (token store, rate limiter) talking to the sandbox."""
    config = ZohoConfig(client_id=credentials.DEMO_CLIENT_ID,
                        client_secret=credentials.DEMO_CLIENT_SECRET,
                        refresh_token=credentials.DEMO_REFRESH_TOKEN,
                        books_organization_id=credentials.DEMO_ORGANIZATION_ID,
                        accounts_url=sandbox.base_url)
    settings = HttpSettings(backoff_base=0.001, backoff_max=0.01, read_timeout=5,
                            books_rate_limit=RateLimit(1_000_000))
    return build_zoho_clients(engine, config, secret_key=SECRET_KEY, settings=settings)


@pytest.fixture
def books_clients(engine: sa.Engine, books_sandbox: BooksSandbox) -> Iterator[ZohoClients]:
    clients = make_clients(engine, books_sandbox)
    yield clients
    clients.close()


def losing_first_reply(sandbox: BooksSandbox, call: Callable[..., Any]) -> Callable[..., Any]:
    """``call`` whose first invocation is stored by Books but every reply to it is lost (the
    client's own retries too); later invocations go through."""
    calls: list[int] = []

    def lossy(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        if len(calls) > 1:
            return call(*args, **kwargs)
        sandbox.faults(lost_response_rate=1.0)
        try:
            return call(*args, **kwargs)
        finally:
            sandbox.faults(lost_response_rate=0)

    return lossy


def attempt_in_two_runs(engine: sa.Engine, sandbox: BooksSandbox, clients: ZohoClients,
                        claims: Sequence[Any]) -> list[dict[str, Any]]:
    """Two runs attempt the same invoice claims at the same moment, each with its own clients
    (the worst overlap); returns each run's outcomes, in the order the runs finished."""
    from kn_zoho.sync.books import InvoicesFlow

    both = [clients, make_clients(engine, sandbox)]
    results: list[dict[str, Any]] = []

    def work(index: int) -> None:
        results.append(InvoicesFlow(both[index].books).attempt(engine, claims, force=False))

    threads = [threading.Thread(target=work, args=(index,)) for index in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    both[1].close()
    return results
