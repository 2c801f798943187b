"""One invoice, one payment (and one customer, one item) per storefront record, whatever goes
wrong between us and Books: lost replies, a run killed before it recorded Books' reply, and two
runs working on the same orders at once."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

import pytest
import sqlalchemy as sa

from kn_zoho.storefront import queue
from kn_zoho.storefront.claims import Claim
from kn_zoho.storefront.outcomes import Outcome
from kn_zoho.storefront.seed import seed
from kn_zoho.sync.books import InvoicesFlow, ItemsFlow
from kn_zoho.sync.runner import run_flow
from kn_zoho.zoho.books import BooksClient
from kn_zoho_tests.sync.books_fixtures import *  # noqa: F403 - pytest fixtures
from kn_zoho_tests.sync.books_fixtures import BooksSandbox, attempt_in_two_runs


def _seed(engine: sa.Engine) -> list[str]:
    seed(engine, users=8, products=6, orders=12, paid_fraction=1.0, quote_requests=0,
         inquiries=0)
    with engine.connect() as conn:
        return list(conn.execute(sa.text("SELECT order_number FROM orders")).scalars())


def _assert_once_each(engine: sa.Engine, sandbox: BooksSandbox, numbers: list[str]) -> None:
    invoices = sandbox.records("books_invoices")
    assert sorted(i["invoice_number"] for i in invoices) == sorted(numbers)
    assert all(i["status"] == "paid" for i in invoices)
    payments = sandbox.records("books_payments")
    assert len(payments) == len(numbers)
    assert Counter(p["invoices"][0]["invoice_id"] for p in payments) == Counter(
        i["invoice_id"] for i in invoices)
    contacts = sandbox.records("books_contacts")
    assert len(contacts) == len({c["email"] for c in contacts})
    items = sandbox.records("books_items")
    assert len(items) == len({i["sku"] for i in items})
    with engine.connect() as conn:
        stored = dict(conn.execute(sa.text("SELECT order_number, zoho_books_id FROM orders")).all())
        users = conn.execute(sa.text("SELECT count(DISTINCT user_id) FROM orders")).scalar()
    assert stored == {i["invoice_number"]: i["invoice_id"] for i in invoices}
    assert len(contacts) == users


def _losing_replies_from(sandbox: BooksSandbox, create: Callable[..., Any], *, for_good: bool
                         ) -> Callable[..., Any]:
    """``create`` whose first call is stored by Books but its reply lost; with ``for_good``
    every later reply is lost too (until the test switches the fault off)."""
    calls = []

    def lossy(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        if len(calls) > 1:
            return create(*args, **kwargs)
        sandbox.faults(lost_response_rate=1.0)
        try:
            return create(*args, **kwargs)
        finally:
            if not for_good:
                sandbox.faults(lost_response_rate=0)

    return lossy


def test_lost_reply_is_resolved_in_the_same_attempt(
        engine: sa.Engine, books_sandbox, books_clients, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Books stored the invoice and the payment but their replies were lost: the attempt
    looks each up by its key (invoice number, payment reference) and adopts it."""
    numbers = _seed(engine)
    books = books_clients.books
    monkeypatch.setattr(books, "create_invoice",
                        _losing_replies_from(books_sandbox, books.create_invoice, for_good=False))
    monkeypatch.setattr(books, "create_customer_payment", _losing_replies_from(
        books_sandbox, books.create_customer_payment, for_good=False))
    report = run_flow(engine, InvoicesFlow(books), retry_base=0)
    assert report.count("synced") == len(numbers)
    assert sum("invoice:adopt" in r.operation for r in report.results) == 1
    assert sum("payment:adopt" in r.operation for r in report.results) == 1
    _assert_once_each(engine, books_sandbox, numbers)


def test_lost_replies_for_a_whole_attempt_then_retry(
        engine: sa.Engine, books_sandbox, books_clients, monkeypatch: pytest.MonkeyPatch
) -> None:
    """From the first invoice on, every reply of the run is lost (lost_response_rate 1.0):
    invoices, customers and items Books stored are found and adopted by the next run."""
    numbers = _seed(engine)
    books = books_clients.books
    with monkeypatch.context() as patch:
        patch.setattr(books, "create_invoice",
                      _losing_replies_from(books_sandbox, books.create_invoice, for_good=True))
        first = run_flow(engine, InvoicesFlow(books), retry_base=0)
    books_sandbox.faults(lost_response_rate=0)
    assert {r.status for r in first.results} == {"pending"}
    assert books_sandbox.records("books_invoices")  # stored, though we never heard of it

    second = run_flow(engine, InvoicesFlow(books), retry_base=0)
    assert second.count("synced") == len(numbers)
    assert any("invoice:found" in r.operation for r in second.results)  # retry: lookup first
    _assert_once_each(engine, books_sandbox, numbers)


