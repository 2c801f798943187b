"""KN_ZOHO_BOOKS_EMAIL_INVOICES: a paid order's invoice created already sent (``send=true``),
emailed by Books. Exactly once whatever goes wrong (one invoice, one email, one payment), the
create under the stock lock and recorded before it, so the stock pull neither double counts
the sale nor misses it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa

from kn_zoho.storefront import queue
from kn_zoho.storefront.seed import seed
from kn_zoho.sync.books import EMAIL_INVOICES_ENV, InvoicesFlow
from kn_zoho.sync.runner import run_flow
from kn_zoho.sync.stock.cycle import run_stock_cycle
from kn_zoho_tests.sync.books_fixtures import *  # noqa: F403 - pytest fixtures
from kn_zoho_tests.sync.books_fixtures import (
    BooksSandbox,
    attempt_in_two_runs,
    losing_first_reply,
)
from kn_zoho_tests.sync.stock_helpers import (
    books_stock,
    checkout,
    cycle,
    stock_invoice_rows,
    stock_lock_free,
    store_stock,
    sync_books,
)

STATUS_SENT = "POST /books/v3/invoices/{id}/status/sent"


@pytest.fixture
def emailing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(EMAIL_INVOICES_ENV, "true")


def _assert_once_each(engine: sa.Engine, sandbox: BooksSandbox) -> None:
    """Every paid order: one paid invoice, one email naming it, one payment, recorded sent."""
    with engine.connect() as conn:
        orders = dict(conn.execute(sa.text(
            "SELECT o.order_number, u.email FROM orders o JOIN users u ON u.id = o.user_id "
            "WHERE o.payment_status = 'paid'")).all())
    invoices = {i["invoice_number"]: i for i in sandbox.records("books_invoices")}
    assert sorted(invoices) == sorted(orders)
    assert {i["status"] for i in invoices.values()} == {"paid"}
    emails = sandbox.records("books_emails")
    assert sorted(e["invoice_number"] for e in emails) == sorted(orders)
    assert all(e["to"] == [orders[e["invoice_number"]]] for e in emails)
    assert len(sandbox.records("books_payments")) == len(orders)
    assert stock_invoice_rows(engine) == {number: (invoice["invoice_id"], "sent")
                                   for number, invoice in invoices.items()}


def test_the_setting_is_off_by_default_and_parsed_strictly(
        books_clients, monkeypatch: pytest.MonkeyPatch) -> None:
    assert InvoicesFlow(books_clients.books).email_invoices is False
    for value, expected in (("true", True), ("1", True), (" TRUE ", True), ("false", False),
                            ("0", False), ("", False)):
        monkeypatch.setenv(EMAIL_INVOICES_ENV, value)
        assert InvoicesFlow(books_clients.books).email_invoices is expected
    for value in ("yes", "on", "2", "truee"):
        monkeypatch.setenv(EMAIL_INVOICES_ENV, value)
        with pytest.raises(ValueError, match=f"KN_ZOHO_BOOKS_EMAIL_INVOICES='{value}': use "
                                             "true or false"):
            InvoicesFlow(books_clients.books)


def test_emailed_invoices_are_created_under_the_stock_lock_recorded_before_the_call(
        engine: sa.Engine, books_sandbox: BooksSandbox, books_clients,
        monkeypatch: pytest.MonkeyPatch, emailing: None) -> None:
    seed(engine, users=3, products=3, orders=5, paid_fraction=1.0, quote_requests=0,
         inquiries=0)
    books = books_clients.books
    create, seen = books.create_invoice, []

    def checked(payload: dict[str, Any], **params: Any) -> dict[str, Any]:
        """At the create: another session cannot take the stock lock (a pull waits), and
        the order's sale is recorded 'sending' (a kill now leaves it to the pull)."""
        free = stock_lock_free(engine, books.organization_id)
        seen.append((params.get("send"), free,
                     stock_invoice_rows(engine).get(payload["invoice_number"])))
        return create(payload, **params)

    monkeypatch.setattr(books, "create_invoice", checked)
    report = run_flow(engine, InvoicesFlow(books), retry_base=0)
    assert report.count("synced") == 5
    assert all("invoice:create+invoice:emailed+payment:create" in r.operation
               for r in report.results), [r.operation for r in report.results]
    assert books_sandbox.calls()[STATUS_SENT] == 0
    assert seen == [(True, False, (None, "sending"))] * 5
    _assert_once_each(engine, books_sandbox)


