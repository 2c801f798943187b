"""The daily Zoho call budget on real PostgreSQL and the sandbox over HTTP: a spent budget
stops the work without costing attempts, priorities keep a reserve for stock, and the work
resumes after the (shortened) window with every order invoiced exactly once."""

from __future__ import annotations

import math
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from kn_zoho.sandbox.config import SandboxConfig
from kn_zoho.sandbox.server import RunningSandbox, start_sandbox
from kn_zoho.storefront.seed import seed
from kn_zoho.sync.books import InvoicesFlow
from kn_zoho.sync.runner import SyncReport, run_flow
from kn_zoho.sync.stock.pull import pull
from kn_zoho.sync.stock.push import push
from kn_zoho.zoho import budget_ledger
from kn_zoho.zoho.budget import (
    BOOKS,
    CRM,
    CRM_ACCOUNT,
    BudgetSettings,
    Priority,
    ZohoBudgetSpent,
    at_priority,
    call_cost,
    spending,
)
from kn_zoho.zoho.budget_ledger import PostgresCallBudget
from kn_zoho.zoho.budget_status import budget_states
from kn_zoho.zoho.factory import ZohoClients, build_zoho_clients
from kn_zoho_tests.sync.books_fixtures import (
    ORGANIZATION_STATE,
    SECRET_KEY,
    BooksSandbox,
    make_clients,
)

ORG = "org-1"
DAILY, DAY = 50, 2.5


@pytest.fixture(scope="module")
def short_day_server() -> Iterator[RunningSandbox]:
    """Books allowing 50 calls a 'day' of 2.5 seconds (fast minute: only the day binds)."""
    config = SandboxConfig(seed=11, rate_limit_per_minute=1_000_000, daily_limit=DAILY,
                           daily_window_seconds=DAY, books_concurrency=50,
                           organization_state=ORGANIZATION_STATE)
    with start_sandbox(config) as server:
        yield server


@pytest.fixture
def short_day(short_day_server: RunningSandbox) -> BooksSandbox:
    sandbox = BooksSandbox(short_day_server.base_url)
    sandbox.reset()
    return sandbox


def _clients(engine: sa.Engine, sandbox: BooksSandbox, settings: BudgetSettings) -> ZohoClients:
    base = make_clients(engine, sandbox)
    base.close()
    return build_zoho_clients(engine, base.config, secret_key=SECRET_KEY,
                              settings=base.http.settings,
                              budget=PostgresCallBudget(engine, settings))


def _queue(engine: sa.Engine) -> list[sa.Row]:
    with engine.connect() as conn:
        return conn.execute(sa.text(
            "SELECT record_key, status, attempts, last_error_code FROM "
            "integration.zoho_sync_queue WHERE entity = 'books_invoice'")).all()


def _drain(engine: sa.Engine, clients: ZohoClients, passes: int) -> list[SyncReport]:
    """What the sensors do: run the flow while work is due, wait out a spent budget."""
    reports = []
    for _ in range(passes):
        report = run_flow(engine, InvoicesFlow(clients.books), retry_base=0)
        reports.append(report)
        if all(row.status in ("synced", "failed", "dead") for row in _queue(engine)):
            return reports
        if report.paused:
            [state] = [s for s in budget_states(engine) if s.product == BOOKS]
            time.sleep(max(0.0, (state.resets_at - datetime.now(UTC)).total_seconds()) + 0.05)
    left = Counter(r.status for r in _queue(engine))
    raise AssertionError(f"work left after {passes} passes: {left}")


def test_priorities_stop_at_their_marks_and_share_one_count(engine: sa.Engine) -> None:
    settings = BudgetSettings(books_daily_calls=100, window_seconds=3600, block=7)
    first, second = PostgresCallBudget(engine, settings), PostgresCallBudget(engine, settings)
    taken = Counter()
    for priority, mark in ((Priority.CATALOG, 60), (Priority.SALES, 90), (Priority.STOCK, 100)):
        refusals = 0
        with spending(priority):
            for turn in range(200):
                budget = (first, second)[turn % 2]  # two processes, one ledger
                try:
                    budget.take(BOOKS, ORG, 1)
                except ZohoBudgetSpent as refusal:
                    assert "daily Books budget spent, resumes at" in str(refusal)
                    refusals += 1
                    if refusals == 2:
                        break
                    continue
                refusals = 0
                taken[priority] += 1
        first.close()
        second.close()  # reserved but unused calls go back
        [state] = budget_states(engine)
        assert state.used == mark, priority
    assert taken == {Priority.CATALOG: 60, Priority.SALES: 30, Priority.STOCK: 10}


