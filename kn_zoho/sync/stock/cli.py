"""`kn-zoho stock diff`: both sides of every SKU and the pending part, for an admin."""

from __future__ import annotations

import json

import click
import sqlalchemy as sa

from kn_zoho.cli import database_url_option
from kn_zoho.sync.stock.ledger import Pending, pending
from kn_zoho.sync.stock.pull import _units, snapshot


@click.group("stock")
def stock_group() -> None:
    """Stock on both sides (storefront and Zoho Books)."""


@stock_group.command("diff")
@database_url_option
def stock_diff(database_url: str | None) -> None:
    """Print storefront, Books and pending stock per SKU (reads only; ceil(items/200) calls).

    ``gap`` = storefront - (Books + pending): 0 when in step; anything else is what the next
    pull changes (a Books-side sale or adjustment), or drift if it stays.
    """
    from kn_zoho.sync.cli import _clients

    with _clients(database_url) as (engine, clients):
        items = snapshot(clients.books)
        by_sku = {str(item.get("sku") or "").strip().casefold(): item for item in items.values()}
        with engine.connect() as conn:
            products = conn.execute(sa.text(
                "SELECT id, sku, stock_quantity, zoho_books_id FROM public.products "
                "ORDER BY sku")).all()
            owed = pending(conn)
        click.echo(f"{'sku':<20} {'storefront':>10} {'books':>8} {'unpushed':>8} "
                   f"{'unsent':>8} {'gap':>6}")
        out_of_step = 0
        for product in products:
            item = (items.get(str(product.zoho_books_id)) if product.zoho_books_id
                    else by_sku.get(product.sku.strip().casefold()))
            books = _units(item) if item else None
            p = owed.get(product.id, Pending())
            gap = None if books is None else product.stock_quantity - books - p.total
            out_of_step += bool(gap)
            click.echo(f"{product.sku:<20} {product.stock_quantity:>10} "
                       f"{'-' if books is None else books:>8} {p.unpushed:>8} "
                       f"{p.unsent_sales:>8} {'-' if gap is None else gap:>6}")
        click.echo(json.dumps({"skus": len(products), "out_of_step": out_of_step,
                               "books_items": len(items)}))
