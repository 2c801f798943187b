"""books_credit_notes in Dagster: the sensor adds one partition per refund (its refund number)
and launches a run; each synced refund is materialized on its partition with the credit note's
amounts and GST split; a refund whose invoice is not synced yet is observed as retrying."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from cryptography.fernet import Fernet
from dagster import (
    AssetKey,
    AssetPartitionStatus,
    DagsterInstance,
    build_sensor_context,
    materialize,
)
from dagster._core.event_api import AssetRecordsFilter

from kn_zoho.defs.books.assets import books_credit_note_partitions, books_credit_notes
from kn_zoho.defs.books.sensors import books_credit_notes_sensor
from kn_zoho.defs.queue_assets import SENSOR_TAG
from kn_zoho.defs.resources import StorefrontDatabase, ZohoBooksResource
from kn_zoho.sandbox import credentials
from kn_zoho.storefront.seed import seed
from kn_zoho.storefront.seed.refunds import seed_refunds
from kn_zoho.sync.books import InvoicesFlow, ItemsFlow
from kn_zoho.sync.runner import run_flow
from kn_zoho_tests.sync.books_fixtures import *  # noqa: F403 - pytest fixtures

ASSET = AssetKey("books_credit_notes")


@pytest.fixture
def books_resource(database_url: str, books_sandbox: Any,
                   monkeypatch: pytest.MonkeyPatch) -> ZohoBooksResource:
    monkeypatch.setenv("KN_ZOHO_SECRET_KEY", Fernet.generate_key().decode())
    monkeypatch.setenv("KN_ZOHO_RETRY_BASE_SECONDS", "0")
    return ZohoBooksResource(
        storefront=StorefrontDatabase(database_url=database_url),
        client_id=credentials.DEMO_CLIENT_ID, client_secret=credentials.DEMO_CLIENT_SECRET,
        refresh_token=credentials.DEMO_REFRESH_TOKEN,
        organization_id=credentials.DEMO_ORGANIZATION_ID, accounts_url=books_sandbox.base_url,
        attempts_per_call=1, retry_backoff_seconds=0.001)


def _tick_and_run(instance: DagsterInstance, resource: ZohoBooksResource) -> None:
    context = build_sensor_context(instance=instance, resources={"storefront":
                                                                 resource.storefront})
    result = books_credit_notes_sensor(context)
    for request in result.dynamic_partitions_requests or []:
        instance.add_dynamic_partitions(request.partitions_def_name, request.partition_keys)
    for request in result.run_requests:
        materialize([books_credit_notes], instance=instance,
                    resources={"zoho_books": resource},
                    tags={**request.tags, SENSOR_TAG: "books_credit_notes_sensor"},
                    raise_on_error=False)


def test_each_refund_is_a_partition_with_its_amounts_and_tax_split(
        engine: sa.Engine, books_resource: ZohoBooksResource, books_clients: Any) -> None:
    seed(engine, users=4, products=5, orders=6, paid_fraction=1.0, quote_requests=0,
         inquiries=0)
    seed_refunds(engine, refunds=3)
    with engine.connect() as conn:
        numbers = list(conn.execute(sa.text(
            "SELECT refund_number FROM public.order_refunds ORDER BY 1")).scalars())
    with DagsterInstance.ephemeral() as instance:
        _tick_and_run(instance, books_resource)  # no invoices yet: every refund waits
        statuses = instance.get_status_by_partition(ASSET, numbers,
                                                    books_credit_note_partitions)
        assert AssetPartitionStatus.MATERIALIZED not in set(statuses.values())
        waiting = instance.fetch_observations(
            AssetRecordsFilter(asset_key=ASSET, asset_partitions=[numbers[0]]), limit=1).records
        assert "INVOICE_NOT_SYNCED" in str(waiting[0].asset_observation.metadata)

        for flow in (ItemsFlow(books_clients.books), InvoicesFlow(books_clients.books)):
            run_flow(engine, flow, retry_base=0)
        _tick_and_run(instance, books_resource)
        statuses = instance.get_status_by_partition(ASSET, numbers,
                                                    books_credit_note_partitions)
        assert set(statuses.values()) == {AssetPartitionStatus.MATERIALIZED}
        records = instance.fetch_materializations(
            AssetRecordsFilter(asset_key=ASSET, asset_partitions=[numbers[0]]), limit=1).records
        metadata = records[0].asset_materialization.metadata
        assert metadata["number"].value == numbers[0]
        assert metadata["total"].value > 0
        taxes = {key for key in metadata if key.startswith("tax ")}
        assert taxes and (taxes <= {k for k in taxes if "GST" in k})
