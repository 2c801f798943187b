"""A product's item in Books follows it after the first sync (issue 14 item 4): deactivating
marks the item inactive, re-activating active; price, name, HSN and GST rate edits update it;
neither kind of change undoes the other; documents still to be made with a withdrawn
product's item get it."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from kn_zoho.sync.books import BooksCatalog, InvoicesFlow, ItemsFlow
from kn_zoho.sync.runner import run_flow
from kn_zoho_tests.sync.books_fixtures import *  # noqa: F403 - pytest fixtures
from kn_zoho_tests.sync.books_fixtures import losing_first_reply
from kn_zoho_tests.sync.storefront_rows import (
    execute,
    order,
    pay,
    product,
    queue_row,
    user,
)

SKU = "NEEM-1L"


def _items(books_clients) -> ItemsFlow:
    return ItemsFlow(books_clients.books)


def _item(books_sandbox) -> dict:
    [item] = [i for i in books_sandbox.records("books_items") if i["sku"] == SKU]
    return item


def _sync_item(engine: sa.Engine, books_clients) -> tuple[str, int]:
    report = run_flow(engine, _items(books_clients), retry_base=0)
    [result] = [r for r in report.results if r.record_key == SKU] or [None]
    return (result.operation if result else "-"), report.api_calls


def test_deactivating_and_reactivating_mark_the_item_with_one_call_each(
        engine: sa.Engine, books_sandbox, books_clients) -> None:
    product(engine, SKU)
    assert _sync_item(engine, books_clients)[0] == "create"
    execute(engine, "UPDATE products SET is_active = false WHERE sku = :s", s=SKU)
    report = run_flow(engine, _items(books_clients), retry_base=0)
    [result] = report.results
    assert (result.operation, report.api_calls) == ("deactivate", 1)
    assert result.metadata == {"books_status": "inactive"}  # on the item's materialization
    assert _item(books_sandbox)["status"] == "inactive"
    assert queue_row(engine, "books_item", SKU)["payload_hash"].endswith(":inactive")

    execute(engine, "UPDATE products SET stock_quantity = stock_quantity + 5 WHERE sku = :s",
            s=SKU)  # stock only: not even queued
    assert _sync_item(engine, books_clients) == ("-", 0)
    execute(engine, "UPDATE products SET is_active = true WHERE sku = :s", s=SKU)
    assert _sync_item(engine, books_clients) == ("reactivate", 1)
    assert _item(books_sandbox)["status"] == "active"


@pytest.mark.parametrize("column,value,field,expected", [
    ("price", 142, "rate", 142.0),
    ("name", "Neem oil 1 litre (cold pressed)", "name", "Neem oil 1 litre (cold pressed)"),
    ("hsn_code", "3824", "hsn_or_sac", "3824"),
])
def test_price_name_and_hsn_edits_update_the_item(
        engine: sa.Engine, books_sandbox, books_clients, column: str, value: object,
        field: str, expected: object) -> None:
    product(engine, SKU)
    _sync_item(engine, books_clients)
    execute(engine, f"UPDATE products SET {column} = :v WHERE sku = :s", v=value, s=SKU)
    assert _sync_item(engine, books_clients) == ("update", 1)
    assert _item(books_sandbox)[field] == expected


def test_a_gst_rate_edit_changes_the_item_tax_preferences(
        engine: sa.Engine, books_sandbox, books_clients) -> None:
    product(engine, SKU)
    _sync_item(engine, books_clients)
    before = _item(books_sandbox)["item_tax_preferences"]
    execute(engine, "UPDATE products SET gst_rate = 12 WHERE sku = :s", s=SKU)
    assert _sync_item(engine, books_clients) == ("update", 1)
    after = _item(books_sandbox)["item_tax_preferences"]
    assert {p["tax_specification"] for p in after} == {"intra", "inter"} and after != before


def test_a_deactivation_survives_a_later_price_edit_and_the_edit_a_later_deactivation(
        engine: sa.Engine, books_sandbox, books_clients) -> None:
    product(engine, SKU)
    _sync_item(engine, books_clients)
    execute(engine, "UPDATE products SET is_active = false WHERE sku = :s", s=SKU)
    _sync_item(engine, books_clients)
    execute(engine, "UPDATE products SET price = 150 WHERE sku = :s", s=SKU)
    assert _sync_item(engine, books_clients) == ("update", 1)  # the PUT only: stays inactive
    assert (_item(books_sandbox)["status"], _item(books_sandbox)["rate"]) == ("inactive", 150)

    execute(engine, "UPDATE products SET is_active = true WHERE sku = :s", s=SKU)
    _sync_item(engine, books_clients)
    execute(engine, "UPDATE products SET price = 160 WHERE sku = :s", s=SKU)
    _sync_item(engine, books_clients)
    execute(engine, "UPDATE products SET is_active = false WHERE sku = :s", s=SKU)
    assert _sync_item(engine, books_clients) == ("deactivate", 1)
    assert (_item(books_sandbox)["status"], _item(books_sandbox)["rate"]) == ("inactive", 160)

    execute(engine, "UPDATE products SET is_active = true, price = 170 WHERE sku = :s", s=SKU)
    assert _sync_item(engine, books_clients) == ("update+reactivate", 2)
    assert (_item(books_sandbox)["status"], _item(books_sandbox)["rate"]) == ("active", 170)


def test_a_withdrawn_product_waits_for_its_queued_invoice_then_goes_inactive(
        engine: sa.Engine, books_sandbox, books_clients) -> None:
    """Books refuses an inactive item on a new invoice: an order paid before the product was
    withdrawn is invoiced first, and its sync brings the item back to be deactivated."""
    item = product(engine, SKU)
    buyer = user(engine, "asha@example.in")
    _sync_item(engine, books_clients)
    order(engine, "KN-1", buyer, item)
    execute(engine, "UPDATE products SET is_active = false WHERE sku = :s", s=SKU)
    assert _sync_item(engine, books_clients) == ("inactive:deferred", 0)
    assert _item(books_sandbox)["status"] == "active"

    [invoice] = run_flow(engine, InvoicesFlow(books_clients.books), retry_base=0).results
    assert invoice.status == "synced"
    assert queue_row(engine, "books_item", SKU)["status"] == "pending"  # brought back
    assert _sync_item(engine, books_clients) == ("deactivate", 1)
    assert _item(books_sandbox)["status"] == "inactive"


def test_an_order_paid_after_the_withdrawal_reactivates_the_item_for_its_invoice(
        engine: sa.Engine, books_sandbox, books_clients) -> None:
    item = product(engine, SKU)
    buyer = user(engine, "asha@example.in")
    _sync_item(engine, books_clients)
    placed = order(engine, "KN-1", buyer, item, paid=False)  # placed while on sale
    execute(engine, "UPDATE products SET is_active = false WHERE sku = :s", s=SKU)
    assert _sync_item(engine, books_clients)[0] == "deactivate"
    pay(engine, placed)
    catalog = BooksCatalog(books_clients.books)
    [invoice] = run_flow(engine, InvoicesFlow(books_clients.books, catalog),
                         retry_base=0).results
    assert invoice.status == "synced" and "item:reactivate" in invoice.operation
    assert _sync_item(engine, books_clients) == ("deactivate", 1)
    assert _item(books_sandbox)["status"] == "inactive"
    assert len(books_sandbox.records("books_invoices")) == 1


def test_a_lost_reply_to_the_deactivation_is_retried_and_settles_once(
        engine: sa.Engine, books_sandbox, books_clients, monkeypatch: pytest.MonkeyPatch
) -> None:
    product(engine, SKU)
    flow = _items(books_clients)
    run_flow(engine, flow, retry_base=0)
    execute(engine, "UPDATE products SET is_active = false WHERE sku = :s", s=SKU)
    books = books_clients.books
    monkeypatch.setattr(books, "mark_item_inactive",
                        losing_first_reply(books_sandbox, books.mark_item_inactive))
    [lost] = run_flow(engine, flow, retry_base=0).results
    assert lost.status == "pending"
    assert _item(books_sandbox)["status"] == "inactive"  # Books did it; we do not know yet
    [again] = run_flow(engine, flow, retry_base=0).results
    assert (again.status, again.operation) == ("synced", "deactivate")
    assert len(books_sandbox.records("books_items")) == 1
    assert run_flow(engine, flow, retry_base=0).results == []
