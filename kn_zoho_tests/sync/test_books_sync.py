"""Books sync against the sandbox over real HTTP, on real PostgreSQL: items, GST invoices with
payments, estimates, and bad records that fail alone."""

from __future__ import annotations

from decimal import Decimal

import sqlalchemy as sa

from kn_zoho.storefront.seed import seed
from kn_zoho.sync.books import BooksCatalog, EstimatesFlow, InvoicesFlow, ItemsFlow
from kn_zoho.sync.runner import run_flow
from kn_zoho.sync.service import books_flows, run_flows, summary
from kn_zoho_tests.sync.books_fixtures import *  # noqa: F403 - pytest fixtures
from kn_zoho_tests.sync.books_fixtures import ORGANIZATION_STATE


def _rows(engine: sa.Engine, sql: str, **params: object) -> list[sa.RowMapping]:
    with engine.connect() as conn:
        return list(conn.execute(sa.text(sql), params).mappings())


def _money(value: object) -> Decimal:
    return Decimal(str(value)).quantize(Decimal("0.01"))


def test_items_link_existing_sku_and_send_only_real_changes(
        engine: sa.Engine, books_sandbox, books_clients) -> None:
    seed(engine, users=1, products=6, orders=0, inquiries=0, quote_requests=0)
    first = _rows(engine, "SELECT * FROM products ORDER BY sku LIMIT 1")[0]
    existing = books_clients.books.create_item(
        {"name": "Typed in by hand", "sku": first["sku"], "rate": 1})

    report = run_flow(engine, ItemsFlow(books_clients.books), retry_base=0)
    operations = {r.record_key: r.operation for r in report.results}
    assert operations.pop(first["sku"]) == "link+update"
    assert set(operations.values()) == {"create"}
    items = {item["sku"]: item for item in books_sandbox.records("books_items")}
    assert len(items) == 6
    assert items[first["sku"]]["item_id"] == existing["item_id"]
    assert (items[first["sku"]]["name"], _money(items[first["sku"]]["rate"])) == (
        first["name"], first["price"])
    assert all(item["item_type"] == "inventory" and len(item["item_tax_preferences"]) == 2
               for item in items.values())
    assert _rows(engine, "SELECT count(*) AS n FROM products WHERE zoho_books_id IS NULL"
                 )[0]["n"] == 0
    assert report.api_calls == 1 + 1 + 5 + 1  # taxes, item listing, 5 creates, 1 update

    with engine.begin() as conn:  # a price change is sent; a deactivation marks the item
        conn.execute(sa.text("UPDATE products SET price = price + 1 WHERE sku = :sku"),
                     {"sku": first["sku"]})
        conn.execute(sa.text("UPDATE products SET is_active = false WHERE sku <> :sku"),
                     {"sku": first["sku"]})
    again = run_flow(engine, ItemsFlow(books_clients.books), retry_base=0)
    operations = {r.record_key: r.operation for r in again.results}
    assert operations.pop(first["sku"]) == "update"
    assert set(operations.values()) == {"deactivate"}
    # one PUT and 5 marks inactive: the tax table comes from the shared settings cache
    assert again.api_calls == 1 + 5
    [updated] = [i for i in books_sandbox.records("books_items") if i["sku"] == first["sku"]]
    assert _money(updated["rate"]) == first["price"] + 1


