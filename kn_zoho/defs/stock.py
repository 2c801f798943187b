"""Stock both ways in Dagster: the push as an asset, the pull as the two stock assets, a
schedule running both every minute, and the ``stock_in_step`` check.

While Books' daily budget is spent even for stock (which may use all of it, see
:mod:`kn_zoho.zoho.budget`), the schedule and the sensor launch nothing and say when stock
resumes: a run would only fail on its first call.

Thin: the work is :mod:`kn_zoho.sync.stock`; these only call it and publish metadata.
"""

import os
from collections.abc import Iterator

import sqlalchemy as sa
from dagster import (
    AssetCheckResult,
    AssetExecutionContext,
    AssetKey,
    AssetSelection,
    AssetSpec,
    DefaultScheduleStatus,
    DefaultSensorStatus,
    MaterializeResult,
    MetadataValue,
    RunRequest,
    ScheduleDefinition,
    ScheduleEvaluationContext,
    SensorEvaluationContext,
    SkipReason,
    asset,
    asset_check,
    define_asset_job,
    multi_asset,
    schedule,
    sensor,
)

from kn_zoho.defs.resources import StorefrontDatabase, ZohoBooksResource
from kn_zoho.sync.books.common import books_api_calls
from kn_zoho.sync.stock.location import books_location_id
from kn_zoho.sync.stock.pull import pull
from kn_zoho.sync.stock.push import push
from kn_zoho.zoho import budget, budget_status

GROUP = "stock"
SCHEDULE_MINUTES_ENV = "KN_ZOHO_STOCK_SCHEDULE_MINUTES"
OUT_OF_STEP_SNAPSHOTS = 2  # true drift: out of step on two snapshots running


@asset(group_name=GROUP, description="Storefront stock changes that are not sales (admin "
       "edits, restocks, returns) sent to Books as one inventory adjustment per run.")
def books_stock_adjustments(context: AssetExecutionContext, storefront: StorefrontDatabase,
                            zoho_books: ZohoBooksResource) -> MaterializeResult:
    books = zoho_books.get_clients().books
    before = books_api_calls(books)
    report = push(storefront.get_engine(), books, books_location_id())
    if report.error:
        context.log.warning(f"push: {report.error}")
    return MaterializeResult(metadata={
        "pushed_skus": len(report.pushed_skus),
        "adjustments": report.adjustments,
        "reference": report.reference or "",
        "settled_earlier": MetadataValue.json(report.resolved),
        "outcome_unknown": report.unknown,
        "api_calls": books_api_calls(books) - before,
    })


@multi_asset(
    specs=[AssetSpec("books_stock", group_name=GROUP, deps=[books_stock_adjustments],
                     description="Zoho Books stock on hand per SKU (a full snapshot)."),
           AssetSpec("storefront_stock", group_name=GROUP, deps=["books_stock"],
                     description="Storefront stock set to Books + pending per SKU.")],
)
def stock_pull(context: AssetExecutionContext, storefront: StorefrontDatabase,
               zoho_books: ZohoBooksResource) -> Iterator[MaterializeResult]:
    books = zoho_books.get_clients().books
    before = books_api_calls(books)
    report = pull(storefront.get_engine(), books, books_location_id())
    moves = "\n".join(["| SKU | Books before | Books now | move |", "|---|---|---|---|"] + [
        f"| {level.sku} | {level.books_before} | {level.books} | "
        f"{level.books - level.books_before:+d} |" for level in report.books_changed[:15]])
    yield MaterializeResult(asset_key="books_stock", metadata={
        "sku_count": report.items,
        "skus_changed": len(report.books_changed),
        "total_units": report.total_units,
        "largest_moves": MetadataValue.md(moves),
        "api_calls": books_api_calls(books) - before,
    })
    yield MaterializeResult(asset_key="storefront_stock", metadata={
        "skus_updated": len(report.pulled_skus),
        "updated": MetadataValue.json(report.pulled_skus[:50]),
        "out_of_step": len(report.drift),
        "invoices_resolved": report.invoices_resolved,
    })


@asset_check(asset=AssetKey("storefront_stock"), name="stock_in_step",
             description="Every SKU's storefront stock equals Books + pending; fails for SKUs "
             f"out of step on {OUT_OF_STEP_SNAPSHOTS} snapshots running (true drift).")
