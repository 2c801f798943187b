"""What the admin sees of the daily Zoho budget: the sensors skip saying when work resumes,
the ``zoho_budget_available`` check warns with the same words, and ``sync_status`` carries
the calls used as numbers (plotted over time)."""

from __future__ import annotations

from datetime import UTC

import pytest
import sqlalchemy as sa
from dagster import (
    AssetCheckSeverity,
    DagsterInstance,
    SkipReason,
    build_sensor_context,
    materialize,
)

from kn_zoho.defs.books.sensors import books_estimates_sensor, books_invoices_sensor
from kn_zoho.defs.resources import StorefrontDatabase
from kn_zoho.defs.status import sync_status, zoho_budget_available
from kn_zoho.storefront import queue
from kn_zoho.storefront.seed import seed
from kn_zoho.zoho.budget import BOOKS, IST, BudgetSettings, Priority, spending
from kn_zoho.zoho.budget_ledger import PostgresCallBudget
from kn_zoho.zoho.budget_status import budget_states

ORG = "org-1"


@pytest.fixture
def storefront(database_url: str, engine: sa.Engine, monkeypatch: pytest.MonkeyPatch
               ) -> StorefrontDatabase:
    monkeypatch.setenv("KN_ZOHO_BOOKS_DAILY_CALLS", "100")
    seed(engine, users=3, products=3, orders=5, paid_fraction=1.0, approved_quotes=2,
         inquiries=0, quote_requests=0)
    return StorefrontDatabase(database_url=database_url)


def _spend(engine: sa.Engine, calls: int, priority: Priority) -> None:
    budget = PostgresCallBudget(engine, BudgetSettings.from_env())
    with spending(priority):
        for _ in range(calls):
            budget.take(BOOKS, ORG, 1)
    budget.close()


def _tick(sensor, storefront: StorefrontDatabase) -> object:
    with DagsterInstance.ephemeral() as instance:
        return sensor(build_sensor_context(instance=instance,
                                           resources={"storefront": storefront}))


def _evaluate(storefront: StorefrontDatabase) -> tuple[object, dict]:
    result = materialize([sync_status, zoho_budget_available],
                         resources={"storefront": storefront})
    [evaluation] = result.get_asset_check_evaluations()
    [materialization] = result.asset_materializations_for_node("sync_status")
    return evaluation, {k: v.value for k, v in materialization.metadata.items()}


def test_catalog_waits_at_its_mark_while_invoices_go_on(
        engine: sa.Engine, storefront: StorefrontDatabase) -> None:
    _spend(engine, 60, Priority.CATALOG)  # estimates and items stop at 60 of 100
    estimates = _tick(books_estimates_sensor, storefront)
    assert isinstance(estimates, SkipReason)
    assert "due books_estimate records wait: daily Books budget spent" in estimates.skip_message
    invoices = _tick(books_invoices_sensor, storefront)
    assert not isinstance(invoices, SkipReason) and len(invoices.run_requests) == 1

    evaluation, figures = _evaluate(storefront)
    assert not evaluation.passed and evaluation.severity == AssetCheckSeverity.WARN
    assert "estimates and items wait until" in evaluation.description
    assert (figures["zoho_books_calls_used_today"], figures["zoho_books_calls_remaining"],
            figures["zoho_books_calls_allowance"]) == (60, 40, 100)


def test_spent_budget_stops_the_sensors_and_the_check_says_when_work_resumes(
        engine: sa.Engine, storefront: StorefrontDatabase) -> None:
    evaluation, figures = _evaluate(storefront)
    assert evaluation.passed and figures["zoho_books_calls_used_today"] == 0

    _spend(engine, 90, Priority.SALES)  # invoices stop at 90: the rest is stock's reserve
    [state] = budget_states(engine)
    resumes = f"resumes at {state.resets_at.astimezone(IST):%H:%M} IST"
    invoices = _tick(books_invoices_sensor, storefront)
    assert isinstance(invoices, SkipReason)
    utc = state.resets_at.astimezone(UTC)
    assert invoices.skip_message == (
        f"5 due books_invoice records wait: daily Books budget spent, {resumes} "
        f"({utc:%H:%M} UTC, {utc:%Y-%m-%d})")

    [claim] = queue.claim(engine, "books_invoice", worker="run-1", limit=1)
    queue.defer(engine, [claim], worker="run-1", until=state.resets_at,
                reason=invoices.skip_message.split(": ", 1)[1])

    evaluation, figures = _evaluate(storefront)
    assert not evaluation.passed and evaluation.severity == AssetCheckSeverity.WARN
    assert evaluation.description.startswith(f"daily Books budget spent, {resumes}")
    assert (figures["budget_deferrals_last_minute"], figures["attempts_last_minute"]) == (1, 0)
    assert "waiting for the daily Zoho budget (not counted)" in figures["latest_attempts"]
    assert figures["zoho_books_calls_used_today"] == 90
    assert figures["zoho_books_calls_remaining"] == 10
    assert figures["zoho_crm_credits_used_today"] == 0


def test_stock_runs_go_on_into_the_reserve_and_wait_once_it_is_spent(
        engine: sa.Engine, storefront: StorefrontDatabase) -> None:
    from dagster import build_schedule_context

    from kn_zoho.defs.stock import stock_sync_schedule, storefront_stock_changes
    from kn_zoho_tests.sync.stock_helpers import admin_edit, store_stock

    admin_edit(engine, sorted(store_stock(engine))[0], 3)  # an unpushed storefront change
    with DagsterInstance.ephemeral() as instance:
        schedule_context = build_schedule_context(instance=instance,
                                                  resources={"storefront": storefront})
        _spend(engine, 90, Priority.SALES)  # invoices have stopped; stock has its reserve
        assert not isinstance(stock_sync_schedule(schedule_context), SkipReason)
        assert not isinstance(_tick(storefront_stock_changes, storefront), SkipReason)

        _spend(engine, 10, Priority.STOCK)  # the reserve is gone too
        [state] = budget_states(engine)
        waits = (f"stock waits: daily Books budget spent, resumes at "
                 f"{state.resets_at.astimezone(IST):%H:%M} IST")
        for skipped in (stock_sync_schedule(schedule_context),
                        _tick(storefront_stock_changes, storefront)):
            assert isinstance(skipped, SkipReason)
            assert skipped.skip_message.startswith(waits)
