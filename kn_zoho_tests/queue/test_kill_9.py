"""kill -9 of a real `kn-zoho sync books` process mid-batch: nobody has to do anything, its
records are taken again within a minute (one short lease), and nothing is duplicated."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
import sqlalchemy as sa

from kn_zoho.sandbox import export_lines
from kn_zoho.storefront.seed import seed
from kn_zoho.sync.books import InvoicesFlow
from kn_zoho.sync.runner import run_flow
from kn_zoho_tests.sync.books_fixtures import *  # noqa: F403 - pytest fixtures
from kn_zoho_tests.sync.books_fixtures import SECRET_KEY
from kn_zoho_tests.sync.test_books_exactly_once import _assert_once_each


def _held(engine: sa.Engine, holder_prefix: str) -> set[str]:
    with engine.connect() as conn:
        return set(conn.execute(sa.text(
            "SELECT record_key FROM integration.zoho_sync_queue WHERE status = 'in_progress' "
            "AND claimed_by LIKE :p"), {"p": holder_prefix + "%"}).scalars())


@pytest.mark.slow
def test_kill_9_mid_batch_records_are_taken_again_within_a_minute(
        engine: sa.Engine, database_url: str, books_sandbox, books_clients) -> None:
    """A real `kn-zoho sync books` process killed with SIGKILL while it works on invoices."""
    seed(engine, users=8, products=6, orders=12, paid_fraction=1.0, quote_requests=0,
         inquiries=0)
    with engine.connect() as conn:
        numbers = list(conn.execute(sa.text("SELECT order_number FROM orders")).scalars())
    env = dict(os.environ, KN_ZOHO_SECRET_KEY=SECRET_KEY.decode(),
               KN_ZOHO_BOOKS_CALLS_PER_MINUTE="300",  # 5 calls a second: slow enough to kill
               KN_ZOHO_LEASE_SECONDS="3", KN_ZOHO_HEARTBEAT_SECONDS="1")
    for line in export_lines(books_sandbox.base_url):
        name, value = line.removeprefix("export ").split("=", 1)
        env[name] = value.strip("'")
    process = subprocess.Popen(  # noqa: S603 - our own CLI, fixed arguments
        [sys.executable, "-m", "kn_zoho.cli", "sync", "books", "--database-url", database_url],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while len(books_sandbox.records("books_invoices")) < 3:  # mid-batch
            assert process.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)
        process.send_signal(signal.SIGKILL)
        process.wait()
    finally:
        process.kill()
    killed_at = time.monotonic()
    held = _held(engine, "cli-")
    assert held  # the killed run still holds its batch

    while _held(engine, "cli-"):  # nobody releases them: only the lease running out
        assert time.monotonic() - killed_at < 60, "the killed run's records were not taken"
        run_flow(engine, InvoicesFlow(books_clients.books), retry_base=0)
        time.sleep(0.2)
    run_flow(engine, InvoicesFlow(books_clients.books), retry_base=0)
    _assert_once_each(engine, books_sandbox, numbers)
    with engine.connect() as conn:
        abandoned = conn.execute(sa.text(
            "SELECT count(*) FROM integration.zoho_sync_logs WHERE status = 'abandoned'"
        )).scalar_one()
    # the attempt in hand when it was killed left its trace, and so did the next order's,
    # started ahead while that one's calls ran (kn_zoho/sync/start_ahead.py)
    assert 1 <= abandoned <= 2
