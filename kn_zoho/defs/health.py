"""Queue health in the Dagster UI: asset checks per synced asset, and the dead-letter alerts."""

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
from kn_zoho.sync.alerts import AlertSettings, send_dead_letter_alerts

MAX_PENDING_AGE_MINUTES = 15


def queue_checks(asset_def: AssetsDefinition, entity: str) -> list[AssetChecksDefinition]:
    """No dead letters; nothing waiting longer than it should."""

    @asset_check(asset=asset_def, name="no_dead_letters",
                 description=f"No {entity} record has exhausted its retries.")
    def no_dead_letters(storefront: StorefrontDatabase) -> AssetCheckResult:
        with storefront.get_engine().connect() as conn:
            rows = conn.execute(sa.text(
                "SELECT record_key, last_error_message FROM integration.zoho_sync_queue "
                "WHERE entity = :e AND status = 'dead' ORDER BY record_key LIMIT 50"),
                {"e": entity}).all()
            total = conn.execute(sa.text(
                "SELECT count(*) FROM integration.zoho_sync_queue "
                "WHERE entity = :e AND status = 'dead'"), {"e": entity}).scalar()
        table = "\n".join(["| record | last error |", "|---|---|"]
                          + [f"| {r.record_key} | {r.last_error_message} |" for r in rows])
        return AssetCheckResult(passed=total == 0, metadata={
            "dead_records": total, "examples": MetadataValue.md(table)})

    @asset_check(asset=asset_def, name="oldest_pending_age",
                 description=f"No {entity} record waits more than {MAX_PENDING_AGE_MINUTES} "
                 "minutes.")
    def oldest_pending_age(storefront: StorefrontDatabase) -> AssetCheckResult:
        with storefront.get_engine().connect() as conn:
            age = conn.execute(sa.text(
                "SELECT coalesce(extract(epoch FROM now() - min(enqueued_at)) / 60, 0) "
                "FROM integration.zoho_sync_queue "
                "WHERE entity = :e AND status IN ('pending', 'in_progress')"),
                {"e": entity}).scalar()
        return AssetCheckResult(passed=float(age) <= MAX_PENDING_AGE_MINUTES,
                                severity=AssetCheckSeverity.WARN,
                                metadata={"oldest_pending_minutes": round(float(age), 1)})

    return [no_dead_letters, oldest_pending_age]


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
