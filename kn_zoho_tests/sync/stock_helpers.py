"""What the stock tests share: both sides' stock per SKU and the storefront's own actions."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from kn_zoho.storefront.checkout import checkout as storefront_checkout
from kn_zoho.sync.runner import run_flow
from kn_zoho.sync.service import books_flows
from kn_zoho.sync.stock.cycle import run_stock_cycle
from kn_zoho.sync.stock.lock import lock_key
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
    with engine.connect() as conn:
        user_id = conn.execute(sa.text("SELECT id FROM public.users ORDER BY id LIMIT 1")
                               ).scalar_one()
    return storefront_checkout(engine, user_id, {sku: quantity}, pay=pay)


def stock_invoice_rows(engine: sa.Engine) -> dict[str, tuple[str | None, str]]:
    """The invoice flow's stock rows: (invoice id, state) by order number."""
    with engine.connect() as conn:
        return {row.order_number: (row.invoice_id, row.state) for row in conn.execute(sa.text(
            "SELECT order_number, invoice_id, state FROM integration.stock_invoices"))}


def stock_lock_free(engine: sa.Engine, organization_id: str) -> bool:
    """Whether another session could take the organization's stock lock now (given back)."""
    with engine.connect() as conn:
        free = conn.execute(sa.text("SELECT pg_try_advisory_lock(hashtextextended(:k, 0))"),
                            {"k": lock_key(organization_id)}).scalar_one()
        if free:
            conn.execute(sa.text("SELECT pg_advisory_unlock(hashtextextended(:k, 0))"),
                         {"k": lock_key(organization_id)})
    return bool(free)
