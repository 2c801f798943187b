"""Contact updates in Dagster like every outbound flow: a sensor tick adds the edited users as
partitions of `books_contacts` and launches one batched run; each update is a
materialization with its metadata; a bad edit turns exactly its partition red; the asset has
the queue checks; the code location loads with it."""

from __future__ import annotations

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

from kn_zoho.definitions import build_definitions
from kn_zoho.defs.books.assets import books_contact_partitions, books_contacts
from kn_zoho.defs.books.sensors import books_contacts_sensor
from kn_zoho.defs.queue_assets import SENSOR_TAG
from kn_zoho.defs.resources import StorefrontDatabase, ZohoBooksResource
from kn_zoho.sandbox import credentials
from kn_zoho.sync.books import BooksCatalog, InvoicesFlow, ItemsFlow
from kn_zoho.sync.runner import run_flow
from kn_zoho_tests.sync.books_fixtures import *  # noqa: F403 - pytest fixtures
from kn_zoho_tests.sync.storefront_rows import GSTIN_MH, execute, order, product, user

ASSET = AssetKey("books_contacts")


@pytest.fixture
def resources(database_url: str, books_sandbox, monkeypatch: pytest.MonkeyPatch) -> dict:
    monkeypatch.setenv("KN_ZOHO_SECRET_KEY", Fernet.generate_key().decode())
    monkeypatch.setenv("KN_ZOHO_RETRY_BASE_SECONDS", "0")
    storefront = StorefrontDatabase(database_url=database_url)
    books = ZohoBooksResource(
        storefront=storefront, client_id=credentials.DEMO_CLIENT_ID,
        client_secret=credentials.DEMO_CLIENT_SECRET,
        refresh_token=credentials.DEMO_REFRESH_TOKEN, accounts_url=books_sandbox.base_url,
        organization_id=credentials.DEMO_ORGANIZATION_ID, attempts_per_call=1,
        retry_backoff_seconds=0.001)
    return {"storefront": storefront, "zoho_books": books}


def test_edited_contacts_are_partitions_of_one_batched_run_and_a_bad_one_turns_red(
        engine: sa.Engine, books_clients, resources: dict) -> None:
    item = product(engine, "NEEM-1L")
    users = [user(engine, f"buyer{n}@example.in", f"Buyer {n}") for n in range(3)]
    for n, user_id in enumerate(users):
        order(engine, f"KN-{n}", user_id, item)
    catalog = BooksCatalog(books_clients.books)
    run_flow(engine, ItemsFlow(books_clients.books, catalog), retry_base=0)
    run_flow(engine, InvoicesFlow(books_clients.books, catalog), retry_base=0)
    execute(engine, "UPDATE users SET gstin = :g, customer_type = 'b2b', billing_state = 'MH' "
                    "WHERE id = :id", g=GSTIN_MH, id=users[0])
    execute(engine, "UPDATE users SET phone = '98450-KISAN' WHERE id = :id", id=users[1])

    with DagsterInstance.ephemeral() as instance:
        context = build_sensor_context(instance=instance,
                                       resources={"storefront": resources["storefront"]})
        tick = books_contacts_sensor(context)
        for request in tick.dynamic_partitions_requests or []:
            instance.add_dynamic_partitions(request.partitions_def_name, request.partition_keys)
        # all three were linked by their invoices, two edited since: one run over the three
        assert sorted(instance.get_dynamic_partitions("books_contacts")) == sorted(users)
        [request] = tick.run_requests
        run = materialize([books_contacts], instance=instance,
                          resources={"zoho_books": resources["zoho_books"]},
                          tags={**request.tags, SENSOR_TAG: "books_contacts_sensor"},
                          raise_on_error=False)
        assert not run.success  # the bad phone
        statuses = instance.get_status_by_partition(ASSET, users, books_contact_partitions)
        assert statuses == {users[0]: AssetPartitionStatus.MATERIALIZED,
                            users[1]: AssetPartitionStatus.FAILED,
                            users[2]: AssetPartitionStatus.MATERIALIZED}
        events = {e.partition_key: e.asset_materialization.metadata
                  for e in instance.fetch_materializations(ASSET, limit=10).records}
        assert set(events) == {users[0], users[2]}
        assert (events[users[0]]["operation"].value, events[users[0]]["gst_no"].value,
                events[users[0]]["place_of_contact"].value) == ("update", GSTIN_MH, "MH")
        assert events[users[2]]["operation"].value == "unchanged"  # created from its data


def test_the_code_location_has_the_contact_flow_with_its_sensor_and_checks() -> None:
    defs = build_definitions()
    assert defs.resolve_assets_def("books_contacts") is not None
    assert defs.resolve_sensor_def("books_contacts_sensor") is not None
    checks = {key.name for key in defs.resolve_asset_graph().asset_check_keys
              if key.asset_key == ASSET}
    assert checks  # the dead-letter and oldest-pending checks every queue asset has
