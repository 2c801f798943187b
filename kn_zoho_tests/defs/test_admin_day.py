"""The admin's day on a real DagsterInstance: retries follow the backoff, the health checks
evaluate on their own and name the dead records, a re-execution really retries. Sensor ticks
and runs execute in-process, as the daemon would launch them."""

from __future__ import annotations

import time

import pytest
import sqlalchemy as sa
from dagster import (
    AssetCheckKey,
    AssetKey,
    DagsterInstance,
    Definitions,
    build_sensor_context,
    materialize,
)
from dagster._core.storage.tags import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
    PARENT_RUN_ID_TAG,
)

from kn_zoho.defs.crm.assets import crm_contacts
from kn_zoho.defs.crm.sensors import crm_contacts_sensor
from kn_zoho.defs.health import queue_checks
from kn_zoho.defs.queue_assets import SENSOR_TAG
from kn_zoho.defs.status import status_job, status_schedule, sync_status
from kn_zoho.storefront import queue
from kn_zoho.storefront.seed import seed

ASSET = AssetKey("crm_contacts")
BASE = 0.5          # retry base in seconds: gaps 0.5, 1, 2, 4
TICK = 0.1          # the sensor interval this test drives
SLACK = TICK + 0.5  # one interval plus the tick's own work on a busy machine


@pytest.fixture
def retry_base_seconds() -> float:
    return BASE


def _tick_and_run(instance: DagsterInstance, resources: dict) -> list[float]:
    """One sensor tick; its runs executed in-process. Returns the launch times."""
    context = build_sensor_context(instance=instance,
                                   resources={"storefront": resources["storefront"]})
    result = crm_contacts_sensor(context)
    launched = time.time()
    for request in result.dynamic_partitions_requests or []:
        instance.add_dynamic_partitions(request.partitions_def_name, request.partition_keys)
    for request in result.run_requests:
        materialize([crm_contacts], instance=instance,
                    resources={"zoho_crm": resources["zoho_crm"]},
                    tags={**request.tags, SENSOR_TAG: "crm_contacts_sensor"},
                    raise_on_error=False)
    return [launched] * len(result.run_requests)


def _finished_at(engine: sa.Engine) -> list[float]:
    with engine.connect() as conn:
        return [row[0] for row in conn.execute(sa.text(
            "SELECT extract(epoch FROM finished_at) FROM integration.zoho_sync_logs "
            "ORDER BY attempt"))]


def test_retry_gaps_follow_the_backoff_to_within_one_sensor_interval(
        engine: sa.Engine, instance: DagsterInstance, resources: dict, sandbox) -> None:
    seed(engine, users=1, products=1, orders=0, inquiries=0, quote_requests=0)
    sandbox.faults(write_error_rate=1.0)  # reads (the CRM field check) work
    launches: list[float] = []
    deadline = time.time() + 60
    while len(launches) < 5 and time.time() < deadline:
        launches += _tick_and_run(instance, resources)
        time.sleep(TICK)
    assert len(launches) == 5
    finished = [float(f) for f in _finished_at(engine)]
    assert len(finished) == 5
    gaps = [launches[n + 1] - finished[n] for n in range(4)]
    print("retry gaps (s) after attempts 1-4:", [round(g, 2) for g in gaps])
    for n, gap in enumerate(gaps):
        backoff = BASE * 2 ** n
        assert backoff - 0.05 <= gap <= backoff + SLACK, (n, gaps)
    assert queue.status_counts(engine, "crm_contact")["dead"] == 1


def _defs(resources: dict) -> Definitions:
    checks = queue_checks(crm_contacts, "crm_contact")
    job = status_job(checks)
    return Definitions(assets=[crm_contacts, sync_status], asset_checks=checks, jobs=[job],
                       schedules=[status_schedule(job)], resources=resources)


