"""The Dagster pattern on a real DagsterInstance: sensor tick -> batched run -> per-record
partition status, manual retry, sensor-driven retries. Runs execute in-process."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from cryptography.fernet import Fernet
from dagster import (
    AssetKey,
    AssetPartitionStatus,
    DagsterInstance,
    SensorResult,
    build_sensor_context,
    materialize,
)

from kn_zoho.defs.crm.assets import crm_contact_partitions, crm_contacts
from kn_zoho.defs.crm.sensors import crm_contacts_sensor
from kn_zoho.defs.queue_assets import SENSOR_TAG
from kn_zoho.defs.resources import StorefrontDatabase, ZohoCrmResource
from kn_zoho.sandbox import credentials
from kn_zoho.storefront.seed import seed

ASSET = AssetKey("crm_contacts")


@pytest.fixture
def instance() -> DagsterInstance:
    with DagsterInstance.ephemeral() as instance:
        yield instance


@pytest.fixture
def resources(database_url: str, sandbox, monkeypatch: pytest.MonkeyPatch) -> dict:
    monkeypatch.setenv("KN_ZOHO_SECRET_KEY", Fernet.generate_key().decode())
    monkeypatch.setenv("KN_ZOHO_RETRY_BASE_SECONDS", "0")
    storefront = StorefrontDatabase(database_url=database_url)
    zoho = ZohoCrmResource(
        storefront=storefront, client_id=credentials.DEMO_CLIENT_ID,
        client_secret=credentials.DEMO_CLIENT_SECRET,
        refresh_token=credentials.DEMO_REFRESH_TOKEN, accounts_url=sandbox.base_url,
        attempts_per_call=1, retry_backoff_seconds=0.001)
    return {"storefront": storefront, "zoho_crm": zoho}


def _tick(instance: DagsterInstance, resources: dict, cursor: str | None = None
          ) -> SensorResult:
    context = build_sensor_context(instance=instance, cursor=cursor,
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

    # permanent failure: the sensor launches nothing more for it
    assert _tick(instance, resources, tick.cursor).run_requests == []

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


def test_transient_failures_are_relaunched_by_the_sensor_as_a_contiguous_range(
        engine: sa.Engine, instance: DagsterInstance, resources: dict, sandbox) -> None:
    seed(engine, users=4, products=1, orders=0, inquiries=0, quote_requests=0)
    users = _user_ids(engine)
    sandbox.faults(error_rate=1.0)
    tick = _tick(instance, resources)
    assert _launch(instance, resources, tick) == [False]
    assert set(_statuses(instance, users).values()) == {AssetPartitionStatus.FAILED}

    sandbox.faults(error_rate=0)
    # the first tick's keys are remembered for a while; a later tick (fresh cursor) retries
    retry = _tick(instance, resources)
    assert len(retry.run_requests) == 1
    assert retry.dynamic_partitions_requests == []
    assert _launch(instance, resources, retry) == [True]
    assert set(_statuses(instance, users).values()) == {AssetPartitionStatus.MATERIALIZED}
    assert len(instance.fetch_materializations(ASSET, limit=100).records) == 4


def test_sensor_does_not_relaunch_keys_it_just_launched(
        engine: sa.Engine, instance: DagsterInstance, resources: dict, sandbox) -> None:
    seed(engine, users=3, products=1, orders=0, inquiries=0, quote_requests=0)
    first = _tick(instance, resources)
    assert len(first.run_requests) == 1
    # the run has not started yet: the next tick must not launch the same records again
    assert _tick(instance, resources, first.cursor).run_requests == []


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