def test_a_customer_without_email_gets_a_draft_marked_sent_and_no_email(
        engine: sa.Engine, books_sandbox: BooksSandbox, books_clients, emailing: None) -> None:
    seed(engine, users=1, products=1, orders=1, paid_fraction=1.0, quote_requests=0,
         inquiries=0)
    run_flow(engine, InvoicesFlow(books_clients.books), retry_base=0)
    with engine.begin() as conn:  # the customer is linked now; its storefront email goes
        order = conn.execute(sa.text("SELECT * FROM orders")).mappings().one()
        number = conn.execute(sa.text(
            "INSERT INTO orders (order_number, user_id, shipping_state, subtotal, discount_total,"
            " shipping_charge, tax_total, grand_total) SELECT 'KN-NO-MAIL', user_id,"
            " shipping_state, subtotal, discount_total, shipping_charge, tax_total, grand_total"
            " FROM orders WHERE id = :id RETURNING id"), {"id": order["id"]}).scalar_one()
        conn.execute(sa.text(
            "INSERT INTO order_items (order_id, product_id, quantity, unit_price, discount,"
            " gst_rate, line_total) SELECT :new, product_id, quantity, unit_price, discount,"
            " gst_rate, line_total FROM order_items WHERE order_id = :id"),
            {"new": number, "id": order["id"]})
        conn.execute(sa.text("UPDATE orders SET payment_status = 'paid', paid_at = now() "
                             "WHERE id = :id"), {"id": number})
        conn.execute(sa.text("UPDATE users SET email = '' WHERE id = :id"),
                     {"id": order["user_id"]})
    before = books_sandbox.calls()[STATUS_SENT]
    report = run_flow(engine, InvoicesFlow(books_clients.books), retry_base=0)
    [result] = report.results
    assert result.operation == "invoice:create+invoice:sent+payment:create"
    assert "no email address" in result.metadata["email"]
    assert books_sandbox.calls()[STATUS_SENT] == before + 1
    assert [e["invoice_number"] for e in books_sandbox.records("books_emails")] == [
        order["order_number"]]
    assert stock_invoice_rows(engine)["KN-NO-MAIL"][1] == "sent"


def test_lost_reply_to_the_create_adopts_the_sent_invoice_without_sending_it_again(
        engine: sa.Engine, books_sandbox: BooksSandbox, books_clients,
        monkeypatch: pytest.MonkeyPatch, emailing: None) -> None:
    seed(engine, users=3, products=3, orders=4, paid_fraction=1.0, quote_requests=0,
         inquiries=0)
    books = books_clients.books
    monkeypatch.setattr(books, "create_invoice",
                        losing_first_reply(books_sandbox, books.create_invoice))
    report = run_flow(engine, InvoicesFlow(books), retry_base=0)
    assert report.count("synced") == 4
    adopted = [r.operation for r in report.results if "invoice:adopt" in r.operation]
    assert len(adopted) == 1 and adopted[0].endswith("+invoice:adopt+payment:create"), adopted
    assert books_sandbox.calls()[STATUS_SENT] == 0
    _assert_once_each(engine, books_sandbox)


def _killed(create: Callable[..., Any], *, after_books_stored: bool) -> Callable[..., Any]:
    def killed(*args: Any, **kwargs: Any) -> Any:
        if after_books_stored:
            create(*args, **kwargs)
        raise KeyboardInterrupt("run killed")
    return killed