def test_health_checks_evaluate_on_their_own_and_name_the_dead_records(
        engine: sa.Engine, instance: DagsterInstance, resources: dict, sandbox) -> None:
    seed(engine, users=3, products=1, orders=0, inquiries=0, quote_requests=0)
    with engine.begin() as conn:
        dead_key, email = conn.execute(sa.text(
            "SELECT id::text, email FROM users ORDER BY id LIMIT 1")).one()
        conn.execute(sa.text(
            "UPDATE integration.zoho_sync_queue SET status = 'dead', attempts = 5, "
            "last_error_code = 'INTERNAL_ERROR', last_error_message = 'Zoho said no' "
            "WHERE record_key = :k"), {"k": dead_key})
    defs = _defs(resources)
    schedule = defs.resolve_schedule_def("zoho_status_schedule")
    assert schedule.cron_schedule == "* * * * *"
    assert schedule.default_status.value == "RUNNING"

    result = defs.resolve_job_def("zoho_status_job").execute_in_process(instance=instance)
    assert result.success
    dead = instance.get_latest_asset_check_evaluation_record(
        AssetCheckKey(ASSET, "no_dead_letters"))
    evaluation = dead.event.dagster_event.event_specific_data
    assert evaluation.passed is False
    assert evaluation.metadata["dead_records"].value == 1
    assert dead_key in evaluation.metadata["dead_record_keys"].value
    assert "Zoho said no" in evaluation.metadata["dead_letters"].value
    assert f"partition={dead_key}" in evaluation.metadata["dead_letters"].value
    overdue = instance.get_latest_asset_check_evaluation_record(
        AssetCheckKey(ASSET, "no_overdue_records"))
    assert overdue.event.dagster_event.event_specific_data.passed  # just enqueued: on time

    status = instance.fetch_materializations(AssetKey("sync_status"), limit=1).records[0]
    metadata = status.asset_materialization.metadata
    assert metadata["dead_records"].value == 1
    assert metadata["pending_records"].value == 3  # two users and the product
    assert email in metadata["needs_attention"].value  # findable by email on this page


def test_a_sensor_run_leaves_no_skipped_check(
        engine: sa.Engine, instance: DagsterInstance, resources: dict, sandbox) -> None:
    seed(engine, users=2, products=1, orders=0, inquiries=0, quote_requests=0)
    context = build_sensor_context(instance=instance,
                                   resources={"storefront": resources["storefront"]})
    request = crm_contacts_sensor(context).run_requests[0]
    assert request.asset_check_keys == []
    assert request.asset_selection == [ASSET]


def test_re_execution_of_a_sensor_run_retries_its_records_for_real(
        engine: sa.Engine, instance: DagsterInstance, resources: dict, sandbox) -> None:
    seed(engine, users=2, products=1, orders=0, inquiries=0, quote_requests=0)
    with engine.begin() as conn:
        keys = [r[0] for r in conn.execute(sa.text("SELECT id::text FROM users ORDER BY id"))]
        conn.execute(sa.text("UPDATE integration.zoho_sync_queue SET status = 'dead', "
                             "attempts = 5, next_attempt_at = now() + interval '1 day'"))
    instance.add_dynamic_partitions("crm_contacts", keys)
    tags = {SENSOR_TAG: "crm_contacts_sensor", PARENT_RUN_ID_TAG: "a-failed-run",
            ASSET_PARTITION_RANGE_START_TAG: keys[0], ASSET_PARTITION_RANGE_END_TAG: keys[-1]}
    run = materialize([crm_contacts], instance=instance, tags=tags,
                      resources={"zoho_crm": resources["zoho_crm"]})
    assert run.success
    assert queue.status_counts(engine, "crm_contact")["synced"] == 2
    assert len(sandbox.records("crm_contacts")) == 2


def test_a_manual_retry_that_cannot_take_its_record_fails_naming_the_holder(
        engine: sa.Engine, instance: DagsterInstance, resources: dict, sandbox) -> None:
    seed(engine, users=1, products=1, orders=0, inquiries=0, quote_requests=0)
    [claim] = queue.claim(engine, "crm_contact", worker="run-that-holds-it")
    instance.add_dynamic_partitions("crm_contacts", [claim.record_key])
    run = materialize([crm_contacts], instance=instance, partition_key=claim.record_key,
                      resources={"zoho_crm": resources["zoho_crm"]}, raise_on_error=False)
    assert not run.success
    [failure] = [e for e in run.all_events if e.event_type_value == "STEP_FAILURE"]
    message = failure.step_failure_data.user_failure_data.description
    assert "held by cli run run-that-holds-it" in message and claim.record_key in message
    assert "still running" in message  # the runner asked: the holder is alive
