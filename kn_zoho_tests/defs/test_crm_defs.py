"""The Dagster pattern on a real DagsterInstance: sensor tick -> batched run -> per-record
partition status, manual retry, sensor-driven retries. Runs execute in-process."""

from __future__ import annotations

import sqlalchemy as sa
from dagster import (
    AssetKey,
    AssetObservation,
    AssetPartitionStatus,
    DagsterInstance,
    DagsterRun,
    DagsterRunStatus,
    SensorResult,
    build_sensor_context,
    materialize,
)
from dagster._core.event_api import AssetRecordsFilter
from dagster._core.utils import make_new_run_id

from kn_zoho.defs.crm.assets import crm_contact_partitions, crm_contacts
from kn_zoho.defs.crm.sensors import crm_contacts_sensor
from kn_zoho.defs.queue_assets import SENSOR_TAG
from kn_zoho.defs.queue_sensor import LAUNCH_TAG, LOST_LAUNCH_AFTER
from kn_zoho.storefront.seed import seed

ASSET = AssetKey("crm_contacts")




def _tick(instance: DagsterInstance, resources: dict) -> SensorResult:
    context = build_sensor_context(instance=instance,
                                   resources={"storefront": resources["storefront"]})
    result = crm_contacts_sensor(context)
    for request in result.dynamic_partitions_requests or []:
        instance.add_dynamic_partitions(request.partitions_def_name, request.partition_keys)
    return result


def _launch(instance: DagsterInstance, resources: dict, result: SensorResult) -> list[bool]:
    """Execute the sensor's run requests in-process, as the daemon would launch them."""
    outcomes = []
    for request in result.run_requests:
        run = materialize([crm_contacts], instance=instance,
                          resources={"zoho_crm": resources["zoho_crm"]},
                          tags={**request.tags, SENSOR_TAG: "crm_contacts_sensor"},
                          raise_on_error=False)
        outcomes.append(run.success)
    return outcomes


def _statuses(instance: DagsterInstance, keys: list[str]) -> dict[str, AssetPartitionStatus]:
    return instance.get_status_by_partition(ASSET, keys, crm_contact_partitions)


def _observations(instance: DagsterInstance, key: str) -> list[AssetObservation]:
    """The observations on one partition, newest first."""
    records = instance.fetch_observations(
        AssetRecordsFilter(asset_key=ASSET, asset_partitions=[key]), limit=20).records
    return [r.asset_observation for r in records]


def _age_launches(engine: sa.Engine, minutes: float) -> None:
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE integration.sensor_launches SET launched_at = "
                             "launched_at - make_interval(secs => :s)"), {"s": minutes * 60})


def _user_ids(engine: sa.Engine) -> list[str]:
    with engine.connect() as conn:
        return [str(r[0]) for r in conn.execute(sa.text("SELECT id FROM users ORDER BY id"))]


def test_sensor_run_marks_exactly_the_failed_record_and_manual_retry_fixes_it(
        engine: sa.Engine, instance: DagsterInstance, resources: dict, sandbox) -> None:
    seed(engine, users=6, products=1, orders=0, inquiries=0, quote_requests=0)
    users = _user_ids(engine)
    bad = users[2]
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE users SET gstin = '29AAAAA0000A1Z0' WHERE id = :id"),
                     {"id": bad})

    tick = _tick(instance, resources)
    assert len(tick.run_requests) == 1
    assert sorted(instance.get_dynamic_partitions("crm_contacts")) == users
    assert _launch(instance, resources, tick) == [False]  # one record failed

    statuses = _statuses(instance, users)
    assert statuses[bad] == AssetPartitionStatus.FAILED
    assert all(statuses[u] == AssetPartitionStatus.MATERIALIZED for u in users if u != bad)
    events = instance.fetch_materializations(ASSET, limit=100).records
    assert sorted(e.partition_key for e in events) == sorted(u for u in users if u != bad)
    metadata = events[0].asset_materialization.metadata
    assert metadata["zoho_id"].value and metadata["operation"].value == "upsert:insert"
    assert "@" in events[0].asset_materialization.description  # the user's email, searchable
    # the failed partition says why, on the partition itself
    observed = _observations(instance, bad)
    assert len(observed) == 1
    assert observed[0].metadata["state"].value == "failed on bad data"
    assert observed[0].metadata["field"].value == "gstin"
    assert "gstin" in observed[0].metadata["what_to_do"].value
    assert "failed on bad data" in observed[0].description
    assert tick.cursor is None  # sensor state lives in Postgres, not in the cursor

    # permanent failure: the sensor launches nothing more for it
    assert _tick(instance, resources).run_requests == []

    # manual retry (Materialize on the partition) while the data is still bad: fails again
    assert not materialize([crm_contacts], instance=instance, partition_key=bad,
                           resources={"zoho_crm": resources["zoho_crm"]},
                           raise_on_error=False).success
    # once the admin fixes the data, the manual retry syncs it now
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE users SET gstin = NULL WHERE id = :id"), {"id": bad})
    assert materialize([crm_contacts], instance=instance, partition_key=bad,
                       resources={"zoho_crm": resources["zoho_crm"]}).success
    assert _statuses(instance, [bad])[bad] == AssetPartitionStatus.MATERIALIZED
    assert len(sandbox.records("crm_contacts")) == 6