@pytest.mark.parametrize("after_books_stored", [True, False])
def test_a_run_killed_at_the_create_leaves_a_record_the_pull_settles_by_number(
        engine: sa.Engine, books_sandbox: BooksSandbox, books_clients,
        monkeypatch: pytest.MonkeyPatch, emailing: None, after_books_stored: bool) -> None:
    """Killed during the create: the 'sending' row has no invoice id. The pull finds the
    invoice by its number: sent (Books took the sale) is recorded sent, so the sale is not
    counted again; none means the sale is still pending. The next run ends the order with
    one invoice, one email, one payment, and never marks it sent."""
    seed(engine, users=2, products=2, orders=0, quote_requests=0, inquiries=0)
    sync_books(engine, books_clients)
    cycle(engine, books_clients)
    truth = store_stock(engine)
    sku = sorted(truth)[0]
    checkout(engine, sku, 2)
    truth[sku] -= 2
    books = books_clients.books
    with monkeypatch.context() as patch:
        patch.setattr(books, "create_invoice",
                      _killed(books.create_invoice, after_books_stored=after_books_stored))
        with pytest.raises(KeyboardInterrupt):
            run_flow(engine, InvoicesFlow(books), retry_base=0)
    [(invoice_id, state)] = stock_invoice_rows(engine).values()
    assert (invoice_id, state) == (None, "sending")

    assert run_stock_cycle(engine, books).pull.invoices_resolved == 1
    assert store_stock(engine) == truth  # neither counted twice nor lost
    stored = books_sandbox.records("books_invoices")
    if after_books_stored:
        assert stock_invoice_rows(engine) == {stored[0]["invoice_number"]: (stored[0]["invoice_id"],
                                                                    "sent")}
    else:
        assert stored == [] and stock_invoice_rows(engine) == {}

    with engine.begin() as conn:  # the killed run's lease runs out
        conn.execute(sa.text("UPDATE integration.zoho_sync_queue SET claimed_until = now() "
                             "- interval '1 second' WHERE status = 'in_progress'"))
    report = run_flow(engine, InvoicesFlow(books), retry_base=0)
    [result] = report.results
    # without the invoice, the customer is needed: the killed run's link went with its
    # unrecorded outcome, so the contact it created is found by email (never made twice)
    assert result.operation == ("invoice:found+payment:create" if after_books_stored else
                                "customer:link+invoice:create+invoice:emailed+payment:create")
    assert books_sandbox.calls()[STATUS_SENT] == 0
    _assert_once_each(engine, books_sandbox)
    cycle(engine, books_clients)
    assert store_stock(engine) == books_stock(books_sandbox) == truth


def test_two_runs_on_the_same_orders_send_each_invoice_once(
        engine: sa.Engine, books_sandbox: BooksSandbox, books_clients, emailing: None) -> None:
    seed(engine, users=4, products=3, orders=8, paid_fraction=1.0, quote_requests=0,
         inquiries=0)
    claims = queue.claim(engine, "books_invoice", worker="first", limit=100)
    books_sandbox.faults(latency_ms=3)
    results = attempt_in_two_runs(engine, books_sandbox, books_clients, claims)
    books_sandbox.faults(latency_ms=0)
    assert all(outcome.ok for outcomes in results for outcome in outcomes.values()), results
    operations = " ".join(o.operation for outcomes in results for o in outcomes.values())
    assert "invoice:adopt" in operations
    assert books_sandbox.calls()[STATUS_SENT] == 0
    flow = InvoicesFlow(books_clients.books)
    with engine.begin() as conn:
        done = [(claim, results[0][claim.record_key]) for claim in claims]
        flow.write_back(conn, done)
        queue.finish_many(conn, done, worker="first")
    _assert_once_each(engine, books_sandbox)


def test_a_draft_adopted_at_the_create_is_marked_sent_once_and_not_emailed(
        engine: sa.Engine, books_sandbox: BooksSandbox, books_clients,
        monkeypatch: pytest.MonkeyPatch, emailing: None) -> None:
    """Another run (with the setting off) made the order's draft just before our create:
    ours is refused and adopts the draft, which is marked sent (no email) under the lock."""
    seed(engine, users=1, products=1, orders=1, paid_fraction=1.0, quote_requests=0,
         inquiries=0)
    books = books_clients.books
    create = books.create_invoice

    def raced(payload: dict[str, Any], **params: Any) -> dict[str, Any]:
        create(payload, ignore_auto_number_generation=True)  # the other run's draft
        return create(payload, **params)

    monkeypatch.setattr(books, "create_invoice", raced)
    report = run_flow(engine, InvoicesFlow(books), retry_base=0)
    [result] = report.results
    assert result.operation.endswith("invoice:adopt+invoice:sent+payment:create"), result
    assert result.metadata["email"] == "not emailed again: the invoice was in Books already"
    assert books_sandbox.calls()[STATUS_SENT] == 1
    assert books_sandbox.records("books_emails") == []
    [invoice] = books_sandbox.records("books_invoices")
    assert invoice["status"] == "paid"
    assert stock_invoice_rows(engine) == {
        invoice["invoice_number"]: (invoice["invoice_id"], "sent")}


