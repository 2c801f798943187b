"""Per-location stock (KN_ZOHO_BOOKS_LOCATION_ID) against the Books sandbox with two locations.

The storefront sells from one Books location: its sales, admin edits and Books-side changes at
that location converge storefront == that location's stock == truth; changes at the other
location move the organization's totals but never the storefront.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa

from kn_zoho.sandbox.admin import WALK_IN_CUSTOMER
from kn_zoho.storefront.seed import seed
from kn_zoho.sync.stock.cycle import run_stock_cycle
from kn_zoho.sync.stock.location import LOCATION_ENV
from kn_zoho.zoho.errors import ZohoError
from kn_zoho_tests.sync.books_fixtures import *  # noqa: F403 - pytest fixtures
from kn_zoho_tests.sync.books_fixtures import BooksSandbox
from kn_zoho_tests.sync.stock_helpers import (
    adjustments,
    admin_edit,
    books_stock,
    checkout,
    cycle,
    store_stock,
    sync_books,
)


def _location(sandbox: BooksSandbox, name: str) -> str:
    sandbox._post("/__sandbox/books/locations", {"name": name})
    return next(loc["location_id"] for loc in sandbox.records("books_locations")
                if loc["location_name"] == name)


def _at(sandbox: BooksSandbox, location_id: str) -> dict[str, int]:
    """Each inventory item's stock at one location, by SKU."""
    return {item["sku"]: int(Decimal(str(entry["location_stock_on_hand"])))
            for item in sandbox.records("books_items") if item.get("item_type") == "inventory"
            for entry in item.get("locations", []) if entry["location_id"] == location_id}


@pytest.fixture
def two_locations(books_sandbox: BooksSandbox, monkeypatch: pytest.MonkeyPatch
                  ) -> tuple[str, str]:
    """Head Office (primary, Books' default) and Shop, the storefront's location."""
    head = _location(books_sandbox, "Head Office")
    shop = _location(books_sandbox, "Shop")
    monkeypatch.setenv(LOCATION_ENV, shop)
    return head, shop


def test_configured_location_converges_and_the_other_location_never_leaks(
        engine: sa.Engine, books_sandbox: BooksSandbox, books_clients: Any,
        two_locations: tuple[str, str]) -> None:
    head, shop = two_locations
    seed(engine, users=5, products=4, orders=6, paid_fraction=1.0, inquiries=0,
         quote_requests=0)
    sync_books(engine, books_clients)     # invoices at Shop: the seeded sales
    first = cycle(engine, books_clients)  # the seeded stock, pushed at Shop
    assert first["adjustments"] == 1 and first["drift"] == 0
    truth = store_stock(engine)
    assert _at(books_sandbox, shop) == truth
    assert set(_at(books_sandbox, head).values()) == {0}
    skus = sorted(truth)

    admin_edit(engine, skus[0], +7)                               # pushed at Shop
    truth[skus[0]] += 7
    checkout(engine, skus[1], 2)                                  # invoiced at Shop
    truth[skus[1]] -= 2
    post = books_sandbox._post
    post("/__sandbox/books/offline-sale", {"sku": skus[2], "quantity": 3, "location_id": shop})
    truth[skus[2]] -= 3
    post("/__sandbox/books/adjust-stock",
         {"sku": skus[3], "quantity_adjusted": -4, "location_id": shop})
    truth[skus[3]] -= 4
    post("/__sandbox/books/credit-note", {"sku": skus[0], "quantity": 1, "location_id": shop})
    truth[skus[0]] += 1
    # the other location: restocked, sold from, returned to; none of it is the storefront's
    elsewhere = {sku: 0 for sku in skus}
    for sku in skus:
        post("/__sandbox/books/adjust-stock",
             {"sku": sku, "quantity_adjusted": 50, "location_id": head})
        elsewhere[sku] += 50
    post("/__sandbox/books/offline-sale", {"sku": skus[1], "quantity": 5, "location_id": head})
    elsewhere[skus[1]] -= 5
    post("/__sandbox/books/credit-note", {"sku": skus[2], "quantity": 2, "location_id": head})
    elsewhere[skus[2]] += 2
    post("/__sandbox/books/offline-sale", {"sku": skus[3], "quantity": 1})  # Books' default
    elsewhere[skus[3]] -= 1

    cycle(engine, books_clients)
    sync_books(engine, books_clients)     # the checkout's invoice is sent, at Shop
    summary = cycle(engine, books_clients)

    assert store_stock(engine) == _at(books_sandbox, shop) == truth
    assert _at(books_sandbox, head) == elsewhere
    totals = books_stock(books_sandbox)
    assert totals == {sku: truth[sku] + elsewhere[sku] for sku in skus}
    assert summary["drift"] == 0
    ours = [a for a in adjustments(books_sandbox) if a["reference_number"]]
    assert {line["location_id"] for a in ours for line in a["line_items"]} == {shop}
    invoices = books_sandbox.records("books_invoices")
    storefront = [i for i in invoices if i["customer_name"] != WALK_IN_CUSTOMER]
    assert len(storefront) == 7 and {i["location_id"] for i in storefront} == {shop}

    quiet = cycle(engine, books_clients)  # a list page + one itemdetails batch (4 items)
    assert quiet["api_calls"] == 2 and quiet["pulled_skus"] == 0
    assert books_sandbox.calls()["GET /books/v3/itemdetails"] > 0


