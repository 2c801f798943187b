"""What a paid order costs in Books calls when Books already holds 5,000 customers.

Issue 12: a customer lookup must not grow with the organization. A new customer costs one
search by the documented ``email`` filter and one create; the rest of a paid order is the
invoice, marking it sent (a draft moves no stock and is no posted sale) and the payment:
5 calls. With KN_ZOHO_BOOKS_EMAIL_INVOICES on, the invoice is created already sent (Books
emails it to the customer): 4 calls. A customer Books already has costs the search only; a
known one (its Books id on the user) nothing. The tax table comes from the shared settings
cache (0 calls).
"""

from __future__ import annotations

from collections import Counter

import pytest
import sqlalchemy as sa

from kn_zoho.sandbox.books.contacts import new_contact
from kn_zoho.sandbox.server import RunningSandbox
from kn_zoho.storefront.seed import seed
from kn_zoho.sync.books import EMAIL_INVOICES_ENV, InvoicesFlow, ItemsFlow
from kn_zoho.sync.runner import run_flow
from kn_zoho.zoho.factory import ZohoClients
from kn_zoho_tests.sync.books_fixtures import *  # noqa: F403 - pytest fixtures

ORGANIZATION_CONTACTS = 5_000


def _fill_books_with_customers(server: RunningSandbox, count: int) -> None:
    """``count`` customers in the sandbox's Books, written straight into its state (the API
    would take minutes): one through the sandbox's own validation, the rest shaped like it."""
    state = server.state
    with state.lock:
        template = new_contact(state, {"contact_name": "Customer 0", "contact_persons": [
            {"email": "customer0@elsewhere.example", "is_primary_contact": True}]})
        contacts = state.collection("books", "contacts")
        for number in range(1, count):
            email = f"customer{number}@elsewhere.example"
            contact_id = state.new_id("books")
            contacts[contact_id] = {
                **template, "contact_id": contact_id, "contact_name": f"Customer {number}",
                "email": email,
                "contact_persons": [{**template["contact_persons"][0], "email": email}]}


def _order_calls(engine: sa.Engine, sandbox, clients: ZohoClients) -> tuple[Counter, str]:
    before = sandbox.calls()
    report = run_flow(engine, InvoicesFlow(clients.books), retry_base=0)
    [result] = report.results
    assert result.status == "synced", result.error_message
    calls = sandbox.calls() - before
    assert report.api_calls == sum(calls.values())
    return calls, result.operation


def _new_paid_order(engine: sa.Engine, user_id: object, number: str) -> None:
    """A copy of the seeded order for ``user_id``, placed then paid (as checkout does)."""
    with engine.begin() as conn:
        template = conn.execute(sa.text(
            "SELECT id FROM orders WHERE order_number NOT LIKE 'KN-LOOKUP-%'")).scalar_one()
        order = conn.execute(sa.text(
            "INSERT INTO orders (order_number, user_id, shipping_state, subtotal, discount_total,"
            " shipping_charge, tax_total, grand_total)"
            " SELECT :number, :user, shipping_state, subtotal, discount_total, shipping_charge,"
            " tax_total, grand_total FROM orders WHERE id = :template RETURNING id"),
            {"number": number, "user": user_id, "template": template}).scalar_one()
        conn.execute(sa.text(
            "INSERT INTO order_items (order_id, product_id, quantity, unit_price, discount,"
            " gst_rate, line_total)"
            " SELECT :order, product_id, quantity, unit_price, discount, gst_rate, line_total"
            " FROM order_items WHERE order_id = :template"),
            {"order": order, "template": template})
        conn.execute(sa.text("UPDATE orders SET payment_status = 'paid', paid_at = now()"
                             " WHERE id = :id"), {"id": order})


def _one_order_in_a_big_organization(engine: sa.Engine, server: RunningSandbox,
                                     books_clients: ZohoClients) -> None:
    """A paid order of a new customer, its item in Books, and Books holding 5,000 customers."""
    seed(engine, users=3, products=1, orders=1, paid_fraction=1.0, inquiries=0,
         quote_requests=0)
    run_flow(engine, ItemsFlow(books_clients.books), retry_base=0)  # the item, the tax table
    _fill_books_with_customers(server, ORGANIZATION_CONTACTS)


def test_a_new_customer_order_costs_5_calls_in_an_organization_of_5000_customers(
        engine: sa.Engine, books_sandbox, books_sandbox_server: RunningSandbox,
        books_clients: ZohoClients) -> None:
    _one_order_in_a_big_organization(engine, books_sandbox_server, books_clients)

    calls, operation = _order_calls(engine, books_sandbox, books_clients)
    assert operation == "customer:create+invoice:create+invoice:sent+payment:create"
    assert calls == Counter({"GET /books/v3/contacts": 1, "POST /books/v3/contacts": 1,
                             "POST /books/v3/invoices": 1,
                             "POST /books/v3/invoices/{id}/status/sent": 1,
                             "POST /books/v3/customerpayments": 1})
    assert len(books_sandbox.records("books_contacts")) == ORGANIZATION_CONTACTS + 1

    # a customer Books already has (same email): found by the one search, not created again
    with engine.connect() as conn:
        other = conn.execute(sa.text(
            "SELECT id, email FROM users WHERE zoho_books_id IS NULL ORDER BY email LIMIT 1"
        )).one()
    known = books_sandbox_server.state
    with known.lock:
        contact = new_contact(known, {"contact_name": "Typed in by hand", "contact_persons": [
            {"email": other.email, "is_primary_contact": True}]})
    _new_paid_order(engine, other.id, "KN-LOOKUP-2")
    calls, operation = _order_calls(engine, books_sandbox, books_clients)
    assert operation.startswith("customer:link+")
    assert (calls["GET /books/v3/contacts"], calls["POST /books/v3/contacts"]) == (1, 0)
    assert sum(calls.values()) == 4
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT zoho_books_id FROM users WHERE id = :id"),
                            {"id": other.id}).scalar_one() == contact["contact_id"]

    # the same customer's next order: its Books id is stored, no lookup at all
    _new_paid_order(engine, other.id, "KN-LOOKUP-3")
    calls, _ = _order_calls(engine, books_sandbox, books_clients)
    assert calls["GET /books/v3/contacts"] == 0 and sum(calls.values()) == 3


def test_with_emailed_invoices_a_new_customer_order_costs_4_calls_at_5000_customers(
        engine: sa.Engine, books_sandbox, books_sandbox_server: RunningSandbox,
        books_clients: ZohoClients, monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 12's bound: the invoice is created sent (``send=true``), so no mark-sent call."""
    monkeypatch.setenv(EMAIL_INVOICES_ENV, "true")
    _one_order_in_a_big_organization(engine, books_sandbox_server, books_clients)

    calls, operation = _order_calls(engine, books_sandbox, books_clients)
    assert operation == "customer:create+invoice:create+invoice:emailed+payment:create"
    assert calls == Counter({"GET /books/v3/contacts": 1, "POST /books/v3/contacts": 1,
                             "POST /books/v3/invoices": 1,
                             "POST /books/v3/customerpayments": 1})
    [invoice] = books_sandbox.records("books_invoices")
    [email] = books_sandbox.records("books_emails")
    with engine.connect() as conn:
        customer_email = conn.execute(sa.text(
            "SELECT u.email FROM orders o JOIN users u ON u.id = o.user_id")).scalar_one()
    assert (invoice["status"], email["invoice_id"], email["to"]) == (
        "paid", invoice["invoice_id"], [customer_email])
