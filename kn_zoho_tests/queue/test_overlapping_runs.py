"""Four runs overlapping on the same queue while their leases keep breaking under them (as if
their heartbeats lapsed) make hardly more Zoho calls than one run doing the work alone: a run
never attempts a record whose lease it lost, and what a taker redoes is adopted."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from kn_zoho.storefront import db
from kn_zoho.storefront.seed import seed
from kn_zoho.sync.books import InvoicesFlow
from kn_zoho.sync.runner import run_flow
from kn_zoho_tests.conftest import _create_database, _drop_database, _with_database
from kn_zoho_tests.sync.books_fixtures import *  # noqa: F403 - pytest fixtures
from kn_zoho_tests.sync.books_fixtures import BooksSandbox, make_clients
from kn_zoho_tests.sync.test_books_exactly_once import _assert_once_each

LEASE_SECONDS = 1.0
RUNS = 4


@pytest.fixture(autouse=True)
def _short_leases(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KN_ZOHO_LEASE_SECONDS", str(LEASE_SECONDS))
    monkeypatch.setenv("KN_ZOHO_HEARTBEAT_SECONDS", "0.25")


@pytest.fixture
def second_engine(admin_engine: sa.Engine, pg_server_url: str, template_database: str
                  ) -> Iterator[sa.Engine]:
    name = _create_database(admin_engine, template=template_database)
    engine = db.create_engine(_with_database(pg_server_url, name))
    yield engine
    engine.dispose()
    _drop_database(admin_engine, name)


def _seed(engine: sa.Engine) -> list[str]:
    seed(engine, users=60, products=12, orders=200, paid_fraction=1.0, quote_requests=0,
         inquiries=0)
    with engine.connect() as conn:
        return list(conn.execute(sa.text("SELECT order_number FROM orders")).scalars())


def _calls(sandbox: BooksSandbox) -> int:
    return sum(sandbox.calls().values())


def _overlapping(engine: sa.Engine, sandbox: BooksSandbox) -> int:
    """Four runs at once, one run's leases broken every 0.3 s in turn; returns the breaks."""
    done = threading.Event()
    breaks = []

    def run(index: int) -> None:
        clients = make_clients(engine, sandbox)
        try:
            run_flow(engine, InvoicesFlow(clients.books), run_id=f"run-{index}",
                     batch_size=10, retry_base=0)
        finally:
            clients.close()

    def breaker() -> None:
        victim = 0
        while not done.wait(0.3):
            with engine.begin() as conn:
                broken = conn.execute(sa.text(
                    "UPDATE integration.zoho_sync_queue "
                    "SET claimed_until = now() - interval '1 second' "
                    "WHERE claimed_by = :run AND status = 'in_progress'"),
                    {"run": f"run-{victim}"}).rowcount
            if broken:
                breaks.append(broken)
            victim = (victim + 1) % RUNS

    threads = [threading.Thread(target=run, args=(i,)) for i in range(RUNS)]
    breaking = threading.Thread(target=breaker)
    breaking.start()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    done.set()
    breaking.join()
    return len(breaks)


@pytest.mark.slow
def test_four_overlapping_runs_with_breaking_leases_make_at_most_1_1x_the_calls_of_one(
        engine: sa.Engine, second_engine: sa.Engine, books_sandbox, books_clients) -> None:
    numbers = _seed(engine)
    books_sandbox.faults(latency_ms=2)
    start = _calls(books_sandbox)
    run_flow(engine, InvoicesFlow(books_clients.books), retry_base=0)
    one_run = _calls(books_sandbox) - start
    _assert_once_each(engine, books_sandbox, numbers)

    books_sandbox.reset()
    books_sandbox.faults(latency_ms=2)
    assert _seed(second_engine) == numbers
    start = _calls(books_sandbox)
    broken = _overlapping(second_engine, books_sandbox)
    time.sleep(LEASE_SECONDS)  # a lease broken at the very end runs out
    clients = make_clients(second_engine, books_sandbox)
    try:  # whatever a pass left for later (the queue would bring it back)
        run_flow(second_engine, InvoicesFlow(clients.books), retry_base=0)
    finally:
        clients.close()
    overlapping = _calls(books_sandbox) - start
    _assert_once_each(second_engine, books_sandbox, numbers)
    print(f"one run: {one_run} calls; {RUNS} overlapping runs, {broken} lease breaks: "
          f"{overlapping} calls ({overlapping / one_run:.3f}x)")
    assert broken >= RUNS
    assert overlapping <= 1.1 * one_run
