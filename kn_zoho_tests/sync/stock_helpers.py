"""What the stock tests share: both sides' stock per SKU and the storefront's own actions."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from kn_zoho.sync.runner import run_flow
from kn_zoho.sync.service import books_flows
from kn_zoho.sync.stock.cycle import run_stock_cycle
from kn_zoho.zoho.factory import ZohoClients


def books_stock(sandbox: Any) -> dict[str, int]:
    return {item["sku"]: int(Decimal(str(item["stock_on_hand"])))
            for item in sandbox.records("books_items") if item.get("item_type") == "inventory"}


def store_stock(engine: sa.Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return dict(conn.execute(sa.text(
            "SELECT sku, stock_quantity FROM public.products")).all())


def adjustments(sandbox: Any) -> list[dict[str, Any]]:
    return sandbox.records("books_adjustments")


def sync_books(engine: sa.Engine, clients: ZohoClients) -> None:
    for flow in books_flows(clients):
        run_flow(engine, flow, retry_base=0)


def cycle(engine: sa.Engine, clients: ZohoClients) -> dict[str, Any]:
    return run_stock_cycle(engine, clients.books).summary()


def admin_edit(engine: sa.Engine, sku: str, delta: int) -> None:
    """An admin changes a product's stock in the dashboard (a plain UPDATE)."""
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE public.products SET stock_quantity = stock_quantity + :d "
                             "WHERE sku = :sku"), {"d": delta, "sku": sku})


def checkout(engine: sa.Engine, sku: str, quantity: int, *, pay: bool = True) -> uuid.UUID:
    """A storefront order for one SKU, placed and (by default) paid through checkout."""
    order_id = uuid.uuid4()
    with engine.begin() as conn:
        user_id = conn.execute(sa.text("SELECT id FROM public.users ORDER BY id LIMIT 1")
                               ).scalar_one()
        product = conn.execute(sa.text("SELECT id, price, gst_rate FROM public.products "
                                       "WHERE sku = :sku"), {"sku": sku}).one()
        total = product.price * quantity
        number = "KN-T-" + order_id.hex[:8].upper()
        conn.execute(sa.text("""
            INSERT INTO public.orders (id, order_number, user_id, shipping_state, subtotal,
                                       grand_total)
            VALUES (:id, :number, :user_id, 'KA', :total, :total)"""),
            {"id": order_id, "number": number, "user_id": user_id, "total": total})
        conn.execute(sa.text("""
            INSERT INTO public.order_items (order_id, product_id, quantity, unit_price,
                                            gst_rate, line_total)
            VALUES (:order_id, :product_id, :quantity, :price, :rate, :total)"""),
            {"order_id": order_id, "product_id": product.id, "quantity": quantity,
             "price": product.price, "rate": product.gst_rate, "total": total})
        conn.execute(sa.text("SELECT public.place_order(:id)"), {"id": order_id})
        if pay:
            conn.execute(sa.text("SELECT public.pay_order(:id, :gw)"),
                         {"id": order_id, "gw": "pay_" + order_id.hex[:14]})
    return order_id
