"""A Dagster step retry of a sensor-launched sync run really retries its records: the first
try loses its database connection after Zoho answered (before the id was written back), the
step fails, Dagster retries it, and the retry syncs every record of the run exactly once."""

from __future__ import annotations

import sqlalchemy as sa
from dagster import (
    AssetsDefinition,
    DagsterEventType,
    DagsterInstance,
    ExecuteInProcessResult,
    RetryPolicy,
    materialize,
)
from dagster._core.storage.tags import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
)

from kn_zoho.defs.crm.assets import crm_contact_partitions
from kn_zoho.defs.queue_assets import SENSOR_TAG, queue_asset
from kn_zoho.mapping.crm import CrmFieldConfig
from kn_zoho.storefront import queue
from kn_zoho.storefront.seed import seed
from kn_zoho.sync.crm import ContactsFlow
from kn_zoho_tests.queue.faults import ConnectionKiller, killing

# The production asset, retried at once instead of after 15 s.
contacts_retried_at_once = queue_asset(
    name="crm_contacts", entity="crm_contact", partitions_def=crm_contact_partitions,
    flow=lambda clients: ContactsFlow(clients.crm, CrmFieldConfig.from_env()),
    resource_key="zoho_crm", product="crm", description="crm_contacts, retried at once",
    retry_policy=RetryPolicy(max_retries=1))


def _three_users_in_a_sensor_run(engine: sa.Engine, instance: DagsterInstance
                                 ) -> tuple[list[str], dict[str, str]]:
    """Three users, their partitions, and the tags of a sensor-launched run over them."""
    seed(engine, users=3, products=1, orders=0, inquiries=0, quote_requests=0)
    with engine.connect() as conn:
        keys = list(conn.execute(sa.text("SELECT id::text FROM users ORDER BY id")).scalars())
    instance.add_dynamic_partitions("crm_contacts", keys)
    return keys, {SENSOR_TAG: "crm_contacts_sensor", ASSET_PARTITION_RANGE_START_TAG: keys[0],
                  ASSET_PARTITION_RANGE_END_TAG: keys[-1]}


def _retried_after_a_dropped_users_write(asset: AssetsDefinition, nth: int,
                                         admin_engine: sa.Engine, instance: DagsterInstance,
                                         tags: dict[str, str], resources: dict
                                         ) -> ExecuteInProcessResult:
    """Materialize ``asset`` while the connection of the ``nth`` write to users is dropped:
    the step fails, Dagster restarts it, and the run ends green."""
    with killing(ConnectionKiller(admin_engine, "UPDATE public.users", nth)) as killer:
        result = materialize([asset], instance=instance, tags=tags,
                             resources={"zoho_crm": resources["zoho_crm"]})
    assert killer.fired
    assert result.success
    assert DagsterEventType.STEP_RESTARTED in [e.event_type for e in result.all_events]
    return result


def test_a_step_retry_after_a_dropped_connection_syncs_each_record_once(
        engine: sa.Engine, admin_engine: sa.Engine, instance: DagsterInstance,
        resources: dict, sandbox) -> None:
    keys, tags = _three_users_in_a_sensor_run(engine, instance)

    # Zoho has the Contacts; the connection writing their ids back is dropped
    result = _retried_after_a_dropped_users_write(
        contacts_retried_at_once, 1, admin_engine, instance, tags, resources)
    assert DagsterEventType.STEP_UP_FOR_RETRY in [e.event_type for e in result.all_events]

    contacts = sandbox.records("crm_contacts")
    assert len(contacts) == 3  # the retry upserted onto the Contacts the first try made
    counts = queue.status_counts(engine, "crm_contact")
    assert counts["synced"] == 3 and sum(counts.values()) == 3
    with engine.connect() as conn:
        linked = conn.execute(sa.text(
            "SELECT count(*) FROM users WHERE zoho_crm_id IS NOT NULL")).scalar()
        attempts = dict(conn.execute(sa.text(
            "SELECT status, count(*) FROM integration.zoho_sync_logs "
            "WHERE entity = 'crm_contact' GROUP BY status")).all())
    assert linked == 3
    # the first try's attempts were given back, not counted against the records
    assert attempts == {"interrupted": 3, "success": 3}
    materialized = [e.step_materialization_data.materialization.partition
                    for e in result.get_asset_materialization_events()]
    assert sorted(materialized) == keys  # one event per record, from the retry


class _OneByOne(ContactsFlow):
    """Each Contact upserted and recorded alone, so a try can end half done."""

    records_per_attempt = 1


contacts_one_by_one = queue_asset(
    name="crm_contacts", entity="crm_contact", partitions_def=crm_contact_partitions,
    flow=lambda clients: _OneByOne(clients.crm, CrmFieldConfig.from_env()),
    resource_key="zoho_crm", product="crm", description="crm_contacts, one by one",
    retry_policy=RetryPolicy(max_retries=1))


def test_a_step_retry_leaves_what_its_first_try_synced_alone(
        engine: sa.Engine, admin_engine: sa.Engine, instance: DagsterInstance,
        resources: dict, sandbox) -> None:
    """The first try syncs and records the first Contact, then loses its connection on the
    second's record: the retry (a forced claim of its records) syncs the other two, not the
    first again, and still shows one materialization per record."""
    keys, tags = _three_users_in_a_sensor_run(engine, instance)

    result = _retried_after_a_dropped_users_write(
        contacts_one_by_one, 2, admin_engine, instance, tags, resources)
    with engine.connect() as conn:
        successes = conn.execute(sa.text(
            "SELECT record_key, count(*) FROM integration.zoho_sync_logs "
            "WHERE entity = 'crm_contact' AND status = 'success' GROUP BY 1")).all()
    assert dict(successes) == dict.fromkeys(keys, 1)  # the first one was not synced again
    assert len(sandbox.records("crm_contacts")) == 3
    events = result.get_asset_materialization_events()
    assert sorted(e.step_materialization_data.materialization.partition
                  for e in events) == keys
    earlier = [e.step_materialization_data.materialization for e in events
               if "synced_by" in e.step_materialization_data.materialization.metadata]
    assert len(earlier) == 1
