"""The pattern every outbound flow uses in Dagster.

queue (Postgres) -> sensor adds new record keys as dynamic partitions and launches one batched
run over them -> the asset runs the flow over its partition range and yields one
AssetMaterialization per synced record -> if any record failed it raises at the end, so exactly
those partitions show as failed. Materialising a partition by hand (or a backfill launched from
the UI) is the admin's manual retry: the record is taken now, whatever its backoff.

The asset is a generator with ``output_required=False`` and never yields an Output: the
framework then records no range-wide materialization on success, so each record has exactly
one materialization per successful attempt.
"""


import hashlib
import json
import time
from collections.abc import Callable, Iterator, Sequence

from dagster import (
    AssetExecutionContext,
    AssetMaterialization,
    AssetsDefinition,
    BackfillPolicy,
    Backoff,
    DefaultSensorStatus,
    DynamicPartitionsDefinition,
    Failure,
    MetadataValue,
    RetryPolicy,
    RunRequest,
    SensorEvaluationContext,
    SensorResult,
    asset,
    sensor,
)
from dagster._core.storage.tags import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
)

from kn_zoho.defs.resources import StorefrontDatabase, ZohoResource
from kn_zoho.storefront import queue
from kn_zoho.sync.runner import Flow, RecordResult, run_flow
from kn_zoho.zoho.factory import ZohoClients

SENSOR_TAG = "dagster/sensor_name"
PRODUCT_TAG = "kn_zoho/zoho_product"
MAX_KEYS_PER_RUN = 1000
MAX_RUNS_PER_TICK = 4
RELAUNCH_AFTER_SECONDS = 600  # a launched run that never claimed its keys: launch again


def _materialization(context: AssetExecutionContext, result: RecordResult
                     ) -> AssetMaterialization:
    return AssetMaterialization(
        asset_key=context.asset_key,
        partition=result.record_key,
        description=f"{result.entity} {result.record_key}: {result.operation}",
        metadata={
            "zoho_id": result.zoho_id or "",
            "operation": result.operation,
            "attempt": result.attempt,
            **(result.metadata or {}),
        },
    )


def _failure_table(failures: Sequence[RecordResult]) -> str:
    rows = ["| record | status | attempt | error |", "|---|---|---|---|"]
    for f in failures:
        message = (f.error_message or "").replace("|", "\\|").replace("\n", " ")
        rows.append(f"| {f.record_key} | {f.status} | {f.attempt} | {f.error_code}: {message} |")
    return "\n".join(rows)


def queue_asset(*, name: str, entity: str, partitions_def: DynamicPartitionsDefinition,
                flow: Callable[[ZohoClients], Flow], resource_key: str, product: str,
                description: str) -> AssetsDefinition:
    """A partitioned asset whose partitions are storefront records of ``entity``."""

    @asset(
        name=name,
        description=description,
        partitions_def=partitions_def,
        backfill_policy=BackfillPolicy.single_run(),
        output_required=False,
        retry_policy=RetryPolicy(max_retries=2, delay=15, backoff=Backoff.EXPONENTIAL),
        pool=f"zoho_{product}",
        group_name=f"zoho_{product}",
        kinds={"zoho", "postgres"},
        required_resource_keys={resource_key},
    )
    def _sync(context: AssetExecutionContext) -> Iterator[AssetMaterialization]:
        zoho: ZohoResource = getattr(context.resources, resource_key)
        clients = zoho.get_clients()
        manual = SENSOR_TAG not in context.run.tags

        def is_run_alive(run_id: str) -> bool | None:  # may a manual retry break its lease?
            run = context.instance.get_run_by_id(run_id)
            return None if run is None else not run.is_finished

        # a lost database connection raises InfrastructureError: the step fails and is retried
        report = run_flow(zoho.storefront.get_engine(), flow(clients),
                          run_id=context.run.run_id, run_kind="dagster",
                          keys=context.partition_keys, force=manual, is_run_alive=is_run_alive)
        for result in report.results:
            if result.status == "synced":
                yield _materialization(context, result)
        context.log.info(
            f"{entity}: {report.count('synced')} synced, {len(report.failures)} not, "
            f"{report.api_calls} Zoho API calls")
        if report.failures:
            raise Failure(
                description=f"{len(report.failures)} of {len(report.results)} {entity} records "
                "did not sync: "
                + ", ".join(f"{f.record_key} ({f.status}: {f.error_message})"
                            for f in report.failures[:20]),
                metadata={
                    "failed_records": MetadataValue.md(_failure_table(report.failures)),
                    "synced": report.count("synced"),
                    "failed": report.count("failed"),
                    "dead": report.count("dead"),
                    "retry_scheduled": report.count("pending"),
                    "leased": report.count("leased"),
                    "api_calls": report.api_calls,
                },
                allow_retries=False,  # per-record retries come from the queue's backoff
            )

    return _sync