def test_processes_reserving_at_once_never_pass_the_mark_between_them(
        engine: sa.Engine) -> None:
    """Four processes (threads, each its own ledger client) racing for blocks: the row lock
    of each one-statement reservation makes them take the allowance exactly, no call twice."""
    settings = BudgetSettings(books_daily_calls=1000, window_seconds=3600, block=7)
    taken = Counter()

    def spend(worker: int) -> None:
        budget = PostgresCallBudget(engine, settings)
        with spending(Priority.STOCK):
            while True:
                try:
                    budget.take(BOOKS, ORG, 1)
                except ZohoBudgetSpent:
                    break
                taken[worker] += 1
        budget.close()

    workers = [threading.Thread(target=spend, args=(n,)) for n in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
    assert sum(taken.values()) == 1000 and len(taken) == 4, taken
    [state] = budget_states(engine)
    assert state.used == 1000


def test_calls_are_counted_in_blocks_not_one_statement_each(engine: sa.Engine) -> None:
    budget = PostgresCallBudget(engine, BudgetSettings(books_daily_calls=5000, block=20))
    for _ in range(1000):
        budget.take(BOOKS, ORG, 1)
    assert budget.statements <= 1000 / 20
    budget.close()
    [state] = budget_states(engine)
    assert state.used == 1000  # exactly what was sent, once the process gave its block back


def test_a_block_holds_ten_calls_of_their_cost_so_crm_batches_share_one_statement(
        engine: sa.Engine) -> None:
    budget = PostgresCallBudget(engine, BudgetSettings(crm_daily_credits=50_000))
    for _ in range(30):  # upserts of 100 Contacts, 10 credits each: blocks of 10, then 20
        budget.take(CRM, CRM_ACCOUNT, 10)
    assert budget.statements == 2
    budget.close()
    [state] = budget_states(engine)
    assert state.used == 300


def test_blocks_double_while_calls_keep_coming_and_start_small_again_after_a_pause(
        engine: sa.Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    """A run's 1,254 Books calls (the throughput benchmark's) in 16 reservations (10, 20, 40,
    80, then 100 each) instead of 126; a process calling now and then holds ten at most."""
    budget = PostgresCallBudget(engine, BudgetSettings(books_daily_calls=5000))
    for _ in range(1254):
        budget.take(BOOKS, ORG, 1)
    assert budget.statements == 4 + math.ceil((1254 - 150) / 100)
    budget.close()
    assert budget_states(engine)[0].used == 1254

    monkeypatch.setattr(budget_ledger, "BURST_SECONDS", 0.0)  # every call after a pause
    sporadic = PostgresCallBudget(engine, BudgetSettings(books_daily_calls=5000))
    for _ in range(50):
        sporadic.take(BOOKS, ORG, 1)
    assert sporadic.statements == 5
    sporadic.close()
    assert budget_states(engine)[0].used == 1304


def test_crm_credits_count_records_and_follow_zohos_remaining_header(engine: sa.Engine) -> None:
    assert call_cost(CRM, "POST", {"data": [{}] * 25}) == 3   # 1 credit per 10 records
    assert call_cost(CRM, "GET", None) == 1
    assert call_cost(BOOKS, "POST", {"data": [{}] * 25}) == 1
    budget = PostgresCallBudget(engine, BudgetSettings(crm_daily_credits=1000, block=1,
                                                       max_block=1))
    budget.take(CRM, CRM_ACCOUNT, 3)
    budget.observe_remaining(CRM, CRM_ACCOUNT, 100)  # Zoho: others used most of it
    budget.take(CRM, CRM_ACCOUNT, 1)
    [state] = budget_states(engine)
    assert state.used == 901
    budget.observe_remaining(CRM, CRM_ACCOUNT, 0)
    with pytest.raises(ZohoBudgetSpent, match="daily CRM credit budget spent"):
        budget.take(CRM, CRM_ACCOUNT, 1)


@pytest.mark.slow
def test_backlog_ends_with_zero_dead_records_each_order_invoiced_once(
        engine: sa.Engine, short_day: BooksSandbox) -> None:
    """The issue's acceptance, scaled down: 80 orders (~270 calls) against 50 Books calls a
    2.5-second day. Work stops when the budget is spent, costs no attempt, and resumes."""
    seed(engine, users=10, products=6, orders=80, paid_fraction=1.0, inquiries=0,
         quote_requests=0)
    clients = _clients(engine, short_day, BudgetSettings(books_daily_calls=DAILY,
                                                         window_seconds=DAY, block=5))
    try:
        first = run_flow(engine, InvoicesFlow(clients.books), retry_base=0)
        assert first.paused and first.paused.startswith("daily Books budget spent, resumes at")
        assert " IST (" in first.paused
        rows = _queue(engine)
        waiting = [r for r in rows if r.status == "pending"]
        assert waiting and all(r.attempts == 0 for r in waiting)  # refusals cost no attempt
        assert {r.last_error_code for r in waiting} == {"BUDGET"}
        assert sum(short_day.calls().values()) <= 45  # the sales mark: 90% of 50
        with engine.connect() as conn:
            deferred = conn.execute(sa.text(
                "SELECT count(*) FROM integration.zoho_sync_logs WHERE status = 'deferred' "
                "AND error_code = 'BUDGET'")).scalar_one()
        assert deferred >= 1
        reports = _drain(engine, clients, passes=60)
        assert clients.http.rate_limited == 0  # Zoho never had to refuse a call
    finally:
        clients.close()
    assert sum(1 for r in reports if r.paused) >= 2  # it took several windows
    rows = _queue(engine)
    assert Counter(r.status for r in rows) == {"synced": 80}
    assert max(r.attempts for r in rows) == 1
    numbers = Counter(i["invoice_number"] for i in short_day.records("books_invoices"))
    assert len(numbers) == 80 and set(numbers.values()) == {1}  # each order invoiced once


def test_zohos_code_45_gives_the_attempt_back_and_stops_the_pass(
        engine: sa.Engine, short_day: BooksSandbox) -> None:
    """Our ledger believes in 5,000 calls, the sandbox allows 50: Zoho's first code 45 stops
    the pass (one refused call, not one per remaining order) and costs no attempt."""
    seed(engine, users=8, products=4, orders=30, paid_fraction=1.0, inquiries=0,
         quote_requests=0)
    clients = _clients(engine, short_day, BudgetSettings(books_daily_calls=5000,
                                                         window_seconds=3600, block=5,
                                                         probe_seconds=1.0))
    try:
        report = run_flow(engine, InvoicesFlow(clients.books), retry_base=0)
        assert report.paused
        assert clients.http.rate_limited == 1
        assert all(r.attempts == 0 for r in _queue(engine) if r.status == "pending")
        [state] = budget_states(engine)
        assert state.refused_at is not None and state.used >= state.allowance
        _drain(engine, clients, passes=60)  # each probe after a second, until Books' day turns
    finally:
        clients.close()
    assert Counter(r.status for r in _queue(engine)) == {"synced": 30}
    numbers = Counter(i["invoice_number"] for i in short_day.records("books_invoices"))
    assert len(numbers) == 30 and set(numbers.values()) == {1}


def test_a_run_over_named_records_while_spent_reports_them_waiting_untouched(
        engine: sa.Engine, short_day: BooksSandbox) -> None:
    """A sensor run launched just before the budget ran out (or an admin's retry) claims
    nothing and says why for each record; their queue rows stay as they were."""
    seed(engine, users=2, products=2, orders=3, paid_fraction=1.0, inquiries=0,
         quote_requests=0)
    settings = BudgetSettings(books_daily_calls=DAILY, window_seconds=3600)
    spender = PostgresCallBudget(engine, settings)
    for _ in range(45):  # invoices stop at 90% of 50
        spender.take(BOOKS, ORG, 1)
    keys = sorted(r.record_key for r in _queue(engine))
    clients = _clients(engine, short_day, settings)
    try:
        report = run_flow(engine, InvoicesFlow(clients.books), keys=keys, force=True)
    finally:
        clients.close()
    assert report.paused and report.api_calls == 0
    assert [(r.record_key, r.status, r.error_code) for r in report.results] == [
        (key, "pending", "BUDGET") for key in keys]
    assert {(r.status, r.attempts, r.last_error_code) for r in _queue(engine)} == {
        ("pending", 0, None)}


def test_a_process_gives_its_unused_calls_back_when_it_exits(
        engine: sa.Engine, database_url: str) -> None:
    """Dagster keeps a run's clients until the process ends: the calls it reserved but did
    not make must not stay counted (one block per run would add up over a day)."""
    script = (
        "import sys\n"
        "from kn_zoho.storefront import db\n"
        "from kn_zoho.zoho.budget import BOOKS, BudgetSettings\n"
        "from kn_zoho.zoho.budget_ledger import PostgresCallBudget\n"
        "budget = PostgresCallBudget(db.create_engine(sys.argv[1]), BudgetSettings(block=10))\n"
        "for _ in range(3):\n"
        "    budget.take(BOOKS, 'org-1', 1)\n")
    subprocess.run([sys.executable, "-c", script, database_url],  # noqa: S603 - our own script
                   check=True, timeout=60)
    [state] = budget_states(engine)
    assert state.used == 3



def test_stock_push_and_pull_spend_the_reserve_invoices_leave(engine: sa.Engine) -> None:
    assert (push.budget_priority, pull.budget_priority) == (Priority.STOCK, Priority.STOCK)
    budget = PostgresCallBudget(engine, BudgetSettings(books_daily_calls=100, block=1))
    stock_call = at_priority(Priority.STOCK)(lambda: budget.take(BOOKS, ORG, 1))
    with spending(Priority.SALES):  # e.g. a pull started from inside an invoice run
        for _ in range(90):
            budget.take(BOOKS, ORG, 1)
        with pytest.raises(ZohoBudgetSpent):
            budget.take(BOOKS, ORG, 1)
        for _ in range(10):
            stock_call()
        with pytest.raises(ZohoBudgetSpent):
            stock_call()
    [state] = budget_states(engine)
    assert state.used == 100


def test_every_synced_entity_has_its_budget_priority_named() -> None:
    """A flow added without a priority would silently spend at the invoices' level."""
    from kn_zoho.sync.links import ASSET_OF_ENTITY
    from kn_zoho.zoho.budget import PRIORITY_OF_ENTITY

    assert set(PRIORITY_OF_ENTITY) == set(ASSET_OF_ENTITY)
