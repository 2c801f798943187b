"""A draft invoice's stock row (issue 12): 'sending' is written on the stock lock's helper
thread while the invoice is made, so its round trip overlaps Books' reply, yet it is
committed before the mark-sent call that moves Books stock; an attempt that fails before
that call takes back the row it wrote, and only that row."""

from __future__ import annotations

import threading
from typing import Any

import pytest
import sqlalchemy as sa

from kn_zoho.storefront.seed import seed
from kn_zoho.sync.books import InvoicesFlow
from kn_zoho.sync.runner import run_flow
from kn_zoho.sync.stock.lock import STOCK_LOCK_HELPER
from kn_zoho.zoho.errors import ZohoError
from kn_zoho_tests.sync.books_fixtures import *  # noqa: F403 - pytest fixtures
from kn_zoho_tests.sync.books_fixtures import BooksSandbox
from kn_zoho_tests.sync.stock_helpers import stock_invoice_rows, stock_lock_free


def _orders(engine: sa.Engine, n: int) -> list[str]:
    seed(engine, users=2, products=3, orders=n, paid_fraction=1.0, quote_requests=0,
         inquiries=0)
    with engine.connect() as conn:
        return list(conn.execute(sa.text(
            "SELECT order_number FROM orders ORDER BY order_number")).scalars())


def test_sending_is_written_on_the_helper_thread_and_committed_before_the_mark_sent(
        engine: sa.Engine, books_sandbox: BooksSandbox, books_clients,
        monkeypatch: pytest.MonkeyPatch) -> None:
    numbers = _orders(engine, 4)
    books = books_clients.books
    writers: list[str] = []

    def statement(conn, cursor, text: str, *args: Any) -> None:
        if "'sending'" in text and text.lstrip().startswith("INSERT"):
            writers.append(threading.current_thread().name)

    mark_sent, seen = books.mark_invoice_sent, []

    def checked(invoice_id: str) -> Any:
        """At the call: the row is committed (another session reads it) and the lock held."""
        number = {i["invoice_id"]: i["invoice_number"] for i in books_sandbox.records(
            "books_invoices")}[invoice_id]
        seen.append((stock_invoice_rows(engine).get(number),
                     stock_lock_free(engine, books.organization_id)))
        return mark_sent(invoice_id)

    monkeypatch.setattr(books, "mark_invoice_sent", checked)
    sa.event.listen(engine, "before_cursor_execute", statement)
    try:
        report = run_flow(engine, InvoicesFlow(books), retry_base=0)
    finally:
        sa.event.remove(engine, "before_cursor_execute", statement)
    assert report.count("synced") == 4, report.failures
    assert writers == [STOCK_LOCK_HELPER] * 4
    assert seen == [((None, "sending"), False)] * 4
    invoices = {i["invoice_number"]: i["invoice_id"] for i in books_sandbox.records(
        "books_invoices")}
    assert stock_invoice_rows(engine) == {number: (invoices[number], "sent") for number in numbers}
    assert stock_lock_free(engine, books.organization_id)


def test_an_attempt_failing_before_its_mark_sent_takes_back_the_row_it_wrote(
        engine: sa.Engine, books_sandbox: BooksSandbox, books_clients,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Refused at the create (nothing in Books, no stock moved): no row is left for the pull
    to resolve with a call. Transient or not, the next attempt writes it again."""
    numbers = _orders(engine, 2)
    books = books_clients.books
    create = books.create_invoice

    def refused(payload: dict[str, Any], **params: Any) -> Any:
        if payload["invoice_number"] == numbers[0]:
            raise ZohoError("refused for the test", code=1002, http_status=400)
        return create(payload, **params)

    monkeypatch.setattr(books, "create_invoice", refused)
    report = run_flow(engine, InvoicesFlow(books), retry_base=0)
    assert [r.status for r in report.results if r.record_key == numbers[0]] != ["synced"]
    assert report.count("synced") == 1
    assert set(stock_invoice_rows(engine)) == {numbers[1]}
    assert stock_lock_free(engine, books.organization_id)


def test_a_row_an_earlier_attempt_left_sending_outlives_this_attempts_failure(
        engine: sa.Engine, books_sandbox: BooksSandbox, books_clients,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A killed attempt left 'sending' (its mark-sent may have landed): a later attempt that
    fails before its own mark-sent must not take that row back, or the pull would count the
    sale again in P while Books has taken it in."""
    [number] = _orders(engine, 1)
    with engine.begin() as conn:
        conn.execute(sa.text(
            "INSERT INTO integration.stock_invoices (order_id, order_number, invoice_id, state)"
            " SELECT id, order_number, NULL, 'sending' FROM orders"))
    books = books_clients.books

    def unreachable(*args: Any, **kwargs: Any) -> Any:
        raise ZohoError("Books is away", http_status=503, code="UNAVAILABLE")

    monkeypatch.setattr(books, "create_invoice", unreachable)
    report = run_flow(engine, InvoicesFlow(books), retry_base=0)
    assert report.count("synced") == 0
    assert stock_invoice_rows(engine) == {number: (None, "sending")}
