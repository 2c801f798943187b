"""A dropped database connection or an outage is not the records' fault: no attempt used, no
Zoho outcome lost, and the run fails loudly with one error line and its summary."""

from __future__ import annotations

from collections import Counter

import pytest
import sqlalchemy as sa

from kn_zoho.storefront.seed import seed
from kn_zoho.sync.books import InvoicesFlow
from kn_zoho_tests.queue.faults import ConnectionKiller, cli_env, killing, sync_books
from kn_zoho_tests.sync.books_fixtures import *  # noqa: F403 - pytest fixtures
from kn_zoho_tests.sync.test_books_exactly_once import _assert_once_each

# One dropped connection per run, each at another moment: the rate limiter's write before a
# Books call, our bookkeeping of outcomes, the start of an attempt, the write-back of an id.
DROPS = [("zoho_rate_limits", 4), ("UPDATE integration.zoho_sync_queue AS q", 2),
         ("zoho_rate_limits", 9), ("WITH started AS", 3),
         ("UPDATE public.orders SET zoho_books_id", 1)]


def _orders(engine: sa.Engine) -> list[str]:
    seed(engine, users=8, products=6, orders=12, paid_fraction=1.0, quote_requests=0,
         inquiries=0)
    with engine.connect() as conn:
        return list(conn.execute(sa.text("SELECT order_number FROM orders")).scalars())


def test_one_dropped_connection_per_run_for_five_runs(
        engine: sa.Engine, database_url: str, admin_engine: sa.Engine, books_sandbox,
        monkeypatch: pytest.MonkeyPatch) -> None:
    numbers = _orders(engine)
    cli_env(monkeypatch, books_sandbox.base_url)
    for pattern, nth in DROPS:
        with killing(ConnectionKiller(admin_engine, pattern, nth)) as killer:
            result, summary = sync_books(database_url)
        assert killer.fired, (pattern, nth)
        assert result.exit_code == 1, result.output
        assert "error: " in result.stderr and "database connection failed" in summary["error"]
        assert "Traceback" not in result.output
        assert summary["dead"] == 0

    result, summary = sync_books(database_url)
    assert result.exit_code == 0, result.output
    assert (summary["pending"], summary["leased"], summary["queue_dead"],
            summary["queue_failed"]) == (0, 0, 0, 0)
    _assert_once_each(engine, books_sandbox, numbers)
    with engine.connect() as conn:
        queue_rows = conn.execute(sa.text(
            "SELECT entity, status, attempts FROM integration.zoho_sync_queue "
            "WHERE entity LIKE 'books_%'")).all()
        successes = Counter(conn.execute(sa.text(
            "SELECT record_key FROM integration.zoho_sync_logs "
            "WHERE entity = 'books_invoice' AND status = 'success'")).scalars())
        log_statuses = set(conn.execute(sa.text(
            "SELECT status FROM integration.zoho_sync_logs")).scalars())
        runs = conn.execute(sa.text(
            "SELECT DISTINCT run_kind, run_id LIKE 'cli-%' FROM integration.zoho_sync_logs"
        )).all()
    # no record lost an attempt to the drops: each synced on its first counted attempt
    assert {(status, attempts) for _, status, attempts in queue_rows} == {("synced", 1)}
    assert successes == Counter(numbers)  # each confirmed invoice recorded exactly once
    assert "interrupted" in log_statuses and not log_statuses & {"dead", "pending", "failed"}
    assert [tuple(r) for r in runs] == [("cli", True)]  # CLI attempts carry their run id


def test_database_outage_ends_in_one_error_line_and_the_summary(
        engine: sa.Engine, database_url: str, admin_engine: sa.Engine, books_sandbox,
        monkeypatch: pytest.MonkeyPatch) -> None:
    numbers = _orders(engine)
    cli_env(monkeypatch, books_sandbox.base_url)
    # each invoice recorded alone (as with Zoho's real reply times), so the outage comes at
    # the fourth invoice's record
    monkeypatch.setattr(InvoicesFlow, "record_within_seconds", 0.0)
    database = sa.engine.make_url(database_url).database
    try:
        with killing(ConnectionKiller(admin_engine, "UPDATE public.orders SET zoho_books_id",
                                      4, outage=database)):
            result, summary = sync_books(database_url)
    finally:
        with admin_engine.connect() as admin:
            admin.exec_driver_sql(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS true')
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, result.stderr
    assert "database connection failed" in errors[0]
    assert result.stderr.strip().splitlines() == errors, result.stderr
    # what was done before the outage: the six items, then three invoices recorded
    assert summary["by_entity"]["books_item"]["synced"] == 6
    assert summary["by_entity"]["books_invoice"]["synced"] == 3
    assert summary["error"].startswith("books_invoice: database connection failed")
    assert len(books_sandbox.records("books_invoices")) <= len(numbers)

