"""`kn-zoho sync stock` and `kn-zoho stock diff` against the sandbox."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from cryptography.fernet import Fernet

from kn_zoho.cli import main
from kn_zoho.sandbox import export_lines
from kn_zoho.storefront.seed import seed
from kn_zoho_tests.sync.books_fixtures import *  # noqa: F403 - pytest fixtures
from kn_zoho_tests.sync.stock_helpers import admin_edit, books_stock, store_stock


def test_cli_sync_stock_and_stock_diff(engine: sa.Engine, database_url: str, books_sandbox,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    seed(engine, users=1, products=2, orders=1, paid_fraction=1.0, quote_requests=0,
         inquiries=0)
    for line in export_lines(books_sandbox.base_url):
        name, value = line.removeprefix("export ").split("=", 1)
        monkeypatch.setenv(name, value.strip("'"))
    monkeypatch.setenv("KN_ZOHO_SECRET_KEY", Fernet.generate_key().decode())
    runner = CliRunner()
    assert runner.invoke(main, ["sync", "books", "--database-url", database_url]).exit_code == 0
    sku = sorted(store_stock(engine))[0]
    admin_edit(engine, sku, 4)

    diff = runner.invoke(main, ["stock", "diff", "--database-url", database_url])
    assert diff.exit_code == 0, diff.output
    row = next(line.split() for line in diff.stdout.splitlines() if line.startswith(sku))
    # items start at 0 in Books, less the seeded sales' sent invoices; the storefront's stock
    # is all unpushed still: storefront = Books + pending
    storefront, books, unpushed, unsent, gap = map(int, row[1:])
    assert books <= 0 and storefront == books + unpushed + unsent and gap == 0

    result = runner.invoke(main, ["sync", "stock", "--database-url", database_url])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert {k: summary[k] for k in ("pushed_skus", "pulled_skus", "adjustments", "drift")} == {
        "pushed_skus": 2, "pulled_skus": 0, "adjustments": 1, "drift": 0}
    assert summary["api_calls"] == 2  # one adjustment, one page of items
    assert books_stock(books_sandbox) == store_stock(engine)
    assert json.loads(runner.invoke(main, ["stock", "diff", "--database-url", database_url]
                                    ).stdout.splitlines()[-1])["out_of_step"] == 0
