"""The pattern every outbound flow uses in Dagster.

queue (Postgres) -> sensor (queue_sensor.py) adds new record keys as dynamic partitions and
launches one batched run over them -> the asset runs the flow over its partition range and
yields one AssetMaterialization per synced record and one AssetObservation with the state of
each record that did not sync (record_events.py) -> if any record failed for good (bad data,
dead) it raises at the end, so exactly those partitions show as failed; records waiting for
their retry do not turn red. Materialising a partition by hand (or a backfill launched from
the UI) is the admin's manual retry: the record is taken now, whatever its backoff.

The asset is a generator with ``output_required=False`` and never yields an Output: the
framework then records no range-wide materialization on success, so each record has exactly
one materialization per successful attempt.
"""


from collections.abc import Callable, Iterator

from dagster import (
    AssetExecutionContext,
    AssetMaterialization,
    AssetObservation,
    AssetsDefinition,
    BackfillPolicy,
    Backoff,
    DynamicPartitionsDefinition,
    Failure,
    RetryPolicy,
    asset,
)
from dagster._core.storage.tags import PARENT_RUN_ID_TAG

from kn_zoho.defs.record_events import raise_if_failed, raise_if_not_taken, record_events
from kn_zoho.defs.resources import ZohoResource
from kn_zoho.storefront import queue
from kn_zoho.sync.errors import SetupError
from kn_zoho.sync.reports import RecordResult, SyncReport
from kn_zoho.sync.runner import Flow, run_flow
from kn_zoho.zoho.factory import ZohoClients

SENSOR_TAG = "dagster/sensor_name"
# A step that fails (a dropped database connection) is retried as a manual retry of its own
# records: after 15 s, then 30 s.
SYNC_RETRY_POLICY = RetryPolicy(max_retries=2, delay=15, backoff=Backoff.EXPONENTIAL)


def is_manual_retry(context: AssetExecutionContext) -> bool:
    """A run started by hand, a backfill, a re-execution of any run (Dagster copies a sensor
    run's tags, so the sensor tag alone would make it a no-op) or a step retry: it takes its
    records now, whatever their backoff, and fails naming any it could not take."""
    tags = context.run.tags
    return SENSOR_TAG not in tags or PARENT_RUN_ID_TAG in tags or context.retry_number > 0


def queue_asset(*, name: str, entity: str, partitions_def: DynamicPartitionsDefinition,
                flow: Callable[[ZohoClients], Flow], resource_key: str, product: str,
                description: str, retry_policy: RetryPolicy = SYNC_RETRY_POLICY
                ) -> AssetsDefinition:
    """A partitioned asset whose partitions are storefront records of ``entity``."""

    @asset(
        name=name,
        description=description,
        partitions_def=partitions_def,
        backfill_policy=BackfillPolicy.single_run(),
        output_required=False,
        retry_policy=retry_policy,
        pool=f"zoho_{product}",
        group_name=f"zoho_{product}",
        kinds={"zoho", "postgres"},
        required_resource_keys={resource_key},
    )
    def _sync(context: AssetExecutionContext) -> Iterator[AssetMaterialization | AssetObservation]:
        zoho: ZohoResource = getattr(context.resources, resource_key)
        clients = zoho.get_clients()
        manual = is_manual_retry(context)
        engine = zoho.storefront.get_engine()

        def is_run_alive(run_id: str) -> bool | None:  # may a manual retry break its lease?
            run = context.instance.get_run_by_id(run_id)
            return None if run is None else not run.is_finished

        keys, earlier = context.partition_keys, []
        if context.retry_number > 0:  # what an earlier try synced is not synced again
            earlier = queue.synced_in_run(engine, entity, keys, context.run.run_id)
            done = {record.record_key for record in earlier}
            keys = [key for key in keys if key not in done]
        # a lost database connection raises InfrastructureError: the step fails and is retried
        try:
            report = run_flow(engine, flow(clients), run_id=context.run.run_id,
                              run_kind="dagster", keys=keys, force=manual,
                              is_run_alive=is_run_alive) if keys else SyncReport(entity)
        except SetupError as error:  # nothing was claimed; a step retry cannot fix the org
            raise Failure(description=str(error), allow_retries=False) from error
        report.results[:0] = [RecordResult(
            entity, record.record_key, "synced", record.operation, record.attempt,
            record.zoho_id, None, None, {"synced_by": "an earlier try of this step"})
            for record in earlier]
        yield from record_events(context, report, engine)
        context.log.info(
            f"{entity}: {report.count('synced')} synced, {len(report.failures)} not, "
            f"{report.api_calls} Zoho API calls")
        raise_if_failed(report)
        if manual:
            raise_if_not_taken(engine, report, context.partition_keys)

    return _sync
