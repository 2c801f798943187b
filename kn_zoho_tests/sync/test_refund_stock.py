"""Refunds in the stock model: a line put back on the shelf reaches Books once, through the
refund's credit note (never also as an adjustment), and is pending until then; an order refunded
before it was invoiced reaches Books as an adjustment of its sale and returns."""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa

from kn_zoho.storefront.checkout import checkout
from kn_zoho.storefront.seed import seed
from kn_zoho.sync.stock.cycle import run_stock_cycle
from kn_zoho.sync.stock.ledger import pending, unknown_outcome
from kn_zoho_tests.sync.books_fixtures import *  # noqa: F403 - pytest fixtures
from kn_zoho_tests.sync.books_fixtures import BooksSandbox
from kn_zoho_tests.sync.stock_helpers import adjustments, books_stock, store_stock, sync_books


def _shop(engine: sa.Engine, clients: Any) -> tuple[Any, list[str]]:
    seed(engine, users=2, products=3, orders=0, inquiries=0, quote_requests=0)
    sync_books(engine, clients)
    run_stock_cycle(engine, clients.books)
    with engine.connect() as conn:
        user_id = conn.execute(sa.text("SELECT id FROM public.users ORDER BY id LIMIT 1")
                               ).scalar_one()
    return user_id, sorted(store_stock(engine))


def _order_lines(engine: sa.Engine, order_id: Any) -> dict[str, Any]:
    with engine.connect() as conn:
        return dict(conn.execute(sa.text(
            "SELECT p.sku, i.id FROM public.order_items i JOIN public.products p "
            "ON p.id = i.product_id WHERE i.order_id = :id"), {"id": order_id}).all())


def _pushed(sandbox: BooksSandbox) -> dict[str, int]:
    pushed: dict[str, int] = {}
    for adjustment in adjustments(sandbox):
        for line in adjustment["line_items"]:
            pushed[line["sku"]] = pushed.get(line["sku"], 0) + int(line["quantity_adjusted"])
    return pushed


def test_a_restocked_line_reaches_books_once_through_the_credit_note(
        engine: sa.Engine, books_sandbox: BooksSandbox, books_clients: Any) -> None:
    user_id, (kept_sku, back_sku, _) = _shop(engine, books_clients)
    order_id = checkout(engine, user_id, {kept_sku: 2, back_sku: 3})
    sync_books(engine, books_clients)  # invoiced: Books stock falls with the sale
    lines = _order_lines(engine, order_id)
    with engine.begin() as conn:
        conn.execute(sa.text(
            "SELECT public.refund_order_lines(:id, 'rfnd_S1', CAST(:lines AS jsonb))"),
            {"id": order_id, "lines": json.dumps([
                {"order_item_id": str(lines[back_sku]), "quantity": 2, "restock": True},
                {"order_item_id": str(lines[kept_sku]), "quantity": 1, "restock": False}])})
    shelf, pushed_before = store_stock(engine), _pushed(books_sandbox)

    run_stock_cycle(engine, books_clients.books)  # before the credit note: pending, not pushed
    assert store_stock(engine) == shelf
    assert books_stock(books_sandbox)[back_sku] == shelf[back_sku] - 2
    with engine.connect() as conn:
        parts = pending(conn)
    assert [p.unsent_returns for p in parts.values() if p.unsent_returns] == [2]

    sync_books(engine, books_clients)  # the credit note returns the restocked units
    for _ in range(2):
        run_stock_cycle(engine, books_clients.books)
    assert store_stock(engine) == books_stock(books_sandbox) == shelf
    assert _pushed(books_sandbox) == pushed_before  # never also an adjustment
    with engine.connect() as conn:
        assert not any(p.total for p in pending(conn).values())


def test_an_order_refunded_before_its_invoice_reaches_books_as_an_adjustment(
        engine: sa.Engine, books_sandbox: BooksSandbox, books_clients: Any) -> None:
    user_id, (sold_sku, cancelled_sku, _) = _shop(engine, books_clients)
    refunded = checkout(engine, user_id, {sold_sku: 2})
    cancelled = checkout(engine, user_id, {cancelled_sku: 1})
    with engine.begin() as conn:
        conn.execute(sa.text("SELECT public.refund_order(:id)"), {"id": refunded})  # kept
        conn.execute(sa.text("SELECT public.cancel_paid_order(:id, 'rfnd_S2')"),
                     {"id": cancelled})
    shelf, pushed_before = store_stock(engine), _pushed(books_sandbox)
    sync_books(engine, books_clients)
    for _ in range(2):
        run_stock_cycle(engine, books_clients.books)
    assert not books_sandbox.records("books_invoices")
    assert not books_sandbox.records("books_creditnotes")
    assert store_stock(engine) == books_stock(books_sandbox) == shelf
    # the kept goods left the shelf: Books learns of it as a storefront change
    pushed = _pushed(books_sandbox)
    assert pushed[sold_sku] - pushed_before[sold_sku] == -2
    assert pushed.get(cancelled_sku) == pushed_before.get(cancelled_sku)  # nets to nothing


def test_a_credit_note_books_refuses_leaves_no_unknown_stock_write(
        engine: sa.Engine, books_sandbox: BooksSandbox, books_clients: Any) -> None:
    user_id, (sku, _, _) = _shop(engine, books_clients)
    order_id = checkout(engine, user_id, {sku: 2})
    sync_books(engine, books_clients)
    with engine.begin() as conn:
        conn.execute(sa.text("SELECT public.refund_order(:id, true)"), {"id": order_id})
        item_id = conn.execute(sa.text("SELECT zoho_books_id FROM public.products "
                                       "WHERE sku = :sku"), {"sku": sku}).scalar_one()
    books_clients.books.mark_item_inactive(item_id)  # Books refuses it on a new transaction
    sync_books(engine, books_clients)
    with engine.connect() as conn:
        status = conn.execute(sa.text("SELECT status FROM integration.zoho_sync_queue "
                                      "WHERE entity = 'books_credit_note'")).scalar_one()
        assert status == "failed"
        assert not unknown_outcome(conn)  # the pull still takes this SKU in
        assert [p.unsent_returns for p in pending(conn).values() if p.unsent_returns] == [2]