def test_invoices_carry_gst_of_the_place_of_supply_and_equal_grand_totals(
        engine: sa.Engine, books_sandbox, books_clients) -> None:
    seed(engine, users=40, products=40, orders=80, paid_fraction=1.0, approved_quotes=6,
         quote_requests=0, inquiries=0)
    with engine.begin() as conn:  # enough intra-state supplies: every fourth order ships home
        conn.execute(sa.text("UPDATE orders SET shipping_state = :home "
                             "WHERE right(order_number, 1) IN ('0', '4', '8')"),
                     {"home": ORGANIZATION_STATE})
    reports = run_flows(engine, books_flows(books_clients), retry_base=0)
    result = summary(engine, reports)
    customers = _rows(engine, "SELECT count(*) AS n FROM users WHERE zoho_books_id IS NOT NULL"
                      )[0]["n"]  # each linked contact is checked once for edits: no call
    assert (result["synced"], result["failed"], result["pending"]) == (
        40 + 80 + 6 + customers, 0, 0)
    assert result["by_entity"]["books_contact"]["synced"] == customers

    taxes = {tax["tax_id"]: tax for tax in books_clients.books.list_taxes()}
    orders = {o["order_number"]: o for o in _rows(engine, "SELECT * FROM orders")}
    invoices = books_sandbox.records("books_invoices")
    assert sorted(i["invoice_number"] for i in invoices) == sorted(orders)
    seen_rates, intra, discounted = set(), 0, 0
    for invoice in invoices:
        order = orders[invoice["invoice_number"]]
        assert order["zoho_books_id"] == invoice["invoice_id"]
        assert _money(invoice["total"]) == order["grand_total"], invoice["invoice_number"]
        assert _money(invoice["shipping_charge"]) == order["shipping_charge"]
        assert (invoice["status"], _money(invoice["balance"])) == ("paid", 0)
        assert invoice["place_of_supply"] == order["shipping_state"]
        home = order["shipping_state"] == ORGANIZATION_STATE
        intra += home
        for line in invoice["line_items"]:
            tax = taxes[line["tax_id"]]
            assert (tax["tax_type"], tax["tax_specification"]) == (
                ("tax_group", "intra") if home else ("tax", "inter"))
            assert line["hsn_or_sac"]
            seen_rates.add(tax["tax_percentage"])
            discounted += line["discount_amount"] > 0
        names = {t["tax_name"][:4] for t in invoice["taxes"] if t["tax_amount"]}
        assert names <= ({"CGST", "SGST"} if home else {"IGST"})
    assert seen_rates == {0, 5, 12, 18}
    assert 0 < intra < len(invoices) and discounted > 0
    assert any(o["shipping_charge"] > 0 for o in orders.values())

    payments = books_sandbox.records("books_payments")
    assert sorted(p["reference_number"] for p in payments) == sorted(
        o["payment_gateway_id"] for o in orders.values())
    by_reference = {o["payment_gateway_id"]: o for o in orders.values()}
    assert all(_money(p["amount"]) == by_reference[p["reference_number"]]["grand_total"]
               for p in payments)

    quotes = {q["quote_number"]: q for q in _rows(
        engine, "SELECT q.*, u.gstin FROM b2b_quotes q JOIN users u ON u.id = q.user_id "
                "WHERE status = 'approved'")}
    estimates = books_sandbox.records("books_estimates")
    assert sorted(e["estimate_number"] for e in estimates) == sorted(quotes)
    for estimate in estimates:
        quote = quotes[estimate["estimate_number"]]
        assert _money(estimate["total"]) == quote["grand_total"]
        assert estimate["gst_no"] == (quote["gstin"] or "")
        assert quote["zoho_books_id"] == estimate["estimate_id"]

    contacts = books_sandbox.records("books_contacts")
    users = _rows(engine, "SELECT * FROM users WHERE id IN (SELECT user_id FROM orders "
                          "UNION SELECT user_id FROM b2b_quotes)")
    assert sorted(c["email"] for c in contacts) == sorted(u["email"] for u in users)
    for user in users:
        [contact] = [c for c in contacts if c["contact_id"] == user["zoho_books_id"]]
        assert contact["gst_treatment"] == ("business_gst" if user["gstin"] else
                                            "business_none" if user["customer_type"] == "b2b"
                                            else "consumer")
        assert contact["gst_no"] == (user["gstin"] or "")
    calls = books_sandbox.calls()
    assert calls["POST /books/v3/contacts"] == len(users)
    assert calls["POST /books/v3/items"] == 40
    assert calls["POST /books/v3/invoices/{id}/status/sent"] == 80
    # each new customer: one search by email and one create (no listing, issue 12)
    assert result["api_calls"] <= 3 * 80 + 2 * len(users) + 40 + 6 + 5


