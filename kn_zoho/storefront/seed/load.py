"""Insertion: ``seed`` writes ``generate``'s rows in one transaction, idempotently (natural
keys, ON CONFLICT DO NOTHING), paying orders through the storefront's checkout."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from kn_zoho.storefront.seed.generate import Row, SeedData, generate


@dataclass(frozen=True)
class SeedSummary:
    """How many rows this run inserted (0 everywhere when the data was already there)."""

    users: int
    products: int
    orders: int
    paid_orders: int
    order_items: int
    inquiries: int
    quote_requests: int
    approved_quotes: int
    quote_items: int


def _table(name: str, columns: Sequence[str]) -> sa.TableClause:
    return sa.table(name, *(sa.column(column) for column in columns), schema="public")


def _insert(conn: sa.Connection, name: str, rows: list[Row],
            returning: Sequence[str] = ("id",)) -> list[sa.Row[Any]]:
    """Insert in multi-row VALUES batches, skipping rows whose keys exist; return the new ones."""
    if not rows:
        return []
    table = _table(name, list(rows[0]))
    statement = (postgresql.insert(table).on_conflict_do_nothing()
                 .returning(*(table.c[column] for column in returning)))
    return list(conn.execute(statement, rows))


def _stored_ids(conn: sa.Connection, name: str, key: str, rows: list[Row]) -> dict[Any, Any]:
    """Generated id -> id of the stored row holding the same natural key.

    They differ only when another seed (or a real sign-up) got that email or SKU first; then
    the new orders and quotes attach to the row that is really there.
    """
    table = _table(name, ("id", key))
    keys = sa.bindparam("keys", [row[key] for row in rows], type_=postgresql.ARRAY(sa.Text))
    stored = dict(conn.execute(sa.select(table.c[key], table.c.id)
                               .where(table.c[key] == sa.any_(keys))).all())
    return {row["id"]: stored.get(row[key], row["id"]) for row in rows}


def _attach(rows: list[Row], column: str, ids: dict[Any, Any]) -> list[Row]:
    return [{**row, column: ids.get(row[column], row[column])} for row in rows]


def _sold(data: SeedData) -> dict[Any, int]:
    """Units each product sells in the seed's paid orders."""
    paid = {order["id"] for order in data.orders if order["payment_status"] == "paid"}
    sold: dict[Any, int] = {}
    for item in data.order_items:
        if item["order_id"] in paid:
            sold[item["product_id"]] = sold.get(item["product_id"], 0) + item["quantity"]
    return sold


def _restore_updated_at(conn: sa.Connection, name: str, rows: list[Row]) -> None:
    """Checkout stamps now(); the seed's rows keep their calendar's times."""
    if rows:
        table = _table(name, ("id", "updated_at"))
        conn.execute(table.update().where(table.c.id == sa.bindparam("row_id"))
                     .values(updated_at=sa.bindparam("stamp")),
                     [{"row_id": row["id"], "stamp": row["updated_at"]} for row in rows])


def seed(engine: sa.Engine, *, users: int = 50, products: int = 20, orders: int = 100,
         paid_fraction: float = 0.8, inquiries: int = 10, quote_requests: int = 5,
         approved_quotes: int = 0, seed: int = 42) -> SeedSummary:
    """Fill the storefront with ``generate``'s rows in one transaction; skip what exists.

    Orders go in with their final payment status and together with their items, so the
    invoice trigger never sees a paid order without lines.
    """
    data = generate(users=users, products=products, orders=orders, paid_fraction=paid_fraction,
                    inquiries=inquiries, quote_requests=quote_requests,
                    approved_quotes=approved_quotes, seed=seed)
    with engine.begin() as conn:
        new_users = _insert(conn, "users", data.users)
        # stock from before the seeded sales: checkout brings it down to the generated figure
        sold = _sold(data)
        new_products = _insert(conn, "products", [
            {**product, "stock_quantity": product["stock_quantity"] + sold.get(product["id"], 0)}
            for product in data.products])
        user_ids = _stored_ids(conn, "users", "email", data.users)
        product_ids = _stored_ids(conn, "products", "sku", data.products)

        # paid orders go in pending and are paid through checkout, which lowers their stock
        new_orders = _insert(conn, "orders", [
            {**order, "payment_status": "pending", "paid_at": None}
            if order["payment_status"] == "paid" else order
            for order in _attach(data.orders, "user_id", user_ids)],
            returning=("id", "payment_status"))
        inserted = {row.id for row in new_orders}
        new_order_items = _insert(conn, "order_items", _attach(
            [item for item in data.order_items if item["order_id"] in inserted],
            "product_id", product_ids))
        checkouts = [order for order in data.orders
                     if order["id"] in inserted and order["payment_status"] == "paid"]
        for order in checkouts:
            conn.execute(sa.text("SELECT public.pay_order(:id, :gateway, :paid_at)"),
                         {"id": order["id"], "gateway": order["payment_gateway_id"],
                          "paid_at": order["paid_at"]})
        paid_ids = {order["id"] for order in checkouts}
        _restore_updated_at(conn, "orders", checkouts)
        inserted_products = {row.id for row in new_products}
        _restore_updated_at(conn, "products",
                            [p for p in data.products if p["id"] in inserted_products])

        new_quotes = _insert(conn, "b2b_quotes", _attach(data.b2b_quotes, "user_id", user_ids),
                             returning=("id", "status"))
        inserted = {row.id for row in new_quotes}
        new_quote_items = _insert(conn, "b2b_quote_items", _attach(
            [item for item in data.b2b_quote_items if item["quote_id"] in inserted],
            "product_id", product_ids))

        new_inquiries = _insert(conn, "contact_submissions", data.contact_submissions)
    return SeedSummary(
        users=len(new_users), products=len(new_products), orders=len(new_orders),
        paid_orders=len(paid_ids),
        order_items=len(new_order_items), inquiries=len(new_inquiries),
        quote_requests=sum(row.status == "requested" for row in new_quotes),
        approved_quotes=sum(row.status == "approved" for row in new_quotes),
        quote_items=len(new_quote_items),
    )
