"""Invoices in the Books sandbox: shipping taxed at the principal supply's rate (intra and
inter state), totals equal to the storefront's grand total, rounding carried as an adjustment."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa

from kn_zoho.sync.books import InvoicesFlow
from kn_zoho.sync.runner import run_flow
from kn_zoho_tests.sync.books_fixtures import *  # noqa: F403 - pytest fixtures
from kn_zoho_tests.sync.books_fixtures import ORGANIZATION_STATE

Line = tuple[str, str, int, str, str]  # sku, unit price, quantity, discount, GST rate


def _money(value: Any) -> Decimal:
    return Decimal(str(value)).quantize(Decimal("0.01"))


def _paid_order(engine: sa.Engine, number: str, ship_to: str, lines: list[Line],
                shipping: str, grand_total: str | None = None) -> None:
    """A paid order; grand total = lines + shipping unless given."""
    with engine.begin() as conn:
        user = conn.execute(sa.text(
            "INSERT INTO users (email, full_name, billing_state, shipping_state) VALUES "
            "(:e, 'Asha Rao', :s, :s) RETURNING id"), {"e": f"{number}@example.in",
                                                        "s": ship_to}).scalar()
        totals = [Decimal(price) * qty - Decimal(discount)
                  for _, price, qty, discount, _ in lines]
        total = grand_total or str(sum(totals) + Decimal(shipping))
        order = conn.execute(sa.text(
            "INSERT INTO orders (order_number, user_id, shipping_state, subtotal, "
            "shipping_charge, grand_total, payment_status, paid_at, payment_gateway_id) VALUES "
            "(:n, :u, :s, :sub, :ship, :total, 'paid', now(), :pay) RETURNING id"),
            {"n": number, "u": user, "s": ship_to, "sub": sum(totals), "ship": shipping,
             "total": total, "pay": f"pay_{number}"}).scalar()
        for (sku, price, qty, discount, rate), line_total in zip(lines, totals, strict=True):
            product = conn.execute(sa.text(
                "INSERT INTO products (sku, name, hsn_code, gst_rate, price) VALUES "
                "(:sku, :sku, '3808', :rate, :price) ON CONFLICT (sku) DO UPDATE SET "
                "sku = EXCLUDED.sku RETURNING id"),
                {"sku": sku, "rate": rate, "price": price}).scalar()
            conn.execute(sa.text(
                "INSERT INTO order_items (order_id, product_id, quantity, unit_price, discount, "
                "gst_rate, line_total) VALUES (:o, :p, :q, :price, :d, :rate, :t)"),
                {"o": order, "p": product, "q": qty, "price": price, "d": discount,
                 "rate": rate, "t": line_total})


def _sync(engine: sa.Engine, books_clients: Any) -> dict[str, Any]:
    report = run_flow(engine, InvoicesFlow(books_clients.books), retry_base=0)
    return {r.record_key: r for r in report.results}


MIXED = [("KN-FERT", "1180.00", 2, "100.00", "18"), ("KN-NEEM", "525.00", 1, "0", "5")]
CHEAP_18 = [("KN-TAG", "99.00", 1, "0", "18"), ("KN-SEED", "1050.00", 1, "0", "5")]


@pytest.mark.parametrize(("ship_to", "lines", "shipping", "taxes"), [
    # within the organization's state: CGST + SGST halves of 50 x 18/118 = 7.63
    (ORGANIZATION_STATE, MIXED, "50.00", {"CGST9": "3.82", "SGST9": "3.81"}),
    # inter state: all IGST
    ("TN", MIXED, "99.00", {"IGST18": "15.10"}),
    # the 5% seed is the principal supply, not the cheap 18% tag: 99 x 5/105 = 4.71
    ("MH", CHEAP_18, "99.00", {"IGST5": "4.71"}),
])
def test_shipping_is_taxed_at_the_principal_rate_and_the_total_stays_the_grand_total(
        engine: sa.Engine, books_sandbox, books_clients, ship_to: str, lines: list[Line],
        shipping: str, taxes: dict[str, str]) -> None:
    _paid_order(engine, "KN-S1", ship_to, lines, shipping)
    assert _sync(engine, books_clients)["KN-S1"].status == "synced"
    [invoice] = books_sandbox.records("books_invoices")
    line_tax = sum((_money(part["tax_amount"]) for line in invoice["line_items"]
                    for part in line["line_item_taxes"]), Decimal(0))
    shipping_tax = sum((Decimal(v) for v in taxes.values()), Decimal(0))
    assert _money(invoice["shipping_charge_tax"]) == shipping_tax
    assert _money(invoice["tax_total"]) == line_tax + shipping_tax
    by_name = {tax["tax_name"]: _money(tax["tax_amount"]) for tax in invoice["taxes"]}
    for name, amount in taxes.items():  # the shipping's part is in the document's GST split
        line_part = sum((_money(p["tax_amount"]) for line in invoice["line_items"]
                         for p in line["line_item_taxes"] if p["tax_name"] == name), Decimal(0))
        assert by_name[name] - line_part == Decimal(amount)
    expected = sum((Decimal(p) * q - Decimal(d) for _, p, q, d, _ in lines), Decimal(0))
    assert _money(invoice["total"]) == expected + Decimal(shipping)
    assert _money(invoice["balance"]) == 0  # paid in full by the storefront payment


@pytest.mark.parametrize("difference", ["0.01", "-0.01", "0.50"])
def test_a_paisa_difference_is_an_adjustment_on_the_invoice_and_it_is_paid_in_full(
        engine: sa.Engine, books_sandbox, books_clients, difference: str) -> None:
    grand_total = str(Decimal("2835.00") + Decimal(difference))
    _paid_order(engine, "KN-R1", "TN", MIXED, "50.00", grand_total)
    result = _sync(engine, books_clients)["KN-R1"]
    assert result.status == "synced"
    [invoice] = books_sandbox.records("books_invoices")
    assert _money(invoice["adjustment"]) == Decimal(difference)
    assert invoice["adjustment_description"] == "Rounding to the storefront order total"
    assert _money(invoice["total"]) == Decimal(grand_total)
    assert _money(invoice["balance"]) == 0


@pytest.mark.parametrize("grand_total", ["2835.51", "2834.00", "2935.00"])
def test_a_larger_difference_still_fails_with_both_figures_and_sends_nothing(
        engine: sa.Engine, books_sandbox, books_clients, grand_total: str) -> None:
    _paid_order(engine, "KN-R2", "TN", MIXED, "50.00", grand_total)
    result = _sync(engine, books_clients)["KN-R2"]
    assert result.status == "failed"
    assert grand_total in result.error_message and "2835.00" in result.error_message
    assert books_sandbox.records("books_invoices") == []