def test_a_location_void_returns_stock_to_that_location_only(
        engine: sa.Engine, books_sandbox: BooksSandbox, books_clients: Any,
        two_locations: tuple[str, str]) -> None:
    head, shop = two_locations
    seed(engine, users=3, products=2, orders=0, inquiries=0, quote_requests=0)
    sync_books(engine, books_clients)
    cycle(engine, books_clients)
    truth = store_stock(engine)
    sku = sorted(truth)[0]
    books_sandbox._post("/__sandbox/books/offline-sale",
                        {"sku": sku, "quantity": 2, "location_id": shop})
    cycle(engine, books_clients)
    assert store_stock(engine)[sku] == truth[sku] - 2
    sale = next(i for i in books_sandbox.records("books_invoices") if i["status"] == "sent")
    books_sandbox._post("/__sandbox/books/void-invoice", {"invoice_id": sale["invoice_id"]})
    cycle(engine, books_clients)
    assert store_stock(engine) == _at(books_sandbox, shop) == truth
    assert set(_at(books_sandbox, head).values()) == {0}


def test_a_malformed_location_stops_the_cycle_before_any_call(
        engine: sa.Engine, books_sandbox: BooksSandbox, books_clients: Any,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(LOCATION_ENV, "shop-1")
    with pytest.raises(ValueError, match=LOCATION_ENV):
        run_stock_cycle(engine, books_clients.books)
    assert sum(books_sandbox.calls().values()) == 0


def test_a_location_the_organization_lacks_stops_the_pull_untouched(
        engine: sa.Engine, books_sandbox: BooksSandbox, books_clients: Any,
        monkeypatch: pytest.MonkeyPatch) -> None:
    _location(books_sandbox, "Head Office")
    seed(engine, users=3, products=2, orders=0, inquiries=0, quote_requests=0)
    sync_books(engine, books_clients)
    before = store_stock(engine)
    monkeypatch.setenv(LOCATION_ENV, "46000999999999")
    with pytest.raises(ValueError, match=LOCATION_ENV):
        run_stock_cycle(engine, books_clients.books)
    assert store_stock(engine) == before


def test_sandbox_locations_as_books_documents_them(
        books_sandbox: BooksSandbox, books_clients: Any, engine: sa.Engine) -> None:
    books = books_clients.books
    item = books.create_item({"name": "Widget", "sku": "W-1", "rate": 10,
                              "item_type": "inventory", "initial_stock": 5})
    assert "locations" not in item   # no Locations enabled yet
    with pytest.raises(ZohoError, match="location_id"):   # refused: no locations here
        books.create_inventory_adjustment({
            "date": "2026-11-21", "reason": "x", "adjustment_type": "quantity",
            "line_items": [{"item_id": item["item_id"], "quantity_adjusted": 1,
                            "location_id": "46000123"}]})
    head = _location(books_sandbox, "Head Office")
    shop = _location(books_sandbox, "Shop")
    detail = books.get_item(item["item_id"])
    assert [(e["location_id"], e["is_primary"], e["location_stock_on_hand"])
            for e in detail["locations"]] == [(head, True, 5.0), (shop, False, 0.0)]
    listed = next(i for i in books.list_items() if i["item_id"] == item["item_id"])
    assert "locations" not in listed  # the list carries no per-location stock
    [batch] = books.get_item_details([item["item_id"]])
    assert batch["locations"] == detail["locations"]
    with pytest.raises(ZohoError, match="location_id"):   # unknown location refused
        books.create_inventory_adjustment({
            "date": "2026-11-21", "reason": "x", "adjustment_type": "quantity",
            "line_items": [{"item_id": item["item_id"], "quantity_adjusted": 1,
                            "location_id": "46000123"}]})
    books.create_inventory_adjustment({
        "date": "2026-11-21", "reason": "x", "adjustment_type": "quantity",
        "location_id": shop, "line_items": [{"item_id": item["item_id"], "quantity_adjusted": 3}]})
    detail = books.get_item(item["item_id"])
    assert detail["stock_on_hand"] == 8.0
    assert [e["location_stock_on_hand"] for e in detail["locations"]] == [5.0, 3.0]
    with pytest.raises(ZohoError, match="item_ids"):   # 26 ids: more than one batch
        books.call("GET", "/itemdetails", params={"item_ids": ",".join(["1"] * 26)})
