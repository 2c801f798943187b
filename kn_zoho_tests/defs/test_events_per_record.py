"""Dagster events a batched sync run stores per record (issue 12, item 4).

Every synced record gets exactly one materialization, on its own partition: the asset never
yields an Output, so the framework adds no second, range-wide one on success. The only other
per-record event is Dagster's "materialization planned" (one per partition of the run's range):
it is what marks the partitions of records that failed for good as failed when the step
raises, so it stays. Everything else is per run (start, step, success): a constant that larger
runs spread over more records.
"""

from __future__ import annotations

from collections import Counter

import pytest
from cryptography.fernet import Fernet
from dagster import (
    AssetKey,
    DagsterEventType,
    DagsterInstance,
    build_sensor_context,
    materialize,
)

from kn_zoho.defs.crm.assets import crm_contacts
from kn_zoho.defs.crm.sensors import crm_contacts_sensor
from kn_zoho.defs.queue_assets import SENSOR_TAG
from kn_zoho.defs.resources import StorefrontDatabase, ZohoCrmResource
from kn_zoho.sandbox import credentials
from kn_zoho.storefront.seed import seed

RECORDS = 12
# run start and success, 2 engine events, resource init start and success, logs captured,
# step start and success
PER_RUN_EVENTS = 9


@pytest.fixture
def instance(tmp_path) -> DagsterInstance:
    with DagsterInstance.local_temp(str(tmp_path)) as instance:  # SQLite, as `dagster dev`
        yield instance


def _sensor_run(instance: DagsterInstance, database_url: str, accounts_url: str) -> str:
    storefront = StorefrontDatabase(database_url=database_url)
    zoho = ZohoCrmResource(
        storefront=storefront, client_id=credentials.DEMO_CLIENT_ID,
        client_secret=credentials.DEMO_CLIENT_SECRET,
        refresh_token=credentials.DEMO_REFRESH_TOKEN, accounts_url=accounts_url,
        attempts_per_call=1, retry_backoff_seconds=0.001)
    tick = crm_contacts_sensor(build_sensor_context(instance=instance,
                                                    resources={"storefront": storefront}))
    for request in tick.dynamic_partitions_requests or []:
        instance.add_dynamic_partitions(request.partitions_def_name, request.partition_keys)
    [request] = tick.run_requests
    result = materialize([crm_contacts], instance=instance, resources={"zoho_crm": zoho},
                         tags={**request.tags, SENSOR_TAG: "crm_contacts_sensor"})
    assert result.success
    return result.run_id


def test_one_materialization_per_synced_record_and_a_constant_per_run(
        engine, database_url: str, sandbox, instance: DagsterInstance,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KN_ZOHO_SECRET_KEY", Fernet.generate_key().decode())
    seed(engine, users=RECORDS, products=1, orders=0, inquiries=0, quote_requests=0)
    run_id = _sensor_run(instance, database_url, sandbox.base_url)

    events = [e.dagster_event for e in instance.all_logs(run_id) if e.dagster_event]
    by_type = Counter(event.event_type for event in events)
    materialized = Counter(event.partition for event in events
                           if event.event_type == DagsterEventType.ASSET_MATERIALIZATION)
    assert len(materialized) == RECORDS and set(materialized.values()) == {1}
    assert None not in materialized  # no range-wide materialization of the whole run
    assert by_type[DagsterEventType.ASSET_MATERIALIZATION_PLANNED] == RECORDS
    assert len(events) == 2 * RECORDS + PER_RUN_EVENTS
    assert len(instance.fetch_materializations(AssetKey("crm_contacts"), limit=100).records
               ) == RECORDS
