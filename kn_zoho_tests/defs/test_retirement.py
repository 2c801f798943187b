"""Partition retirement on a real DagsterInstance and PostgreSQL: only long-synced records go,
the cap holds, a retired record comes back through its sensor when it changes."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from dagster import DagsterInstance, build_sensor_context

from kn_zoho.definitions import retire_synced_partitions
from kn_zoho.defs.crm.assets import crm_contact_partitions
from kn_zoho.defs.crm.sensors import crm_contacts_sensor
from kn_zoho.defs.resources import StorefrontDatabase
from kn_zoho.storefront.seed import seed
from kn_zoho.sync.retirement import RetirementPolicy, retire_partitions

PARTITIONS = crm_contact_partitions.name


@pytest.fixture
def instance() -> DagsterInstance:
    with DagsterInstance.ephemeral() as instance:
        yield instance


def _arrange(engine: sa.Engine, instance: DagsterInstance) -> dict[str, list[str]]:
    """Ten users as partitions: 4 synced 40 days ago, 3 synced yesterday, 1 failed and 1 dead
    40 days ago, 1 pending."""
    seed(engine, users=10, products=1, orders=0, inquiries=0, quote_requests=0)
    with engine.begin() as conn:
        keys = list(conn.execute(sa.text(
            "SELECT record_key FROM integration.zoho_sync_queue WHERE entity = 'crm_contact' "
            "ORDER BY record_key")).scalars())
        groups = {"old": keys[:4], "recent": keys[4:7], "failed": keys[7:8],
                  "dead": keys[8:9], "pending": keys[9:]}
        for group, status, age in (("old", "synced", 40), ("recent", "synced", 1),
                                   ("failed", "failed", 40), ("dead", "dead", 40)):
            conn.execute(sa.text(
                "UPDATE integration.zoho_sync_queue SET status = :status, "
                "updated_at = now() - make_interval(days => :age) "
                "WHERE entity = 'crm_contact' AND record_key = ANY(:keys)"),
                {"status": status, "age": age, "keys": groups[group]})
    instance.add_dynamic_partitions(PARTITIONS, keys)
    return groups


def test_only_records_synced_longer_ago_than_the_retention_are_retired(
        engine: sa.Engine, instance: DagsterInstance) -> None:
    groups = _arrange(engine, instance)
    result = retire_partitions(engine, instance, PARTITIONS, "crm_contact",
                               RetirementPolicy(retention_days=30, max_partitions=1000))
    assert (result.retired, result.expired, result.over_cap, result.remaining) == (4, 4, 0, 6)
    left = set(instance.get_dynamic_partitions(PARTITIONS))
    assert left == set(groups["recent"] + groups["failed"] + groups["dead"] + groups["pending"])


def test_the_cap_retires_the_oldest_synced_records_but_never_unsynced_ones(
        engine: sa.Engine, instance: DagsterInstance) -> None:
    groups = _arrange(engine, instance)
    with engine.begin() as conn:  # the recent ones synced 1, 2 and 3 days ago
        for age, key in enumerate(groups["recent"], start=1):
            conn.execute(sa.text("UPDATE integration.zoho_sync_queue SET updated_at = "
                                 "now() - make_interval(days => :age) WHERE record_key = :key"),
                         {"age": age, "key": key})
    result = retire_partitions(engine, instance, PARTITIONS, "crm_contact",
                               RetirementPolicy(retention_days=30, max_partitions=4))
    assert (result.expired, result.over_cap, result.remaining) == (4, 2, 4)
    left = set(instance.get_dynamic_partitions(PARTITIONS))
    # the newest synced record stays; failed, dead and pending stay even over the cap
    assert left == {groups["recent"][0], *groups["failed"], *groups["dead"], *groups["pending"]}


def test_a_record_changed_since_the_listing_is_not_retired(
        engine: sa.Engine, instance: DagsterInstance) -> None:
    groups = _arrange(engine, instance)

    class ChangingStore:
        """The record is edited between the listing and the deletes."""

        def get_dynamic_partitions(self, name: str) -> list[str]:
            keys = instance.get_dynamic_partitions(name)
            with engine.begin() as conn:
                conn.execute(sa.text("UPDATE users SET full_name = full_name || ' Jr' "
                                     "WHERE id = :id"), {"id": groups["old"][0]})
            return keys

        def delete_dynamic_partition(self, name: str, key: str) -> None:
            instance.delete_dynamic_partition(name, key)

    result = retire_partitions(engine, ChangingStore(), PARTITIONS, "crm_contact",
                               RetirementPolicy(retention_days=30, max_partitions=1000))
    assert result.retired == 3
    assert groups["old"][0] in instance.get_dynamic_partitions(PARTITIONS)


def test_the_job_retires_and_the_sensor_brings_a_changed_record_back(
        engine: sa.Engine, database_url: str, instance: DagsterInstance,
        monkeypatch: pytest.MonkeyPatch) -> None:
    groups = _arrange(engine, instance)
    monkeypatch.setenv("KN_ZOHO_PARTITION_RETENTION_DAYS", "30")
    storefront = StorefrontDatabase(database_url=database_url)
    result = retire_synced_partitions.execute_in_process(
        instance=instance, resources={"storefront": storefront})
    assert result.success
    output = next(e for e in result.all_node_events if e.event_type_value == "STEP_OUTPUT")
    metadata = output.event_specific_data.metadata
    assert metadata["crm_contacts_retired"].value == 4
    assert metadata["crm_contacts_remaining"].value == 6
    assert not set(groups["old"]) & set(instance.get_dynamic_partitions(PARTITIONS))

    returning = groups["old"][1]
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE users SET phone = '+919845012345' WHERE id = :id"),
                     {"id": returning})
    with build_sensor_context(instance=instance, resources={"storefront": storefront}) as ctx:
        tick = crm_contacts_sensor(ctx)
    added = [key for request in tick.dynamic_partitions_requests for key in
             request.partition_keys]
    assert returning in added
