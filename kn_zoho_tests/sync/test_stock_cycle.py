"""Stock both ways against the Books sandbox: push, pull, fixpoint and the races."""

from __future__ import annotations

import threading

import pytest
import sqlalchemy as sa

from kn_zoho.storefront.seed import seed
from kn_zoho.sync.stock import pull as pull_module
from kn_zoho.sync.stock.push import push
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


def _seeded(engine: sa.Engine, clients: object) -> None:
    seed(engine, users=5, products=4, orders=6, paid_fraction=1.0, inquiries=0,
         quote_requests=0)
    sync_books(engine, clients)


def _writes(sandbox: BooksSandbox) -> int:
    return sum(n for endpoint, n in sandbox.calls().items() if not endpoint.startswith("GET"))


def test_first_cycle_brings_books_to_the_storefront_and_five_more_write_nothing(
        engine: sa.Engine, books_sandbox: BooksSandbox, books_clients: object) -> None:
    _seeded(engine, books_clients)
    before = store_stock(engine)

    summary = cycle(engine, books_clients)

    assert books_stock(books_sandbox) == before == store_stock(engine)
    assert summary["adjustments"] == 1 and summary["pushed_skus"] == 4
    assert summary["drift"] == 0 and summary["pulled_skus"] == 0
    writes = _writes(books_sandbox)
    for _ in range(5):
        again = cycle(engine, books_clients)
        assert again["adjustments"] == 0 and again["pulled_skus"] == 0
        assert again["api_calls"] == 1  # the snapshot: one page of items
    assert _writes(books_sandbox) == writes
    assert len(adjustments(books_sandbox)) == 1


def test_changes_on_both_sides_meet_and_sales_are_never_pushed(
        engine: sa.Engine, books_sandbox: BooksSandbox, books_clients: object) -> None:
    _seeded(engine, books_clients)
    cycle(engine, books_clients)
    skus = sorted(store_stock(engine))
    truth = store_stock(engine)

    admin_edit(engine, skus[0], +7)                       # storefront restock
    truth[skus[0]] += 7
    checkout(engine, skus[1], 2)                          # storefront sale (invoice to come)
    truth[skus[1]] -= 2
    books_sandbox._post("/__sandbox/books/offline-sale", {"sku": skus[2], "quantity": 3})
    truth[skus[2]] -= 3
    books_sandbox._post("/__sandbox/books/adjust-stock",
                        {"sku": skus[3], "quantity_adjusted": -4})
    truth[skus[3]] -= 4

    summary = cycle(engine, books_clients)               # invoice not yet sent
    assert summary["adjustments"] == 1 and summary["pushed_skus"] == 1
    assert store_stock(engine) == truth
    sync_books(engine, books_clients)                     # the sale's invoice is sent
    cycle(engine, books_clients)

    assert store_stock(engine) == books_stock(books_sandbox) == truth
    ours = [a for a in adjustments(books_sandbox) if a["reference_number"]]
    assert [line["sku"] for line in ours[-1]["line_items"]] == [skus[0]]
    assert ours[-1]["line_items"][0]["quantity_adjusted"] == 7


def test_adjustment_whose_reply_was_lost_is_stored_once(
        engine: sa.Engine, books_sandbox: BooksSandbox, books_clients: object) -> None:
    _seeded(engine, books_clients)
    cycle(engine, books_clients)
    sku = sorted(store_stock(engine))[0]
    admin_edit(engine, sku, -5)
    books_sandbox.faults(lost_response_rate=1.0)
    try:
        push(engine, books_clients.books)
    finally:
        books_sandbox.faults(lost_response_rate=0)
    for _ in range(3):
        cycle(engine, books_clients)

    minus_five = [a for a in adjustments(books_sandbox)
                  if a["line_items"][0]["quantity_adjusted"] == -5]
    assert len(minus_five) == 1
    assert store_stock(engine) == books_stock(books_sandbox)


