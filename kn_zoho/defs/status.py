"""The live view of sync activity: the ``sync_status`` asset, refreshed every minute.

Its materialization metadata holds the latest attempts (time, entity, record, email/number,
outcome, error) and every record needing attention, as markdown tables whose record column
links to the record's partition page (so a record is found by its email with the browser's
search on this page), and counts by status as numbers, so the asset's Plots tab draws
synced/pending/retrying/failed/dead and attempts per minute over time.

It also carries the daily Zoho budget as numbers (Books calls and CRM credits used in the
current window, allowance, remaining), so the Plots tab draws Zoho calls over time, and the
``zoho_budget_available`` check warns while a budget is spent, saying when work resumes.

``zoho_status_job`` materializes it and evaluates every health check in the same run, on the
``zoho_status_schedule`` (every minute), whatever the sync runs did.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from dagster import (
    AssetCheckResult,
    AssetChecksDefinition,
    AssetCheckSeverity,
    AssetSelection,
    DefaultScheduleStatus,
    MaterializeResult,
    MetadataValue,
    ScheduleDefinition,
    asset,
    asset_check,
    define_asset_job,
    in_process_executor,
)
from dagster._core.definitions.unresolved_asset_job_definition import (
    UnresolvedAssetJobDefinition,
)

from kn_zoho.defs.resources import StorefrontDatabase
from kn_zoho.storefront import records
from kn_zoho.sync.links import record_url
from kn_zoho.zoho import budget, budget_status

LATEST_ATTEMPTS = 50
ATTENTION_ROWS = 200

_LATEST_SQL = """
SELECT l.started_at, l.entity, l.record_key, l.status, l.attempt, l.operation, l.error_code,
       l.error_message
  FROM integration.zoho_sync_logs l
 ORDER BY l.id DESC LIMIT :n
"""

_ACTIVITY_SQL = """
SELECT count(*) FILTER (WHERE created_at > now() - interval '1 minute' AND status <> 'deferred')
           AS attempts_last_minute,
       count(*) FILTER (WHERE created_at > now() - interval '1 minute' AND status = 'success')
           AS synced_last_minute,
       count(*) FILTER (WHERE created_at > now() - interval '1 minute'
                        AND status NOT IN ('success', 'deferred')) AS failed_attempts_last_minute,
       count(*) FILTER (WHERE created_at > now() - interval '1 minute' AND status = 'deferred')
           AS budget_deferrals_last_minute,
       count(*) FILTER (WHERE status <> 'deferred') AS attempts_last_hour
  FROM integration.zoho_sync_logs WHERE created_at > now() - interval '1 hour'
"""

_COUNTS_SQL = """
SELECT count(*) FILTER (WHERE status = 'synced') AS synced,
       count(*) FILTER (WHERE status = 'pending' AND attempts = 0) AS pending,
       count(*) FILTER (WHERE status = 'pending' AND attempts > 0) AS retrying,
       count(*) FILTER (WHERE status = 'in_progress') AS in_progress,
       count(*) FILTER (WHERE status = 'failed') AS failed,
       count(*) FILTER (WHERE status = 'dead') AS dead
  FROM integration.zoho_sync_queue