def test_bad_orders_fail_alone_with_the_field_named(
        engine: sa.Engine, books_sandbox, books_clients) -> None:
    seed(engine, users=5, products=5, orders=6, paid_fraction=1.0, quote_requests=0,
         inquiries=0)
    run_flow(engine, ItemsFlow(books_clients.books), retry_base=0)
    numbers = [o["order_number"] for o in _rows(engine, "SELECT order_number FROM orders "
                                                        "ORDER BY order_number")]
    off_by_a_rupee, taken, mismatch = numbers[:3]
    with engine.begin() as conn:  # (a paisa is an adjustment: test_books_shipping_and_rounding)
        conn.execute(sa.text("UPDATE orders SET grand_total = grand_total + 1.00 "
                             "WHERE order_number = :n"), {"n": off_by_a_rupee})
    # Books already holds invoices with two of our numbers: one for something else, one of
    # ours whose total differs from the storefront's (e.g. edited in Books by hand)
    customer = books_clients.books.create_contact({"contact_name": "Walk-in"})
    item = books_sandbox.records("books_items")[0]
    for number, reference in ((taken, "counter sale"), (mismatch, mismatch)):
        books_clients.books.create_invoice(
            {"customer_id": customer["contact_id"], "invoice_number": number,
             "reference_number": reference, "place_of_supply": "MH",
             "line_items": [{"item_id": item["item_id"], "quantity": 1}]},
            ignore_auto_number_generation=True)

    report = run_flow(engine, InvoicesFlow(books_clients.books), retry_base=0)
    failed = {r.record_key: r for r in report.results if r.status == "failed"}
    assert set(failed) == {off_by_a_rupee, taken, mismatch}
    assert "'grand_total'" in failed[off_by_a_rupee].error_message
    assert failed[taken].error_code == "NUMBER_TAKEN"
    assert "'counter sale'" in failed[taken].error_message
    [order] = _rows(engine, "SELECT grand_total FROM orders WHERE order_number = :n",
                    n=mismatch)
    assert failed[mismatch].error_code == "TOTAL_MISMATCH"
    assert f"grand total is {order['grand_total']}" in failed[mismatch].error_message
    assert report.count("synced") == 3
    assert len(books_sandbox.records("books_invoices")) == 2 + 3
    assert len(books_sandbox.records("books_payments")) == 3


def test_estimate_is_adopted_on_retry_not_created_twice(
        engine: sa.Engine, books_sandbox, books_clients) -> None:
    seed(engine, users=30, products=5, orders=0, approved_quotes=3, quote_requests=0,
         inquiries=0)
    report = run_flow(engine, EstimatesFlow(books_clients.books), retry_base=0)
    assert report.count("synced") == 3
    with engine.begin() as conn:  # forget what we stored, as if the write-back was lost
        conn.execute(sa.text("UPDATE b2b_quotes SET zoho_books_id = NULL"))
        conn.execute(sa.text("UPDATE integration.zoho_sync_queue SET status = 'pending', "
                             "attempts = 0, zoho_id = NULL WHERE entity = 'books_estimate'"))
    again = run_flow(engine, EstimatesFlow(books_clients.books), retry_base=0)
    assert {r.operation for r in again.results} == {"estimate:adopt"}
    assert len(books_sandbox.records("books_estimates")) == 3


def test_large_organization_searches_each_new_customer_instead_of_listing_all(
        engine: sa.Engine, books_sandbox, books_clients) -> None:
    """Customers are never listed: each new one is searched by email before it is created
    (2 calls), and one Books already has is linked, never copied."""
    seed(engine, users=6, products=3, orders=8, paid_fraction=1.0, quote_requests=0,
         inquiries=0)
    run_flow(engine, ItemsFlow(books_clients.books), retry_base=0)
    users = _rows(engine, "SELECT * FROM users WHERE id IN (SELECT user_id FROM orders) "
                          "ORDER BY email")
    known = books_clients.books.create_contact(
        {"contact_name": "Entered in Books by hand",
         "contact_persons": [{"email": users[0]["email"], "is_primary_contact": True}]})
    catalog = BooksCatalog(books_clients.books, prefetch_pages=0)
    before = books_sandbox.calls()
    report = run_flow(engine, InvoicesFlow(books_clients.books, catalog), retry_base=0)
    assert report.count("synced") == 8
    calls = books_sandbox.calls() - before
    assert calls["GET /books/v3/contacts"] == len(users)
    assert calls["POST /books/v3/contacts"] == len(users) - 1
    [linked] = _rows(engine, "SELECT zoho_books_id FROM users WHERE id = :id", id=users[0]["id"])
    assert linked["zoho_books_id"] == known["contact_id"]
    assert len(books_sandbox.records("books_contacts")) == len(users)
