"""The GST check an accountant makes: for 1,000 random orders with random partial refunds (the
storefront's own refund functions on a real database), Books' invoice total minus its credit
notes' totals equals the storefront's net paid amount to the paisa, and so does the tax, per
rate and per component (CGST, SGST, IGST).

Books' side is computed by the sandbox's own arithmetic (``kn_zoho.sandbox.books.totals``,
written apart from the mapping) from the exact payloads the sync sends; the storefront's side
from its rows. The HTTP path of the same payloads is covered by test_books_credit_notes.py;
going through HTTP 1,000 times would cost minutes of CI for no extra arithmetic.
"""

from __future__ import annotations

import json
import random
from collections import Counter
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import pytest
import sqlalchemy as sa

from kn_zoho.mapping.books import invoice_from_order, tax_table_from_zoho
from kn_zoho.mapping.credit_notes import credit_note_from_refund
from kn_zoho.mapping.gst import TaxLine, principal_rate
from kn_zoho.sandbox.books.taxes import TAXES, TAXES_BY_ID
from kn_zoho.sandbox.books.totals import document_totals, price_line
from kn_zoho.storefront.seed import seed
from kn_zoho.storefront.seed.refunds import seed_refunds

ORDERS = 1000
SELLER = "KA"
TAXES_TABLE = tax_table_from_zoho([tax.as_json() for tax in TAXES])
PAISA = Decimal("0.01")


def _books(payload: dict[str, Any]) -> tuple[Decimal, Counter[str]]:
    """Total and tax by name, as Books computes them from a payload (the sandbox's code)."""
    priced = [price_line(Decimal(str(line["rate"])), Decimal(str(line["quantity"])),
                         line.get("discount"), TAXES_BY_ID[line["tax_id"]], True)
              for line in payload["line_items"]]
    shipping_tax = TAXES_BY_ID.get(payload.get("shipping_charge_tax_id") or "")
    totals = document_totals(priced, Decimal(str(payload.get("shipping_charge", 0))),
                             Decimal(str(payload.get("adjustment", 0))), True, shipping_tax)
    return totals.total, Counter({name: amount for name, amount in totals.taxes})


def _gst(amount: Decimal, rate: Decimal, intra: bool) -> Counter[str]:
    """The GST inside a tax-inclusive amount, split as the storefront's rate implies."""
    tax = (amount * rate / (100 + rate)).quantize(PAISA, rounding=ROUND_HALF_UP)
    percent = f"{rate.normalize():f}"
    if not intra:
        return Counter({f"IGST{percent}": tax})
    half = (tax / 2).quantize(PAISA, rounding=ROUND_HALF_UP)
    half_rate = f"{(rate / 2).normalize():f}"
    return Counter({f"CGST{half_rate}": half, f"SGST{half_rate}": tax - half})


def _rows(conn: sa.Connection, sql: str) -> list[dict[str, Any]]:
    return [dict(row) for row in conn.execute(sa.text(sql)).mappings()]


def _refund_again(engine: sa.Engine, rng: random.Random) -> None:
    """A second partial refund of some orders that still have units left."""
    with engine.connect() as conn:
        left = _rows(conn, """
            SELECT i.order_id, i.id, i.quantity - coalesce(sum(r.quantity), 0) AS units
              FROM public.order_items i JOIN public.orders o ON o.id = i.order_id
              LEFT JOIN public.order_refund_items r ON r.order_item_id = i.id
             WHERE o.payment_status = 'paid' AND o.refunded_total > 0
             GROUP BY i.order_id, i.id HAVING i.quantity - coalesce(sum(r.quantity), 0) > 0""")
    by_order: dict[Any, list[dict[str, Any]]] = {}
    for row in left:
        by_order.setdefault(row["order_id"], []).append(row)
    for index, (order_id, lines) in enumerate(sorted(by_order.items(), key=str)):
        if rng.random() < 0.5:
            continue
        entries = [{"order_item_id": str(line["id"]), "quantity": rng.randint(1, line["units"]),
                    "restock": rng.random() < 0.5} for line in lines if rng.random() < 0.7]
        if entries:
            with engine.begin() as conn:
                conn.execute(sa.text("SELECT public.refund_order_lines(:id, :g, "
                                     "CAST(:lines AS jsonb))"),
                             {"id": order_id, "g": f"rfnd_again_{index}",
                              "lines": json.dumps(entries)})