def test_transient_failures_are_retrying_not_red_and_relaunched_when_the_run_ended(
        engine: sa.Engine, instance: DagsterInstance, resources: dict, sandbox) -> None:
    seed(engine, users=4, products=1, orders=0, inquiries=0, quote_requests=0)
    users = _user_ids(engine)
    sandbox.faults(write_error_rate=1.0)  # reads (the CRM field check) work
    tick = _tick(instance, resources)
    assert tick.run_requests[0].asset_check_keys == []  # checks run on their own schedule
    # only transient failures: nothing failed for good, so the run and partitions are not red
    assert _launch(instance, resources, tick) == [True]
    assert AssetPartitionStatus.FAILED not in set(_statuses(instance, users).values())
    state = _observations(instance, users[0])[0].metadata
    assert state["state"].value == "retrying"
    assert (state["attempt"].value, state["max_attempts"].value) == (1, 5)
    assert state["next_attempt_at"].value.endswith("UTC") and state["error"].value

    sandbox.faults(write_error_rate=0)
    # the run that had the records has ended and they are due again: relaunched at once
    retry = _tick(instance, resources)
    assert len(retry.run_requests) == 1
    assert retry.dynamic_partitions_requests == []
    assert _launch(instance, resources, retry) == [True]
    assert set(_statuses(instance, users).values()) == {AssetPartitionStatus.MATERIALIZED}
    assert len(instance.fetch_materializations(ASSET, limit=100).records) == 4


def test_sensor_does_not_relaunch_keys_while_their_run_is_queued_or_running(
        engine: sa.Engine, instance: DagsterInstance, resources: dict, sandbox) -> None:
    seed(engine, users=3, products=1, orders=0, inquiries=0, quote_requests=0)
    first = _tick(instance, resources)
    assert len(first.run_requests) == 1
    # the daemon has not created the run yet: the next tick must not launch the records again
    assert _tick(instance, resources).run_requests == []
    # the run exists and is running, even long after the launch: still held
    launch_id = first.run_requests[0].tags[LAUNCH_TAG]
    run = instance.add_run(DagsterRun(job_name="__ASSET_JOB", run_id=make_new_run_id(),
                                      status=DagsterRunStatus.STARTED,
                                      tags={LAUNCH_TAG: launch_id}))
    _age_launches(engine, minutes=30)
    assert _tick(instance, resources).run_requests == []
    # it ended without taking them (e.g. canceled): the records go out again at once
    instance.report_run_canceled(run)
    again = _tick(instance, resources)
    assert len(again.run_requests) == 1
    assert again.run_requests[0].tags[LAUNCH_TAG] != launch_id


def test_a_launch_whose_run_never_appeared_is_relaunched_after_a_grace(
        engine: sa.Engine, instance: DagsterInstance, resources: dict, sandbox) -> None:
    seed(engine, users=2, products=1, orders=0, inquiries=0, quote_requests=0)
    assert len(_tick(instance, resources).run_requests) == 1
    assert _tick(instance, resources).run_requests == []
    _age_launches(engine, minutes=LOST_LAUNCH_AFTER.total_seconds() / 60 + 1)
    assert len(_tick(instance, resources).run_requests) == 1


def test_wrong_field_layout_fails_the_run_once_and_leaves_every_record_pending(
        engine: sa.Engine, instance: DagsterInstance, resources: dict, sandbox) -> None:
    seed(engine, users=4, products=1, orders=0, inquiries=0, quote_requests=0)
    sandbox.post("/__sandbox/crm/fields", {"module": "Contacts", "api_name": "KN_User_ID",
                                           "unique": False})
    tick = _tick(instance, resources)
    run = materialize([crm_contacts], instance=instance,
                      resources={"zoho_crm": resources["zoho_crm"]},
                      tags={**tick.run_requests[0].tags, SENSOR_TAG: "crm_contacts_sensor"},
                      raise_on_error=False)
    assert not run.success
    [failure] = run.get_step_failure_events()
    message = str(failure.step_failure_data.error)
    assert "Contacts.KN_User_ID" in message and "is not unique" in message
    retries = [e for e in run.all_events if e.event_type_value == "STEP_UP_FOR_RETRY"]
    assert retries == []  # no step retry: it cannot fix the org
    assert sandbox.records("crm_contacts") == []
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT status, attempts FROM integration.zoho_sync_queue "
                                    "WHERE entity = 'crm_contact'")).all()
    assert sorted(rows) == [("pending", 0)] * 4