"""

OUTCOME = {"success": "synced", "pending": "retrying", "failed": "failed (bad data)",
           "dead": "dead", "deferred": "waiting for the daily Zoho budget (not counted)"}


def _cell(text: object) -> str:
    return str(text if text is not None else "").replace("|", "\\|").replace("\n", " ")


def _link(entity: str, key: str) -> str:
    return f"[{key}]({record_url(entity, key)})"


def status_metadata(engine: sa.Engine) -> dict[str, object]:
    """Counts by status, activity and the two tables (kept out of the asset for tests)."""
    with engine.connect() as conn:
        counts = conn.execute(sa.text(_COUNTS_SQL)).mappings().one()
        activity = conn.execute(sa.text(_ACTIVITY_SQL)).mappings().one()
        latest = conn.execute(sa.text(_LATEST_SQL), {"n": LATEST_ATTEMPTS}).all()
    labels = {}
    for entity in {row.entity for row in latest}:
        keys = [row.record_key for row in latest if row.entity == entity]
        labels.update({(entity, k): r.label
                       for k, r in records.records_by_key(engine, entity, keys).items()})
    attempts = ["| time (UTC) | entity | record | email / number | outcome | attempt | error |",
                "|---|---|---|---|---|---|---|"]
    for row in latest:
        error = f"{row.error_code}: {row.error_message}" if row.error_code else ""
        attempts.append(
            f"| {row.started_at:%Y-%m-%d %H:%M:%S} | {row.entity} | "
            f"{_link(row.entity, row.record_key)} | "
            f"{_cell(labels.get((row.entity, row.record_key)))} | "
            f"{OUTCOME.get(row.status, row.status)} | {row.attempt} | {_cell(error)} |")
    attention = ["| email / number | record | state | last error | attempts "
                 "| next attempt (UTC) | entity |", "|---|---|---|---|---|---|---|"]
    for r in records.records_needing_attention(engine, limit=ATTENTION_ROWS):
        state = "retrying" if r.status == "pending" else r.status
        next_at = f"{r.next_attempt_at:%H:%M:%S}" if r.status == "pending" else ""
        attention.append(
            f"| {_cell(r.label)} | {_link(r.entity, r.record_key)} | {state} | "
            f"{_cell(r.last_error_code)}: {_cell(r.last_error_message)} | {r.attempts} | "
            f"{next_at} | {r.entity} |")
    return {
        **budget_status.budget_metadata(budget_status.budget_states(engine),
                                        budget.BudgetSettings.from_env()),
        **{f"{name}_records": int(n) for name, n in counts.items()},
        **{name: int(n) for name, n in activity.items()},
        "needs_attention": MetadataValue.md("\n".join(attention)),
        "latest_attempts": MetadataValue.md("\n".join(attempts)),
    }


@asset(
    group_name="zoho_status",
    kinds={"postgres"},
    description="Live sync activity: the latest attempts, every record that needs attention "
    "(with its email or number and a link to its partition) and counts by status over time. "
    "Refreshed every minute by zoho_status_schedule.",
)
def sync_status(storefront: StorefrontDatabase) -> MaterializeResult:
    return MaterializeResult(metadata=status_metadata(storefront.get_engine()))


@asset_check(asset=sync_status, name="zoho_budget_available",
             description="Warns while Zoho's daily allowance (Books calls, CRM credits) is spent "
             "for invoices, or for estimates and items, saying when work resumes (IST and UTC).")
def zoho_budget_available(storefront: StorefrontDatabase) -> AssetCheckResult:
    return budget_check_result(storefront.get_engine())


def budget_check_result(engine: sa.Engine) -> AssetCheckResult:
    """The check's verdict (kept out of the check for tests): a WARN per spent budget."""
    settings = budget.BudgetSettings.from_env()
    states = budget_status.budget_states(engine)
    notes = []
    for state in states:
        if state.spent_for(settings, budget.Priority.SALES):
            notes.append(budget.spent_message(state.product, state.resets_at))
        elif state.spent_for(settings, budget.Priority.CATALOG):
            notes.append(f"Books budget down to its reserve: estimates and items wait until "
                         f"{budget.resumes_at_text(state.resets_at)}; invoices and stock go on")
    return AssetCheckResult(
        passed=not notes, severity=AssetCheckSeverity.WARN,
        description="; ".join(notes) or "Zoho's daily budget has room for every flow",
        metadata=budget_status.budget_metadata(states, settings))


def status_job(checks: Sequence[AssetChecksDefinition]) -> UnresolvedAssetJobDefinition:
    """``sync_status`` plus every health check, in one process (cheap, every minute)."""
    return define_asset_job(
        "zoho_status_job",
        selection=AssetSelection.assets(sync_status) | AssetSelection.checks(*checks),
        executor_def=in_process_executor,
        description="Refreshes sync_status and evaluates the queue health checks.",
    )


def status_schedule(job: UnresolvedAssetJobDefinition) -> ScheduleDefinition:
    return ScheduleDefinition(name="zoho_status_schedule", job=job, cron_schedule="* * * * *",
                              default_status=DefaultScheduleStatus.RUNNING)
