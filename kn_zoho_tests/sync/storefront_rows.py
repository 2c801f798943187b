"""Small storefront records for the Books sync tests (bad data, edits after the first sync)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from kn_zoho_tests.sync.books_fixtures import BooksSandbox

# Valid GSTINs (mod-36 Luhn check character) of Karnataka (29) and Maharashtra (27).
GSTIN_KA = "29AAACR5055K1Z3"
GSTIN_MH = "27AAACR5055K1Z7"


def one(engine: sa.Engine, sql: str, **params: object) -> Any:
    with engine.begin() as conn:
        return conn.execute(sa.text(sql), params).scalar()


def execute(engine: sa.Engine, sql: str, **params: object) -> None:
    with engine.begin() as conn:
        conn.execute(sa.text(sql), params)


def user(engine: sa.Engine, email: str, name: str = "Asha Rao", gstin: str | None = None,
         phone: str | None = "+91 98450 12345") -> str:
    return str(one(engine, "INSERT INTO users (email, full_name, billing_state, shipping_state, "
                           "customer_type, gstin, phone, company) VALUES (:e, :n, 'KA', 'KA', "
                           ":t, :g, :p, 'Rao Farms') RETURNING id",
                   e=email, n=name, g=gstin, p=phone, t="b2b" if gstin else "b2c"))


def product(engine: sa.Engine, sku: str, name: str = "Neem oil", hsn: str = "3808") -> str:
    return str(one(engine, "INSERT INTO products (sku, name, hsn_code, gst_rate, price) "
                           "VALUES (:s, :n, :h, 18, 118) RETURNING id", s=sku, n=name, h=hsn))


def order(engine: sa.Engine, number: str, user_id: str, product_id: str, *,
          paid: bool = True) -> str:
    """An order of one unit at 118.00 (GST 18% included), shipped within Karnataka."""
    with engine.begin() as conn:
        order_id = conn.execute(sa.text(
            "INSERT INTO orders (order_number, user_id, shipping_state, subtotal, grand_total, "
            "tax_total, payment_status, paid_at, payment_gateway_id) VALUES (:n, :u, 'KA', 118, "
            "118, 18, 'pending', now(), :pay) RETURNING id"),
            {"n": number, "u": user_id, "pay": f"pay_{number.replace('/', '')}"}).scalar()
        conn.execute(sa.text(
            "INSERT INTO order_items (order_id, product_id, quantity, unit_price, gst_rate, "
            "line_total) VALUES (:o, :p, 1, 118, 18, 118)"), {"o": order_id, "p": product_id})
    if paid:
        pay(engine, str(order_id))
    return str(order_id)


def pay(engine: sa.Engine, order_id: str) -> None:
    execute(engine, "UPDATE orders SET payment_status = 'paid' WHERE id = :o", o=order_id)


def quote(engine: sa.Engine, number: str, user_id: str, product_id: str) -> str:
    """An approved quote (yesterday) for one unit at 118.00, valid 30 days."""
    with engine.begin() as conn:
        quote_id = conn.execute(sa.text(
            "INSERT INTO b2b_quotes (quote_number, user_id, shipping_state, subtotal, "
            "grand_total, tax_total, valid_until) VALUES (:n, :u, 'KA', 118, 118, 18, "
            "current_date + 30) RETURNING id"), {"n": number, "u": user_id}).scalar()
        conn.execute(sa.text(
            "INSERT INTO b2b_quote_items (quote_id, product_id, quantity, unit_price, gst_rate, "
            "line_total) VALUES (:q, :p, 1, 118, 18, 118)"), {"q": quote_id, "p": product_id})
        conn.execute(sa.text("UPDATE b2b_quotes SET status = 'approved', "
                             "approved_at = now() - interval '1 day' WHERE id = :q"),
                     {"q": quote_id})
    return str(quote_id)


def queue_row(engine: sa.Engine, entity: str, key: str) -> dict[str, Any]:
    with engine.connect() as conn:
        return dict(conn.execute(sa.text(
            "SELECT * FROM integration.zoho_sync_queue WHERE entity = :e AND record_key = :k"),
            {"e": entity, "k": key}).mappings().one())


def by_id(sandbox: BooksSandbox, kind: str, id_field: str) -> dict[str, dict[str, Any]]:
    return {record[id_field]: record for record in sandbox.records(kind)}

