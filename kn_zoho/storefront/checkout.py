"""Storefront checkout as the baseline models it (dev, tests, demo and benchmarks).

The order and its lines are inserted, then ``public.place_order`` (lowers stock when the
storefront is set to lower it at placement) and ``public.pay_order`` (lowers it at payment
otherwise) run in the same transaction: see the stock contract in ``baseline.sql``.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping

import sqlalchemy as sa


def checkout(engine: sa.Engine, user_id: uuid.UUID, lines: Mapping[str, int], *,
             pay: bool = True, shipping_state: str = "KA") -> uuid.UUID:
    """One order for ``lines`` (SKU -> quantity), placed and, by default, paid.

    Raises the storefront's error (naming the SKU) when stock is short; nothing is stored then.
    """
    order_id = uuid.uuid4()
    with engine.begin() as conn:
        products = {row.sku: row for row in conn.execute(sa.text(
            "SELECT id, sku, price, gst_rate FROM public.products WHERE sku = ANY(:skus)"),
            {"skus": list(lines)})}
        missing = sorted(set(lines) - set(products))
        if missing:
            raise ValueError(f"order {order_id}: field sku: no product {', '.join(missing)}")
        total = sum(products[sku].price * quantity for sku, quantity in lines.items())
        conn.execute(sa.text("""
            INSERT INTO public.orders (id, order_number, user_id, shipping_state, subtotal,
                                       grand_total)
            VALUES (:id, :number, :user_id, :state, :total, :total)"""),
            {"id": order_id, "number": "KN-W-" + order_id.hex[:10].upper(),
             "user_id": user_id, "state": shipping_state, "total": total})
        conn.execute(sa.text("""
            INSERT INTO public.order_items (order_id, product_id, quantity, unit_price,
                                            gst_rate, line_total)
            VALUES (:order_id, :product_id, :quantity, :price, :rate, :total)"""),
            [{"order_id": order_id, "product_id": products[sku].id, "quantity": quantity,
              "price": products[sku].price, "rate": products[sku].gst_rate,
              "total": products[sku].price * quantity} for sku, quantity in lines.items()])
        conn.execute(sa.text("SELECT public.place_order(:id)"), {"id": order_id})
        if pay:
            conn.execute(sa.text("SELECT public.pay_order(:id, :gateway)"),
                         {"id": order_id, "gateway": "pay_" + order_id.hex[:14]})
    return order_id