def test_push_killed_after_books_stored_it_is_adopted_not_resent(
        engine: sa.Engine, books_sandbox: BooksSandbox, books_clients: object,
        monkeypatch: object) -> None:
    _seeded(engine, books_clients)
    cycle(engine, books_clients)
    sku = sorted(store_stock(engine))[1]
    admin_edit(engine, sku, 9)
    real = books_clients.books.create_inventory_adjustment

    def killed(payload: dict) -> dict:
        real(payload)
        raise SystemExit("killed after Books stored it")

    monkeypatch.setattr(books_clients.books, "create_inventory_adjustment", killed)
    with pytest.raises(SystemExit):
        push(engine, books_clients.books)
    monkeypatch.undo()
    report = push(engine, books_clients.books)

    assert list(report.resolved.values()) == ["applied"] and report.adjustments == 0
    assert sum(1 for a in adjustments(books_sandbox)
               if a["line_items"][0]["quantity_adjusted"] == 9) == 1
    cycle(engine, books_clients)
    assert store_stock(engine) == books_stock(books_sandbox)


def test_admin_edit_between_snapshot_and_apply_is_kept(
        engine: sa.Engine, books_sandbox: BooksSandbox, books_clients: object,
        monkeypatch: object) -> None:
    _seeded(engine, books_clients)
    cycle(engine, books_clients)
    sku = sorted(store_stock(engine))[0]
    truth = store_stock(engine)[sku] + 11
    real = pull_module.snapshot

    def snapshot_then_edit(books: object, location_id: str | None = None) -> dict:
        items = real(books, location_id)
        admin_edit(engine, sku, 11)  # committed after Books was read, before the apply
        return items

    monkeypatch.setattr(pull_module, "snapshot", snapshot_then_edit)
    pull_module.pull(engine, books_clients.books)
    monkeypatch.undo()

    assert store_stock(engine)[sku] == truth
    cycle(engine, books_clients)
    assert store_stock(engine)[sku] == books_stock(books_sandbox)[sku] == truth


def test_invoice_marked_sent_during_a_snapshot_waits_for_the_apply(
        engine: sa.Engine, books_sandbox: BooksSandbox, books_clients: object,
        monkeypatch: object) -> None:
    _seeded(engine, books_clients)
    cycle(engine, books_clients)
    sku = sorted(store_stock(engine))[2]
    checkout(engine, sku, 3)
    truth = store_stock(engine)
    real = pull_module.snapshot
    snapshot_taken, invoice_done = threading.Event(), threading.Event()

    def slow_snapshot(books: object, location_id: str | None = None) -> dict:
        items = real(books, location_id)
        snapshot_taken.set()
        invoice_done.wait(1.5)  # the invoice flow runs now; it must wait for the lock
        return items

    def invoice() -> None:
        snapshot_taken.wait(10)
        sync_books(engine, books_clients)
        invoice_done.set()

    monkeypatch.setattr(pull_module, "snapshot", slow_snapshot)
    worker = threading.Thread(target=invoice)
    worker.start()
    pull_module.pull(engine, books_clients.books)
    worker.join(30)
    monkeypatch.undo()

    assert store_stock(engine) == truth  # no double count of the 3 units
    cycle(engine, books_clients)
    assert store_stock(engine) == books_stock(books_sandbox) == truth


def test_a_sku_books_refuses_does_not_hold_back_the_others(
        engine: sa.Engine, books_sandbox: BooksSandbox, books_clients: object) -> None:
    _seeded(engine, books_clients)
    cycle(engine, books_clients)
    good, bad = sorted(store_stock(engine))[:2]
    admin_edit(engine, good, 3)
    admin_edit(engine, bad, 4)
    with engine.begin() as conn:  # its item is gone from Books
        conn.execute(sa.text("UPDATE public.products SET zoho_books_id = '460000000999999' "
                             "WHERE sku = :s"), {"s": bad})

    report = push(engine, books_clients.books)

    assert report.refused and report.refused_skus == [bad]
    assert report.pushed_skus == [good] and report.adjustments == 1
    assert books_stock(books_sandbox)[good] == store_stock(engine)[good]
    with engine.connect() as conn:  # the refused SKU's change is still pending, not lost
        assert conn.execute(sa.text(
            "SELECT sum(delta) FROM integration.stock_movements WHERE sku = :s "
            "AND source = 'storefront' AND pushed_at IS NULL"), {"s": bad}).scalar_one() == 4