def stock_in_step(storefront: StorefrontDatabase) -> AssetCheckResult:
    with storefront.get_engine().connect() as conn:
        rows = conn.execute(sa.text(
            "SELECT sku, books_stock, storefront_stock, pending, out_of_step, reason "
            "FROM integration.stock_levels WHERE out_of_step > 0 "
            "ORDER BY out_of_step DESC, sku")).all()
    drifting = [row for row in rows if row.out_of_step >= OUT_OF_STEP_SNAPSHOTS]
    gaps = [abs(row.storefront_stock - (row.books_stock or 0) - row.pending) for row in drifting]
    table = "\n".join(["| SKU | storefront | Books | pending | snapshots | why |",
                       "|---|---|---|---|---|---|"] + [
        f"| {r.sku} | {r.storefront_stock} | {r.books_stock} | {r.pending} | {r.out_of_step} "
        f"| {r.reason or ''} |" for r in drifting[:50]])
    return AssetCheckResult(
        passed=not drifting,
        description=("out of step: " + ", ".join(r.sku for r in drifting[:50])) if drifting
        else "every SKU in step",
        metadata={"drifting_skus": len(drifting), "out_of_step_now": len(rows),
                  "largest_gap_units": max(gaps, default=0),
                  "skus": MetadataValue.md(table)})


stock_sync_job = define_asset_job(
    "stock_sync", selection=AssetSelection.assets(books_stock_adjustments, stock_pull),
    description="Push storefront stock changes to Books, then pull Books stock.")



def stock_schedule_minutes() -> int:
    """``KN_ZOHO_STOCK_SCHEDULE_MINUTES`` (default 1): the stock cycle's period, 1 to 60."""
    raw = os.environ.get(SCHEDULE_MINUTES_ENV, "").strip() or "1"
    if not raw.isdigit() or not 1 <= int(raw) <= 60:
        raise ValueError(f"{SCHEDULE_MINUTES_ENV}={raw!r}: expected whole minutes, 1 to 60")
    return int(raw)


def stock_budget_pause(engine: sa.Engine) -> SkipReason | None:
    """A skip naming when stock resumes while the Books budget is spent for stock, else None."""
    pause = budget_status.pause_for(engine, "books_stock", priority=budget.Priority.STOCK)
    return None if pause is None else SkipReason(f"stock waits: {pause.message}")


def stock_schedule() -> ScheduleDefinition:
    """Both directions every N minutes; each run costs 1 adjustment call when the storefront
    changed + ceil(items/200) calls for the snapshot."""
    minutes = stock_schedule_minutes()

    @schedule(name="stock_sync_schedule", job=stock_sync_job,
              cron_schedule="* * * * *" if minutes == 1 else f"*/{minutes} * * * *",
              default_status=DefaultScheduleStatus.RUNNING,
              description=f"Stock both ways every {minutes} minute(s), unless the daily Books "
              "budget is spent.")
    def _stock_schedule(context: ScheduleEvaluationContext, storefront: StorefrontDatabase
                        ) -> RunRequest | SkipReason:
        return stock_budget_pause(storefront.get_engine()) or RunRequest()

    return _stock_schedule


stock_sync_schedule = stock_schedule()


@sensor(job=stock_sync_job, minimum_interval_seconds=15,
        default_status=DefaultSensorStatus.RUNNING,
        description="Starts a stock run soon after a storefront stock change that is not a "
        "sale (a database query; no Zoho call), so admin edits reach Books within seconds "
        "rather than at the next scheduled minute.")
def storefront_stock_changes(context: SensorEvaluationContext, storefront: StorefrontDatabase
                             ) -> RunRequest | SkipReason:
    engine = storefront.get_engine()
    with engine.connect() as conn:
        newest = conn.execute(sa.text(
            "SELECT max(id) FROM integration.stock_movements WHERE source = 'storefront' "
            "AND pushed_at IS NULL AND push_reference IS NULL")).scalar()
    if newest is None:
        return SkipReason("no unpushed storefront stock change")
    return stock_budget_pause(engine) or RunRequest(run_key=f"stock-change-{newest}")