@pytest.mark.slow
def test_invoice_minus_credit_notes_is_the_net_paid_per_rate_to_the_paisa(
        engine: sa.Engine) -> None:
    seed(engine, users=60, products=25, orders=ORDERS, paid_fraction=1.0, quote_requests=0,
         inquiries=0, seed=7)
    summary = seed_refunds(engine, refunds=700, cancellations=150, seed=7)
    assert (summary.refunds, summary.cancellations) == (700, 150)
    _refund_again(engine, random.Random(7))
    with engine.connect() as conn:
        orders = {o["id"]: o for o in _rows(conn, "SELECT * FROM public.orders")}
        users = {u["id"]: u for u in _rows(conn, "SELECT * FROM public.users")}
        lines: dict[Any, list[dict[str, Any]]] = {}
        for line in _rows(conn, "SELECT i.*, p.sku, p.name AS product_name, p.hsn_code "
                                "FROM public.order_items i JOIN public.products p "
                                "ON p.id = i.product_id ORDER BY p.sku, i.id"):
            lines.setdefault(line["order_id"], []).append(line)
        refunds = _rows(conn, "SELECT * FROM public.order_refunds ORDER BY refund_number")
        refund_lines: dict[Any, list[dict[str, Any]]] = {}
        for line in _rows(conn, "SELECT r.*, i.unit_price, i.gst_rate, i.product_id, p.sku, "
                                "p.name AS product_name, p.hsn_code "
                                "FROM public.order_refund_items r JOIN public.order_items i "
                                "ON i.id = r.order_item_id JOIN public.products p "
                                "ON p.id = i.product_id ORDER BY p.sku, r.id"):
            refund_lines.setdefault(line["refund_id"], []).append(line)
    item_ids = {line["sku"]: "item" for group in lines.values() for line in group}
    books_total: Counter[Any] = Counter()
    books_tax: dict[Any, Counter[str]] = {}
    for order_id, order in orders.items():
        payload = invoice_from_order(order, lines[order_id], customer_id="c", item_ids=item_ids,
                                     taxes=TAXES_TABLE, seller_state=SELLER,
                                     user=users[order["user_id"]])
        books_total[order_id], books_tax[order_id] = _books(payload)
    for refund in refunds:
        order = orders[refund["order_id"]]
        payload = credit_note_from_refund(
            refund, refund_lines.get(refund["id"], []), order, lines[order["id"]],
            customer_id="c", item_ids=item_ids, taxes=TAXES_TABLE, seller_state=SELLER,
            user=users[order["user_id"]])
        total, tax = _books(payload)
        books_total[order["id"]] -= total
        books_tax[order["id"]].subtract(tax)

    partially = sum(1 for o in orders.values() if o["payment_status"] == "paid"
                    and o["refunded_total"] > 0)
    assert len(refunds) > 900 and partially > 300  # the check covers partial refunds
    for order_id, order in orders.items():
        assert books_total[order_id] == order["grand_total"] - order["refunded_total"], order
        intra = order["shipping_state"] == SELLER
        expected: Counter[str] = Counter()
        for line in lines[order_id]:
            expected.update(_gst(line["line_total"], line["gst_rate"], intra))
        rate = principal_rate([TaxLine(line["unit_price"], line["quantity"], line["gst_rate"],
                                       line["discount"]) for line in lines[order_id]])
        expected.update(_gst(order["shipping_charge"], rate, intra))
        for refund in (r for r in refunds if r["order_id"] == order_id):
            for line in refund_lines.get(refund["id"], []):
                expected.subtract(_gst(line["amount"], line["gst_rate"], intra))
            expected.subtract(_gst(refund["shipping_amount"], rate, intra))
        assert {k: v for k, v in books_tax[order_id].items() if v} == \
            {k: v for k, v in expected.items() if v}, order["order_number"]
