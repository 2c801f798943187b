"""The Books flows behind their entry points: the Dagster assets and sensors load and a sensor
tick turns queued orders into partitions and one batched run; `kn-zoho sync books` prints
its summary as the last line."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from cryptography.fernet import Fernet
from dagster import DagsterInstance, Definitions, build_sensor_context
from dagster._core.storage.tags import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
)

from kn_zoho.cli import main
from kn_zoho.definitions import build_resources
from kn_zoho.defs.books.assets import books_estimates, books_invoices, books_items
from kn_zoho.defs.books.sensors import (
    books_estimates_sensor,
    books_invoices_sensor,
    books_items_sensor,
)
from kn_zoho.defs.resources import StorefrontDatabase
from kn_zoho.sandbox import export_lines
from kn_zoho.storefront.seed import seed
from kn_zoho_tests.sync.books_fixtures import *  # noqa: F403 - pytest fixtures


def test_books_definitions_load_and_a_sensor_tick_launches_one_batched_run(
        engine: sa.Engine, database_url: str) -> None:
    defs = Definitions(assets=[books_items, books_invoices, books_estimates],
                       sensors=[books_items_sensor, books_invoices_sensor,
                                books_estimates_sensor],
                       resources=build_resources())
    Definitions.validate_loadable(defs)
    assert {s.name for s in defs.sensors} == {
        "books_items_sensor", "books_invoices_sensor", "books_estimates_sensor"}

    seed(engine, users=5, products=3, orders=4, paid_fraction=1.0, quote_requests=0,
         inquiries=0)
    with DagsterInstance.ephemeral() as instance:
        context = build_sensor_context(
            instance=instance, resources={"storefront": StorefrontDatabase(
                database_url=database_url)})
        result = books_invoices_sensor(context)
    [request] = result.run_requests
    [partitions] = result.dynamic_partitions_requests
    numbers = sorted(partitions.partition_keys)
    assert (partitions.partitions_def_name, len(numbers)) == ("books_invoices", 4)
    assert (request.tags[ASSET_PARTITION_RANGE_START_TAG],
            request.tags[ASSET_PARTITION_RANGE_END_TAG]) == (numbers[0], numbers[-1])


def test_cli_sync_books_ends_with_a_json_summary(
        engine: sa.Engine, database_url: str, books_sandbox,
        monkeypatch: pytest.MonkeyPatch) -> None:
    seed(engine, users=1, products=1, orders=1, paid_fraction=1.0, quote_requests=0,
         inquiries=0)
    for line in export_lines(books_sandbox.base_url):
        name, value = line.removeprefix("export ").split("=", 1)
        monkeypatch.setenv(name, value.strip("'"))
    monkeypatch.setenv("KN_ZOHO_SECRET_KEY", Fernet.generate_key().decode())
    monkeypatch.setenv("KN_ZOHO_RETRY_BASE_SECONDS", "0")
    # Zoho's real limit of 100 calls a minute applies here: keep this run small
    result = CliRunner().invoke(main, ["sync", "books", "--database-url", database_url])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert {k: summary[k] for k in ("synced", "failed", "dead", "pending")} == {
        "synced": 3, "failed": 0, "dead": 0, "pending": 0}  # item, invoice, contact check
    # taxes, 2 listings, item, customer, invoice, mark sent, payment
    assert summary["api_calls"] == 8
    assert len(books_sandbox.records("books_invoices")) == 1
