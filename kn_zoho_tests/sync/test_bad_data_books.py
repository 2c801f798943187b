"""Awkward storefront data on its way to Zoho Books, against the sandbox on real PostgreSQL:
natural keys that differ only in letter case never let one record overwrite or adopt another's
Books record (the neighbour's Books data stays byte for byte the same), and fixing a failed
record's data brings it back without a manual retry."""

from __future__ import annotations

import json
from typing import Any

import pytest
import sqlalchemy as sa

from kn_zoho.storefront import queue
from kn_zoho.sync.books import BooksCatalog, EstimatesFlow, InvoicesFlow, ItemsFlow
from kn_zoho.sync.runner import run_flow
from kn_zoho_tests.sync import storefront_rows as rows
from kn_zoho_tests.sync.books_fixtures import *  # noqa: F403 - pytest fixtures

SKU_TWINS = [("KNB-BF-1000", "knb-bf-1000"), ("NEEM-OIL-1L", "Neem-Oil-1l"),
             ("tricho-500g", "TRICHO-500G")]
NUMBER_TWINS = [("KN-1034", "kn-1034"), ("KN/26-27/7", "kn/26-27/7"), ("B2C-9", "b2c-9")]


def _one(engine: sa.Engine, sql: str, **params: object) -> str:
    with engine.begin() as conn:
        return str(conn.execute(sa.text(sql), params).scalar())


def _user(engine: sa.Engine, email: str, name: str = "Asha Rao") -> str:
    return _one(engine, "INSERT INTO users (email, full_name, billing_state, shipping_state) "
                        "VALUES (:e, :n, 'KA', 'KA') RETURNING id", e=email, n=name)


def _quote(engine: sa.Engine, number: str, user: str, product: str) -> str:
    with engine.begin() as conn:
        quote = conn.execute(sa.text(
            "INSERT INTO b2b_quotes (quote_number, user_id, shipping_state, subtotal, "
            "grand_total, tax_total) VALUES (:n, :u, 'KA', 118, 118, 18) RETURNING id"),
            {"n": number, "u": user}).scalar()
        conn.execute(sa.text(
            "INSERT INTO b2b_quote_items (quote_id, product_id, quantity, unit_price, gst_rate, "
            "line_total) VALUES (:q, :p, 1, 118, 18, 118)"), {"q": quote, "p": product})
        conn.execute(sa.text("UPDATE b2b_quotes SET status = 'approved', approved_at = now() "
                             "WHERE id = :q"), {"q": quote})
    return str(quote)


def _books(sandbox: Any, kind: str) -> dict[str, str]:
    """Books records of a kind by id, as canonical JSON (byte-for-byte comparison)."""
    id_field = {"books_items": "item_id", "books_contacts": "contact_id",
                "books_invoices": "invoice_id", "books_estimates": "estimate_id"}[kind]
    return {r[id_field]: json.dumps(r, sort_keys=True) for r in sandbox.records(kind)}


def _flows(books_clients: Any) -> tuple[ItemsFlow, InvoicesFlow, EstimatesFlow]:
    catalog = BooksCatalog(books_clients.books)
    return (ItemsFlow(books_clients.books, catalog), InvoicesFlow(books_clients.books, catalog),
            EstimatesFlow(books_clients.books, catalog))


def _results(report: Any) -> dict[str, Any]:
    return {r.record_key: r for r in report.results}


# --- 1. natural keys that differ only in letter case ---------------------------------------

@pytest.mark.parametrize(("first", "twin"), SKU_TWINS)
def test_sku_case_twin_fails_and_never_touches_the_other_products_item(
        engine: sa.Engine, books_sandbox, books_clients, first: str, twin: str) -> None:
    owner = rows.product(engine, first, "Bio fertiliser 1 kg")
    items, invoices, _ = _flows(books_clients)
    run_flow(engine, items, retry_base=0)
    before = _books(books_sandbox, "books_items")

    twin_id = rows.product(engine, twin, "Something else entirely")
    result = _results(run_flow(engine, items, retry_base=0))[twin]
    assert (result.status, result.error_code) == ("failed", "INVALID_DATA")
    assert f"product {twin}: field 'sku': '{twin}' differs only in letter case from SKU " \
           f"'{first}' of product {owner}" in result.error_message
    assert _books(books_sandbox, "books_items") == before

    # an order of the twin product fails too, naming the line's SKU; nothing is invoiced
    user = _user(engine, "buyer@example.in")
    rows.order(engine, "KN-77", user, twin_id)
    invoice = _results(run_flow(engine, invoices, retry_base=0))["KN-77"]
    assert invoice.status == "failed"
    assert f"order KN-77 line 1 ({twin}): field 'sku'" in invoice.error_message
    assert books_sandbox.records("books_invoices") == []
    assert _books(books_sandbox, "books_items") == before

    # the admin gives the product a SKU of its own: item and invoice come back by themselves
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE products SET sku = :s WHERE id = :id"),
                     {"s": f"{twin}-B", "id": twin_id})
    assert "KN-77" in {r.record_key for r in queue.due_records(engine, "books_invoice")}
    items, invoices, _ = _flows(books_clients)
    assert {r.status for r in run_flow(engine, items, retry_base=0).results} == {"synced"}
    assert [r.status for r in run_flow(engine, invoices, retry_base=0).results] == ["synced"]
    after = _books(books_sandbox, "books_items")
    assert len(after) == 2 and all(after[key] == value for key, value in before.items())