class _KilledAfterBooks(InvoicesFlow):
    """The process dies after Books answered, before the outcome reaches our database."""

    def write_back(self, conn: sa.Connection, done: Sequence[tuple[Claim, Outcome]]) -> None:
        raise KeyboardInterrupt("run killed")


def _kill_after_books(engine: sa.Engine, sandbox: BooksSandbox, books: BooksClient,
                      record_within_seconds: float) -> list[dict[str, Any]]:
    """A run killed at its first record; returns the invoices Books stored, its lease
    broken as the killed run's would run out."""
    flow = _KilledAfterBooks(books)
    flow.record_within_seconds = record_within_seconds
    with pytest.raises(KeyboardInterrupt):
        run_flow(engine, flow, retry_base=0)
    with engine.begin() as conn:  # the killed run's lease runs out
        conn.execute(sa.text("UPDATE integration.zoho_sync_queue SET claimed_until = now() "
                             "- interval '1 second' WHERE status = 'in_progress'"))
    return sandbox.records("books_invoices")


def test_run_killed_before_recording_books_reply(
        engine: sa.Engine, books_sandbox, books_clients) -> None:
    """Recorded one order at a time (slow Zoho replies), the kill loses the reply of the one
    order in hand; that attempt was counted when it started, so the next run looks its
    invoice up and adopts it."""
    numbers = _seed(engine)
    [stored] = _kill_after_books(engine, books_sandbox, books_clients.books, 0)
    report = run_flow(engine, InvoicesFlow(books_clients.books), retry_base=0)
    assert report.count("synced") == len(numbers)
    operations = {r.record_key: r.operation for r in report.results}
    adopted = operations.pop(stored["invoice_number"])
    assert adopted == "invoice:found+payment:adopt", adopted
    assert all("invoice:create+invoice:sent+payment:create" in op
               for op in operations.values()), operations
    _assert_once_each(engine, books_sandbox, numbers)


def test_run_killed_before_recording_a_group_of_books_replies(
        engine: sa.Engine, books_sandbox, books_clients) -> None:
    """Fast replies are recorded together: a kill before the group's record loses every
    reply of the group (here the whole batch), and the next run adopts each order's invoice
    and payment by lookups; nothing is made twice and no stock is left 'sending'."""
    numbers = _seed(engine)
    stored = _kill_after_books(engine, books_sandbox, books_clients.books, 60)
    assert len(stored) == len(numbers)
    report = run_flow(engine, InvoicesFlow(books_clients.books), retry_base=0)
    assert report.count("synced") == len(numbers)
    assert {r.operation for r in report.results} == {"invoice:found+payment:adopt"}
    _assert_once_each(engine, books_sandbox, numbers)
    with engine.connect() as conn:
        states = conn.execute(sa.text(
            "SELECT state, count(*) FROM integration.stock_invoices GROUP BY state")).all()
    assert dict(states) == {"sent": len(numbers)}


def test_two_runs_on_the_same_orders_create_nothing_twice(
        engine: sa.Engine, books_sandbox, books_clients) -> None:
    """The worst overlap: a second run took over the claims (say the first one's lease ran out
    while it was still working), so both create the same customers, items, invoices and
    payments at the same moment, each with its own clients and catalog."""
    numbers = _seed(engine)
    claims = queue.claim(engine, "books_invoice", worker="first", limit=100)
    books_sandbox.faults(latency_ms=3)
    results = attempt_in_two_runs(engine, books_sandbox, books_clients, claims)
    assert all(outcome.ok for outcomes in results for outcome in outcomes.values()), results
    operations = " ".join(o.operation for outcomes in results for o in outcomes.values())
    assert "invoice:adopt" in operations or "invoice:found" in operations
    flow = InvoicesFlow(books_clients.books)
    with engine.begin() as conn:
        for claim in claims:
            assert results[0][claim.record_key].zoho_id == results[1][claim.record_key].zoho_id
        done = [(claim, results[0][claim.record_key]) for claim in claims]
        flow.write_back(conn, done)
        queue.finish_many(conn, done, worker="first")
    _assert_once_each(engine, books_sandbox, numbers)
    # the items both runs made on the way are linked, not made again, by the items flow
    assert run_flow(engine, ItemsFlow(books_clients.books), retry_base=0).count("synced") == 6
    assert len(books_sandbox.records("books_items")) == 6
