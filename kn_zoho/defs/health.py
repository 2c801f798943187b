"""Queue health in the Dagster UI: asset checks per synced asset, and the dead-letter alerts.

The checks are evaluated by ``zoho_status_job`` every minute (see status.py), never as part
of a sync run: a sync run yields no Output, so a check planned in it would only be skipped.
Every check carries numeric metadata, so its page plots the figures over time.
"""

import sqlalchemy as sa
from dagster import (
    AssetCheckResult,
    AssetChecksDefinition,
    AssetCheckSeverity,
    AssetsDefinition,
    DefaultSensorStatus,
    MetadataValue,
    SensorEvaluationContext,
    SkipReason,
    asset_check,
    sensor,
)

from kn_zoho.defs.resources import StorefrontDatabase
from kn_zoho.storefront import queue
from kn_zoho.sync.alerts import AlertSettings, send_dead_letter_alerts
from kn_zoho.sync.links import record_url

# A record that is due must be taken by a run within this long (the sensor ticks every 30 s;
# the spec promises changes in Zoho within 5 minutes).
PROMISE_MINUTES = 5
EXAMPLES = 50


def _cell(text: object) -> str:
    return str(text or "").replace("|", "\\|").replace("\n", " ")


def _table(entity: str, rows: list[sa.Row], columns: list[str]) -> str:
    lines = ["| record | " + " | ".join(columns) + " |", "|---" * (len(columns) + 1) + "|"]
    for row in rows:
        link = f"[{row.record_key}]({record_url(entity, row.record_key)})"
        lines.append(f"| {link} | " + " | ".join(_cell(getattr(row, c)) for c in columns)
                     + " |")
    return "\n".join(lines)


def _status_metadata(engine: sa.Engine, entity: str) -> dict[str, int]:
    counts = queue.status_counts(engine, entity)
    return {f"{status}_records": n for status, n in counts.items()}


def queue_checks(asset_def: AssetsDefinition, entity: str) -> list[AssetChecksDefinition]:
    """No dead letters (fails, listing them); nothing due and waiting past the promise (warns)."""

    @asset_check(asset=asset_def, name="no_dead_letters",
                 description=f"No {entity} record has exhausted its retries. Lists the dead "
                 "records with their last error; each links to its partition.")
    def no_dead_letters(storefront: StorefrontDatabase) -> AssetCheckResult:
        engine = storefront.get_engine()
        with engine.connect() as conn:
            rows = conn.execute(sa.text(
                "SELECT record_key, attempts, last_error_code, last_error_message, updated_at "
                "FROM integration.zoho_sync_queue WHERE entity = :e AND status = 'dead' "
                "ORDER BY updated_at DESC, record_key LIMIT :n"), {"e": entity, "n": EXAMPLES}
            ).all()
        dead = _status_metadata(engine, entity)["dead_records"]
        return AssetCheckResult(
            passed=dead == 0,
            description=(f"{dead} dead {entity} records: "
                         + ", ".join(f"{r.record_key} ({r.last_error_code}: "
                                     f"{r.last_error_message})" for r in rows[:5])
                         if dead else f"no dead {entity} records"),
            metadata={
                "dead_records": dead,
                "dead_record_keys": MetadataValue.text(", ".join(r.record_key for r in rows)),
                "dead_letters": MetadataValue.md(_table(entity, rows, [
                    "attempts", "last_error_code", "last_error_message", "updated_at"])),
                **_status_metadata(engine, entity),
            })

    @asset_check(asset=asset_def, name="no_overdue_records",
                 description=f"No {entity} record has been due for more than "
                 f"{PROMISE_MINUTES} minutes without a run taking it (warns).")
    def no_overdue_records(storefront: StorefrontDatabase) -> AssetCheckResult:
        engine = storefront.get_engine()
        with engine.connect() as conn:
            rows = conn.execute(sa.text(
                "SELECT record_key, status, attempts, last_error_message, "
                "       round(extract(epoch FROM now() - coalesce(claimed_until, "
                "             next_attempt_at)) / 60.0, 1) AS minutes_overdue "
                "FROM integration.zoho_sync_queue WHERE entity = :e AND ("
                " (status = 'pending' AND next_attempt_at < now() - make_interval(mins => :p))"
                " OR (status = 'in_progress'"
                "     AND claimed_until < now() - make_interval(mins => :p)))"
                " ORDER BY coalesce(claimed_until, next_attempt_at), record_key"),
                {"e": entity, "p": PROMISE_MINUTES}).all()
        oldest = float(rows[0].minutes_overdue) if rows else 0.0
        return AssetCheckResult(
            passed=not rows, severity=AssetCheckSeverity.WARN,
            description=(f"{len(rows)} {entity} records due for more than {PROMISE_MINUTES} "
                         f"minutes; the oldest for {oldest} minutes" if rows
                         else f"every due {entity} record was taken on time"),
            metadata={
                "overdue_records": len(rows),
                "oldest_overdue_minutes": oldest,
                "overdue": MetadataValue.md(_table(entity, rows[:EXAMPLES], [
                    "status", "attempts", "minutes_overdue", "last_error_message"])),
            })

    return [no_dead_letters, no_overdue_records]


@sensor(
    description="Emails the admins once about records that failed for good.",
    minimum_interval_seconds=60,
    default_status=DefaultSensorStatus.RUNNING,
)
def dead_letter_alerts(context: SensorEvaluationContext, storefront: StorefrontDatabase
                       ) -> SkipReason:
    alerted = send_dead_letter_alerts(storefront.get_engine(), AlertSettings.from_env())
    if alerted:
        context.log.warning(f"alerted admins about {len(alerted)} dead records: "
                            + ", ".join(f"{r.entity} {r.record_key}" for r in alerted[:20]))
    return SkipReason(f"{len(alerted)} new dead records alerted")