def test_an_item_linked_to_another_product_is_never_updated(
        engine: sa.Engine, books_sandbox, books_clients) -> None:
    """Before this fix a twin could already be linked: the item keeps the first product's data."""
    first = rows.product(engine, "KNB-BF-1000", "Bio fertiliser 1 kg")
    items, _, _ = _flows(books_clients)
    run_flow(engine, items, retry_base=0)
    before = _books(books_sandbox, "books_items")
    twin = rows.product(engine, "knb-bf-1000", "Something else")
    with engine.begin() as conn:  # as the old code left it: both linked to one item
        conn.execute(sa.text("UPDATE products SET zoho_books_id = (SELECT zoho_books_id FROM "
                             "products WHERE id = :a) WHERE id = :b"), {"a": first, "b": twin})
    assert _results(run_flow(engine, items, retry_base=0))["knb-bf-1000"].status == "failed"
    assert _books(books_sandbox, "books_items") == before


@pytest.mark.parametrize(("first", "twin"), [("Asha.Rao@example.in", "asha.rao@example.in"),
                                            ("RAVI@KISAN.IN", "ravi@kisan.in"),
                                            ("meena@agro.in", "Meena@agro.in")])
def test_email_case_twin_is_invoiced_to_a_books_customer_of_its_own(
        engine: sa.Engine, books_sandbox, books_clients, first: str, twin: str) -> None:
    """Two storefront accounts are two Books customers; the first one's contact and invoice
    stay byte for byte what they were."""
    product = rows.product(engine, "KNB-1")
    owner = _user(engine, first, "Asha Rao")
    rows.order(engine, "KN-1", owner, product)
    _, invoices, _ = _flows(books_clients)
    run_flow(engine, invoices, retry_base=0)
    contacts, documents = (_books(books_sandbox, "books_contacts"),
                           _books(books_sandbox, "books_invoices"))

    twin_user = _user(engine, twin, "Another Buyer")
    rows.order(engine, "KN-2", twin_user, product)
    _, invoices, _ = _flows(books_clients)  # a new run: its listing holds the first contact
    result = _results(run_flow(engine, invoices, retry_base=0))["KN-2"]
    assert result.status == "synced" and "customer:create" in result.operation
    after = _books(books_sandbox, "books_contacts")
    assert len(after) == 2 and all(after[key] == value for key, value in contacts.items())
    invoices_after = _books(books_sandbox, "books_invoices")
    assert all(invoices_after[key] == value for key, value in documents.items())
    with engine.connect() as conn:
        ids = dict(conn.execute(sa.text("SELECT id::text, zoho_books_id FROM users")).all())
    [second] = [i for i in books_sandbox.records("books_invoices") if i["invoice_number"] == "KN-2"]
    assert second["customer_id"] == ids[twin_user] != ids[owner]


@pytest.mark.parametrize(("first", "twin"), NUMBER_TWINS)
def test_document_number_case_twin_never_adopts_the_other_orders_invoice(
        engine: sa.Engine, books_sandbox, books_clients, first: str, twin: str) -> None:
    product = rows.product(engine, "KNB-1")
    rows.order(engine, first, _user(engine, "a@example.in"), product)
    _, invoices, _ = _flows(books_clients)
    run_flow(engine, invoices, retry_base=0)
    documents = _books(books_sandbox, "books_invoices")
    payments = books_sandbox.records("books_payments")

    rows.order(engine, twin, _user(engine, "b@example.in", "Ravi Kumar"), product)
    result = _results(run_flow(engine, invoices, retry_base=0))[twin]
    assert (result.status, result.error_code, result.zoho_id) == ("failed", "NUMBER_TAKEN", None)
    assert result.error_message.startswith(
        f"order {twin}: field 'order_number': Zoho Books already holds invoice {first} "
        f"(of order '{first}')")
    assert _books(books_sandbox, "books_invoices") == documents
    assert books_sandbox.records("books_payments") == payments


