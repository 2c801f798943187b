"""The stock assets, job, schedule and check, run in-process against the Books sandbox."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from cryptography.fernet import Fernet
from dagster import AssetKey, DagsterInstance, Definitions

from kn_zoho.defs.resources import StorefrontDatabase, ZohoBooksResource
from kn_zoho.defs.stock import (
    books_stock_adjustments,
    stock_in_step,
    stock_pull,
    stock_sync_job,
    stock_sync_schedule,
)
from kn_zoho.sandbox import credentials
from kn_zoho.storefront.seed import seed
from kn_zoho_tests.sync.books_fixtures import *  # noqa: F403 - pytest fixtures
from kn_zoho_tests.sync.books_fixtures import BooksSandbox, make_clients
from kn_zoho_tests.sync.stock_helpers import admin_edit, books_stock, store_stock, sync_books


def _metadata(result: object, key: str) -> dict:
    [event] = [e for e in result.get_asset_materialization_events()
               if e.asset_key == AssetKey(key)]
    return {k: v.value for k, v in event.materialization.metadata.items()}


def _check(result: object) -> object:
    [evaluation] = result.get_asset_check_evaluations()
    return evaluation


def test_stock_job_pushes_pulls_and_checks(engine: sa.Engine, database_url: str,
                                           books_sandbox: BooksSandbox,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KN_ZOHO_SECRET_KEY", Fernet.generate_key().decode())
    seed(engine, users=3, products=3, orders=2, paid_fraction=1.0, inquiries=0,
         quote_requests=0)
    clients = make_clients(engine, books_sandbox)
    sync_books(engine, clients)
    storefront = StorefrontDatabase(database_url=database_url)
    defs = Definitions(
        assets=[books_stock_adjustments, stock_pull], asset_checks=[stock_in_step],
        jobs=[stock_sync_job], schedules=[stock_sync_schedule],
        resources={"storefront": storefront, "zoho_books": ZohoBooksResource(
            storefront=storefront, client_id=credentials.DEMO_CLIENT_ID,
            client_secret=credentials.DEMO_CLIENT_SECRET,
            refresh_token=credentials.DEMO_REFRESH_TOKEN,
            organization_id=credentials.DEMO_ORGANIZATION_ID,
            accounts_url=books_sandbox.base_url)})
    Definitions.validate_loadable(defs)
    assert stock_sync_schedule.cron_schedule == "* * * * *"
    job = defs.resolve_job_def("stock_sync")

    with DagsterInstance.ephemeral() as instance:
        first = job.execute_in_process(instance=instance)
        assert first.success
        assert _metadata(first, "books_stock_adjustments")["adjustments"] == 1
        assert _metadata(first, "books_stock")["sku_count"] == 3
        assert _check(first).passed
        assert store_stock(engine) == books_stock(books_sandbox)

        sku = sorted(store_stock(engine))[0]
        books_sandbox._post("/__sandbox/books/adjust-stock",
                            {"sku": sku, "quantity_adjusted": -6})
        second = job.execute_in_process(instance=instance)
        books = _metadata(second, "books_stock")
        assert books["skus_changed"] == 1 and "-6" in books["largest_moves"]
        assert _metadata(second, "storefront_stock")["skus_updated"] == 1
        assert store_stock(engine) == books_stock(books_sandbox)

        # Books sells more than the storefront may show (it keeps stock >= 0): the pull is
        # refused for that SKU; out of step once is not drift, twice running is
        with engine.begin() as conn:
            conn.execute(sa.text("ALTER TABLE public.products ADD CONSTRAINT stock_not_negative "
                                 "CHECK (stock_quantity >= 0)"))
        shelf = store_stock(engine)[sku]
        books_sandbox._post("/__sandbox/books/adjust-stock",
                            {"sku": sku, "quantity_adjusted": -(shelf + 5)})
        once = job.execute_in_process(instance=instance)
        assert _check(once).passed
        assert _metadata(once, "storefront_stock")["out_of_step"] == 1
        twice = job.execute_in_process(instance=instance, raise_on_error=False)
        check = _check(twice)
        assert not check.passed and sku in check.description
        assert check.metadata["drifting_skus"].value == 1
        assert check.metadata["largest_gap_units"].value == shelf + 5  # shelf - (-5)
        assert store_stock(engine)[sku] == shelf  # the refused SKU kept its stock
    clients.close()


def test_schedule_period_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from kn_zoho.defs.stock import stock_schedule

    monkeypatch.setenv("KN_ZOHO_STOCK_SCHEDULE_MINUTES", "5")
    assert stock_schedule().cron_schedule == "*/5 * * * *"
    monkeypatch.setenv("KN_ZOHO_STOCK_SCHEDULE_MINUTES", "0")
    with pytest.raises(ValueError, match="KN_ZOHO_STOCK_SCHEDULE_MINUTES"):
        stock_schedule()


def test_sensor_starts_a_stock_run_after_a_storefront_change(
        engine: sa.Engine, database_url: str) -> None:
    from dagster import build_sensor_context

    from kn_zoho.defs.stock import storefront_stock_changes

    seed(engine, users=1, products=2, orders=0, inquiries=0, quote_requests=0)
    with engine.begin() as conn:  # everything so far reached Books
        conn.execute(sa.text("UPDATE integration.stock_movements SET pushed_at = now()"))
    context = build_sensor_context(
        resources={"storefront": StorefrontDatabase(database_url=database_url)})
    assert storefront_stock_changes(context).__class__.__name__ == "SkipReason"
    admin_edit(engine, sorted(store_stock(engine))[0], 3)
    request = storefront_stock_changes(context)
    assert request.run_key.startswith("stock-change-")
    admin_edit(engine, sorted(store_stock(engine))[1], 1)
    assert storefront_stock_changes(context).run_key != request.run_key
