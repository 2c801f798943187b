"""The Books document flows read a claimed batch once, yet never invoice from a row that
changed after that read: starting a record's attempt tells whether it changed since."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa

from kn_zoho.mapping.books import invoice_from_order
from kn_zoho.storefront import queue
from kn_zoho.storefront.seed import seed
from kn_zoho.sync.books import InvoicesFlow, ItemsFlow, invoices
from kn_zoho.sync.runner import run_flow
from kn_zoho_tests.sync.books_fixtures import *  # noqa: F403 - pytest fixtures


@contextmanager
def _reads(engine: sa.Engine, prefix: str) -> Iterator[list[str]]:
    """The statements starting with ``prefix`` run inside the block."""
    reads: list[str] = []

    def count(conn, cursor, statement, parameters, context, executemany) -> None:
        if statement.lstrip().startswith(prefix):
            reads.append(statement)

    sa.event.listen(engine, "before_cursor_execute", count)
    try:
        yield reads
    finally:
        sa.event.remove(engine, "before_cursor_execute", count)


def _prepared(engine: sa.Engine, books_clients, n: int) -> tuple[list, InvoicesFlow]:
    """``n`` paid orders of as many customers, their items in Books, claimed, the batch read."""
    seed(engine, users=n, products=n, orders=n, paid_fraction=1.0, quote_requests=0,
         inquiries=0)
    assert run_flow(engine, ItemsFlow(books_clients.books), retry_base=0).count("synced") == n
    claims = queue.claim(engine, "books_invoice", worker="w")
    flow = InvoicesFlow(books_clients.books)
    flow.prepare(engine, claims)
    return claims, flow


def test_an_order_fixed_after_its_batch_was_read_is_invoiced_from_its_fresh_row(
        engine: sa.Engine, books_sandbox, books_clients) -> None:
    claims, flow = _prepared(engine, books_clients, 2)
    # the admin corrects the second order's payment date after the batch was read
    with engine.begin() as conn:
        fixed = conn.execute(sa.text(
            "UPDATE orders SET paid_at = paid_at - interval '3 days' WHERE order_number = :n "
            "RETURNING to_char(paid_at AT TIME ZONE 'Asia/Kolkata', 'YYYY-MM-DD')"),
            {"n": claims[1].record_key}).scalar_one()
        unchanged = conn.execute(sa.text(
            "SELECT to_char(paid_at AT TIME ZONE 'Asia/Kolkata', 'YYYY-MM-DD') FROM orders "
            "WHERE order_number = :n"), {"n": claims[0].record_key}).scalar_one()
    started = []
    for claim in claims:
        with engine.begin() as conn:
            [one] = queue.start(conn, [claim], worker="w", run_id="w")
        started.append(one)
        assert flow.attempt(engine, [one], force=False)[one.record_key].ok
    assert [one.changed for one in started] == [False, True]
    dates = {invoice["invoice_number"]: invoice["date"]
             for invoice in books_sandbox.records("books_invoices")}
    assert dates == {claims[0].record_key: unchanged, claims[1].record_key: fixed}


def test_the_batch_is_read_once_not_once_a_record(engine: sa.Engine, books_sandbox,
                                                   books_clients) -> None:
    seed(engine, users=3, products=3, orders=6, paid_fraction=1.0, quote_requests=0,
         inquiries=0)
    run_flow(engine, ItemsFlow(books_clients.books), retry_base=0)
    with _reads(engine, "SELECT o.*, s.state AS invoice_stock_state") as reads:
        report = run_flow(engine, InvoicesFlow(books_clients.books), retry_base=0)
    assert report.count("synced") == 6
    assert len(reads) == 1


def test_the_items_flow_reads_its_batch_once_and_a_product_changed_since_afresh(
        engine: sa.Engine, books_sandbox, books_clients) -> None:
    """Two queries a batch of products (rows, SKU owners), not two a product; a product
    renamed after its batch was read is sent with its new name."""
    seed(engine, users=1, products=5, orders=0, quote_requests=0, inquiries=0)
    claims = queue.claim(engine, "books_item", worker="w")
    flow = ItemsFlow(books_clients.books)
    flow.prepare(engine, claims)
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE products SET name = 'Renamed after the read' "
                             "WHERE sku = :sku"), {"sku": claims[2].record_key})
    with _reads(engine, "SELECT * FROM public.products") as reads:
        for claim in claims:
            with engine.begin() as conn:
                [one] = queue.start(conn, [claim], worker="w", run_id="w")
            assert flow.attempt(engine, [one], force=False)[one.record_key].ok
    assert len(reads) == 1  # only the changed product's own read
    names = {item["sku"]: item["name"] for item in books_sandbox.records("books_items")}
    assert names[claims[2].record_key] == "Renamed after the read"
    assert len(names) == 5


def test_a_customer_another_run_linked_after_the_batch_read_is_not_looked_up_again(
        engine: sa.Engine, books_sandbox, books_clients) -> None:
    """The batch was read with the customer unlinked; another run linked it since: the
    attempt takes the link from the row before any call, so no search and no second contact."""
    claims, flow = _prepared(engine, books_clients, 1)
    contact = books_clients.books.create_contact({"contact_name": "Linked by another run",
                                                  "gst_treatment": "consumer"})
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE users SET zoho_books_id = :id"),
                     {"id": contact["contact_id"]})
    before = books_sandbox.calls()
    with engine.begin() as conn:
        [one] = queue.start(conn, claims, worker="w", run_id="w")
    outcome = flow.attempt(engine, [one], force=False)[one.record_key]
    flow.settle()
    assert outcome.ok and "customer:" not in outcome.operation, outcome
    calls = books_sandbox.calls() - before
    assert calls["GET /books/v3/contacts"] == 0 and calls["POST /books/v3/contacts"] == 0
    [invoice] = books_sandbox.records("books_invoices")
    assert invoice["customer_id"] == contact["contact_id"]


def test_each_order_is_mapped_once_before_its_customer_is_created(
        engine: sa.Engine, books_sandbox, books_clients, monkeypatch) -> None:
    """An order is mapped (and so checked) before its new customer is created in Books, and
    that payload, given the ids, is what is sent: not mapped a second time."""
    seed(engine, users=2, products=2, orders=2, paid_fraction=1.0, quote_requests=0,
         inquiries=0)
    run_flow(engine, ItemsFlow(books_clients.books), retry_base=0)
    mapped: list[str] = []

    def counted(order, *args, **kwargs):
        mapped.append(order["order_number"])
        return invoice_from_order(order, *args, **kwargs)

    monkeypatch.setattr(invoices, "invoice_from_order", counted)
    report = run_flow(engine, InvoicesFlow(books_clients.books), retry_base=0)
    assert report.count("synced") == 2
    assert any("customer:create" in result.operation for result in report.results)
    assert sorted(mapped) == sorted(result.record_key for result in report.results)