@pytest.mark.parametrize(("first", "twin"), [("Q-77", "q-77"), ("QT/2026/5", "qt/2026/5"),
                                            ("B2B-Q1", "b2b-q1")])
def test_quote_number_case_twin_never_adopts_the_other_quotes_estimate(
        engine: sa.Engine, books_sandbox, books_clients, first: str, twin: str) -> None:
    product = rows.product(engine, "KNB-1")
    _quote(engine, first, _user(engine, "a@example.in"), product)
    _, _, estimates = _flows(books_clients)
    run_flow(engine, estimates, retry_base=0)
    documents = _books(books_sandbox, "books_estimates")

    _quote(engine, twin, _user(engine, "b@example.in", "Ravi Kumar"), product)
    result = _results(run_flow(engine, estimates, retry_base=0))[twin]
    assert (result.status, result.error_code) == ("failed", "NUMBER_TAKEN")
    assert _books(books_sandbox, "books_estimates") == documents


# --- 2. fixing the data brings the record back -----------------------------------------------

def test_order_failing_on_its_product_syncs_after_the_product_is_fixed(
        engine: sa.Engine, books_sandbox, books_clients) -> None:
    product = rows.product(engine, "KNB-9", hsn="38-08")  # not an HSN code
    rows.order(engine, "KN-9", _user(engine, "farmer@example.in"), product)
    _, invoices, _ = _flows(books_clients)
    first = _results(run_flow(engine, invoices, retry_base=0))["KN-9"]
    assert first.status == "failed" and "field 'hsn_code'" in first.error_message
    assert queue.due_records(engine, "books_invoice") == []

    with engine.begin() as conn:  # the admin fixes the product, not the order
        conn.execute(sa.text("UPDATE products SET hsn_code = '3808' WHERE id = :id"),
                     {"id": product})
    _, invoices, _ = _flows(books_clients)
    again = _results(run_flow(engine, invoices, retry_base=0))["KN-9"]
    assert (again.status, again.attempt) == ("synced", 1)
    [invoice] = books_sandbox.records("books_invoices")
    assert invoice["invoice_number"] == "KN-9"


def test_renamed_order_number_is_invoiced_under_the_new_number(
        engine: sa.Engine, books_sandbox, books_clients) -> None:
    order = rows.order(engine, "#KN1034", _user(engine, "a@example.in"),
                       rows.product(engine, "KNB-1"))
    _, invoices, _ = _flows(books_clients)
    assert _results(run_flow(engine, invoices, retry_base=0))["#KN1034"].status == "failed"
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE orders SET order_number = 'KN1034' WHERE id = :id"),
                     {"id": order})
    _, invoices, _ = _flows(books_clients)
    results = _results(run_flow(engine, invoices, retry_base=0))
    assert results["#KN1034"].operation == "superseded"
    assert "invoice:create" in results["KN1034"].operation.split("+")
    assert [i["invoice_number"] for i in books_sandbox.records("books_invoices")] == ["KN1034"]


# --- 6. inactive products --------------------------------------------------------------------

@pytest.mark.parametrize("sku", ["KNB-OLD-1", "KNB-SEASONAL", "KNB-DISCONTINUED"])
def test_inactive_product_gets_no_books_item_until_it_is_sold_or_activated(
        engine: sa.Engine, books_sandbox, books_clients, sku: str) -> None:
    product = rows.product(engine, sku)
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE products SET is_active = false WHERE id = :id"),
                     {"id": product})
    items, invoices, _ = _flows(books_clients)
    [result] = run_flow(engine, items, retry_base=0).results
    assert (result.status, result.operation) == ("synced", "inactive:not-created")
    assert books_sandbox.records("books_items") == []

    if sku == "KNB-SEASONAL":  # back in season: activated, so it becomes an item
        with engine.begin() as conn:
            conn.execute(sa.text("UPDATE products SET is_active = true WHERE id = :id"),
                         {"id": product})
        [again] = run_flow(engine, items, retry_base=0).results
        assert again.operation == "create"
    else:  # sold while inactive (an order placed before): the invoice creates the item
        rows.order(engine, f"KN-{sku[-1]}", _user(engine, "buyer@example.in"), product)
        [invoice] = run_flow(engine, invoices, retry_base=0).results
        assert invoice.status == "synced" and "item:create" in invoice.operation
    [item] = books_sandbox.records("books_items")
    assert item["sku"] == sku