def _segments(keys: set[str], order: Sequence[str]) -> list[list[str]]:
    """Maximal runs of ``keys`` that are contiguous in partition order."""
    segments: list[list[str]] = []
    current: list[str] = []
    for key in order:
        if key in keys:
            current.append(key)
            if len(current) == MAX_KEYS_PER_RUN:
                segments.append(current)
                current = []
        elif current:
            segments.append(current)
            current = []
    if current:
        segments.append(current)
    return sorted(segments, key=len, reverse=True)


def _range_request(keys: Sequence[str], records: dict[str, queue.DueRecord], product: str
                   ) -> RunRequest:
    state = ",".join(f"{k}:{records[k].version}:{records[k].attempts}" for k in keys)
    return RunRequest(
        run_key=hashlib.sha256(state.encode()).hexdigest()[:32],
        tags={ASSET_PARTITION_RANGE_START_TAG: keys[0], ASSET_PARTITION_RANGE_END_TAG: keys[-1],
              PRODUCT_TAG: product},
    )


def queue_sensor(*, asset_def: AssetsDefinition, entity: str,
                 partitions_def: DynamicPartitionsDefinition, product: str,
                 interval_seconds: int = 30):
    """Adds new record keys as partitions and launches batched runs over due records."""

    @sensor(
        name=f"{asset_def.key.to_user_string()}_sensor",
        description=f"Launches sync runs for new and due {entity} records in the queue.",
        asset_selection=[asset_def.key],
        minimum_interval_seconds=interval_seconds,
        default_status=DefaultSensorStatus.RUNNING,
    )
    def _sensor(context: SensorEvaluationContext, storefront: StorefrontDatabase
                ) -> SensorResult:
        now = time.time()
        recent: dict[str, float] = {
            key: at for key, at in json.loads(context.cursor or "{}").items()
            if now - at < RELAUNCH_AFTER_SECONDS}
        due = {r.record_key: r for r in queue.due_records(storefront.get_engine(), entity)
               if r.record_key not in recent}
        if not due:  # the usual tick: skip listing every partition key
            return SensorResult(cursor=json.dumps(recent))
        existing = context.instance.get_dynamic_partitions(partitions_def.name)
        known = set(existing)
        new = [key for key in due if key not in known][:MAX_KEYS_PER_RUN]
        batches = ([new] if new else []) + _segments(
            {k for k in due if k in known}, existing)[:MAX_RUNS_PER_TICK]
        run_requests = []
        for keys in batches:
            context.log.info(f"launching a {entity} run over {len(keys)} records "
                             f"({keys[0]} .. {keys[-1]})")
            run_requests.append(_range_request(keys, due, product))
            recent.update(dict.fromkeys(keys, now))
        return SensorResult(
            run_requests=run_requests,
            dynamic_partitions_requests=[partitions_def.build_add_request(new)] if new else [],
            cursor=json.dumps(recent),
        )

    return _sensor
