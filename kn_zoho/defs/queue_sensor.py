"""The queue sensor: adds new record keys as dynamic partitions and launches batched runs.

Timing follows the queue: a record is launched as soon as it is due (new, edited, or its
backoff has passed), with no time-based hold. What stops a second launch of the same record is
state in Postgres (``integration.sensor_launches``): each run request carries a launch id tag,
and while the run with that tag is queued, starting or running its records are not launched
again. Once that run has ended, a record that is still due (the run failed transiently on it,
or ended without taking it) is launched again at once. The cursor is not used, so the sensor
page stays small whatever the backlog. While Zoho's daily budget is spent for the entity's
priority the sensor launches nothing and says so ("daily Books budget spent, resumes at ...").
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from dagster import (
    AssetsDefinition,
    AssetSelection,
    DagsterInstance,
    DagsterRunStatus,
    DefaultSensorStatus,
    DynamicPartitionsDefinition,
    RunRequest,
    RunsFilter,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    sensor,
)
from dagster._core.storage.tags import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
)

from kn_zoho.defs.resources import StorefrontDatabase
from kn_zoho.storefront import launches, queue
from kn_zoho.zoho import budget_status

PRODUCT_TAG = "kn_zoho/zoho_product"
LAUNCH_TAG = "kn_zoho/launch_id"
MAX_KEYS_PER_RUN = 1000
MAX_RUNS_PER_TICK = 4
# A launch whose run never appeared (the tick's requests were never submitted) stops holding
# its records after this long; a submitted run appears within a second or two.
LOST_LAUNCH_AFTER = timedelta(minutes=2)
_ACTIVE = {DagsterRunStatus.QUEUED, DagsterRunStatus.NOT_STARTED, DagsterRunStatus.STARTING,
           DagsterRunStatus.STARTED, DagsterRunStatus.CANCELING, DagsterRunStatus.MANAGED}


def held_keys(instance: DagsterInstance, engine: sa.Engine, entity: str, keys: Sequence[str]
              ) -> set[str]:
    """Those of ``keys`` whose last launched run is still queued or running (or was launched
    moments ago and has not appeared yet); launches of runs that ended are forgotten."""
    known = launches.launches_for(engine, entity, keys)
    if not known:
        return set()
    ids = sorted({launch.launch_id for launch in known.values()})
    runs = instance.get_runs(RunsFilter(tags={LAUNCH_TAG: ids}))
    seen: dict[str, bool] = {}  # launch id -> some run of it is still active (re-executions)
    for run in runs:
        launch_id = run.tags[LAUNCH_TAG]
        seen[launch_id] = seen.get(launch_id, False) or run.status in _ACTIVE
    now = datetime.now(UTC)
    first_launched: Mapping[str, datetime] = {
        launch.launch_id: launch.launched_at for launch in known.values()}
    held_ids = {i for i in ids if seen.get(i)
                or (i not in seen and now - first_launched[i] < LOST_LAUNCH_AFTER)}
    launches.forget_launches(engine, [i for i in ids if i not in held_ids])
    return {key for key, launch in known.items() if launch.launch_id in held_ids}


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


def queue_sensor(*, asset_def: AssetsDefinition, entity: str,
                 partitions_def: DynamicPartitionsDefinition, product: str,
                 interval_seconds: int = 30):
    """Adds new record keys as partitions and launches batched runs over due records.

    The runs materialise the asset only: its checks are evaluated on their own schedule
    (``queue_health_schedule``), so a sync run never leaves them skipped.
    """

    @sensor(
        name=f"{asset_def.key.to_user_string()}_sensor",
        description=f"Launches sync runs for new and due {entity} records in the queue.",
        asset_selection=AssetSelection.assets(asset_def.key).without_checks(),
        minimum_interval_seconds=interval_seconds,
        default_status=DefaultSensorStatus.RUNNING,
    )
    def _sensor(context: SensorEvaluationContext, storefront: StorefrontDatabase
                ) -> SensorResult | SkipReason:
        engine = storefront.get_engine()
        due = [r.record_key for r in queue.due_records(engine, entity)]
        if not due:  # the usual tick: skip listing every partition key
            return SensorResult()
        pause = budget_status.pause_for(engine, entity)
        if pause is not None:  # a run now would only give its claims back
            return SkipReason(f"{len(due)} due {entity} records wait: {pause.message}")
        held = held_keys(context.instance, engine, entity, due)
        due = [key for key in due if key not in held]
        if not due:
            return SensorResult()
        existing = context.instance.get_dynamic_partitions(partitions_def.name)
        known = set(existing)
        new = [key for key in due if key not in known][:MAX_KEYS_PER_RUN]
        batches = ([new] if new else []) + _segments(
            {k for k in due if k in known}, existing)[:MAX_RUNS_PER_TICK]
        run_requests = []
        for keys in batches:
            launch_id = uuid.uuid4().hex
            launches.record_launch(engine, entity, keys, launch_id)
            context.log.info(f"launching a {entity} run over {len(keys)} records "
                             f"({keys[0]} .. {keys[-1]})")
            run_requests.append(RunRequest(
                run_key=launch_id,
                asset_selection=[asset_def.key], asset_check_keys=[],
                tags={ASSET_PARTITION_RANGE_START_TAG: keys[0],
                      ASSET_PARTITION_RANGE_END_TAG: keys[-1],
                      PRODUCT_TAG: product, LAUNCH_TAG: launch_id}))
        return SensorResult(
            run_requests=run_requests,
            dynamic_partitions_requests=[partitions_def.build_add_request(new)] if new else [],
        )

    return _sensor
