"""A nightly job that retires the partitions of records synced long ago (see sync/retirement)."""

from collections.abc import Sequence

from dagster import (
    DefaultScheduleStatus,
    DynamicPartitionsDefinition,
    JobDefinition,
    MetadataValue,
    OpExecutionContext,
    Output,
    ScheduleDefinition,
    job,
    op,
)

from kn_zoho.defs.resources import StorefrontDatabase
from kn_zoho.sync.retirement import RetirementPolicy, retire_partitions

RETIREMENT_CRON = "17 3 * * *"  # 03:17 IST, when the storefront is quiet


def retirement_job(targets: Sequence[tuple[DynamicPartitionsDefinition, str]]) -> JobDefinition:
    """The job over each (partitions definition, queue entity) pair."""

    @op(description="Removes the partitions of records synced and unchanged for longer than "
        "KN_ZOHO_PARTITION_RETENTION_DAYS, and the oldest synced ones beyond "
        "KN_ZOHO_MAX_PARTITIONS_PER_ASSET; their history stays in integration.zoho_sync_logs.")
    def retire_long_synced_partitions(context: OpExecutionContext, storefront: StorefrontDatabase
                                 ) -> Output[None]:
        policy = RetirementPolicy.from_env()
        engine = storefront.get_engine()
        rows = ["| partitions | retired | expired | over cap | remaining |",
                "|---|---|---|---|---|"]
        metadata: dict[str, object] = {}
        for partitions_def, entity in targets:
            result = retire_partitions(engine, context.instance, partitions_def.name, entity,
                                       policy)
            context.log.info(f"{result.partitions_def_name}: retired {result.retired}, "
                             f"{result.remaining} partitions remain")
            rows.append(f"| {result.partitions_def_name} | {result.retired} | {result.expired} "
                        f"| {result.over_cap} | {result.remaining} |")
            metadata[f"{result.partitions_def_name}_remaining"] = result.remaining
            metadata[f"{result.partitions_def_name}_retired"] = result.retired
        metadata["retention_days"] = policy.retention_days
        metadata["max_partitions_per_asset"] = policy.max_partitions
        metadata["summary"] = MetadataValue.md("\n".join(rows))
        return Output(None, metadata=metadata)

    @job(name="retire_synced_partitions",
         description="Keeps every synced asset under Dagster's advised partition count.")
    def _job() -> None:
        retire_long_synced_partitions()

    return _job


def retirement_schedule(job_def: JobDefinition) -> ScheduleDefinition:
    return ScheduleDefinition(job=job_def, cron_schedule=RETIREMENT_CRON,
                              execution_timezone="Asia/Kolkata",
                              default_status=DefaultScheduleStatus.RUNNING)