def test_the_pull_never_takes_another_records_invoice_for_an_unanswered_create(
        engine: sa.Engine, books_sandbox: BooksSandbox, books_clients) -> None:
    """A 'sending' row without id whose number Books holds for another record (our create
    was refused): the sale is not Books' yet, so the row goes and the sale stays pending."""
    seed(engine, users=1, products=1, orders=1, paid_fraction=1.0, quote_requests=0,
         inquiries=0)
    books = books_clients.books
    with engine.begin() as conn:
        order = conn.execute(sa.text("SELECT id, order_number FROM orders")).one()
        conn.execute(sa.text(
            "INSERT INTO integration.stock_invoices (order_id, order_number, invoice_id, state)"
            " VALUES (:id, :number, NULL, 'sending')"),
            {"id": order.id, "number": order.order_number})
    customer = books.create_contact({"contact_name": "Walk-in", "gst_treatment": "consumer"})
    other = books.create_invoice(
        {"customer_id": customer["contact_id"], "invoice_number": order.order_number,
         "reference_number": "SOMEONE-ELSE",
         "line_items": [{"name": "Seeds", "rate": 10, "quantity": 1}]},
        ignore_auto_number_generation=True)
    books.mark_invoice_sent(other["invoice_id"])
    assert run_stock_cycle(engine, books).pull.invoices_resolved == 1
    assert stock_invoice_rows(engine) == {}


def test_books_refusing_to_send_for_want_of_a_contact_email_gets_a_draft_marked_sent(
        engine: sa.Engine, books_sandbox: BooksSandbox, books_clients, emailing: None,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The storefront has the customer's email but the Books contact it is linked to has none
    (edited in Books): Books refuses the send and stores nothing (looked up by number), and
    the sale goes in all the same, as a draft marked sent under the stock lock, no email; the
    record says why it was not emailed."""
    seed(engine, users=1, products=1, orders=1, paid_fraction=1.0, quote_requests=0,
         inquiries=0)
    books = books_clients.books
    contact = books.create_contact({"contact_name": "Typed in by hand",
                                    "gst_treatment": "consumer"})
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE users SET zoho_books_id = :id"),
                     {"id": contact["contact_id"]})
    create, rows_at_create = books.create_invoice, []

    def create_seeing_rows(payload: dict[str, Any], **params: Any) -> dict[str, Any]:
        rows_at_create.append((params.get("send", False),
                               stock_invoice_rows(engine).get(payload["invoice_number"])))
        return create(payload, **params)

    monkeypatch.setattr(books, "create_invoice", create_seeing_rows)
    report = run_flow(engine, InvoicesFlow(books), retry_base=0)
    [result] = report.results
    assert result.status == "synced", result.error_message
    assert result.operation.endswith("invoice:create+invoice:sent+payment:create")
    assert result.metadata["email"].startswith("not emailed: Books refused to send it (")
    assert "no contact person" in result.metadata["email"]
    # the sent create recorded before its call; then the draft (its 'sending' written on the
    # lock's thread while it is made)
    assert [send for send, _ in rows_at_create] == [True, False]
    assert rows_at_create[0][1] == (None, "sending")
    [invoice] = books_sandbox.records("books_invoices")
    assert invoice["status"] == "paid"
    assert books_sandbox.records("books_emails") == []
    assert stock_invoice_rows(engine) == {invoice["invoice_number"]: (invoice["invoice_id"],
                                                                      "sent")}
