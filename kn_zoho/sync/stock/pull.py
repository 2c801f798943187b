"""Books -> storefront: a full stock snapshot, applied as snapshot + P per product.

Under the organization's stock lock (so no mark-sent or adjustment of ours lands between the
snapshot and the apply) the pull first settles invoices whose mark-sent (or create with
``send=true``) had an unknown outcome (one read each, by id or number), lists every item
(``filter_by=Status.All``, 200 a page: ceil(n/200) calls), then in one transaction locks the
linked products' rows (in id order, as checkout does), recomputes P after the locks, and sets
each stock to Books + P with ``kn_zoho.change_source = 'zoho'`` so the change is recorded and
never pushed back. An edit committed before the row lock is in P; one made after waits for
the lock and then applies on top: neither is lost. Products touched by a Books write of
unknown outcome are left alone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from kn_zoho.sync.stock.ledger import Pending, pending, unknown_outcome
from kn_zoho.sync.stock.location import add_location_stock, location_units
from kn_zoho.sync.stock.lock import books_stock_lock
from kn_zoho.zoho.books import ALL_ITEMS, BooksClient
from kn_zoho.zoho.budget import Priority, at_priority
from kn_zoho.zoho.errors import ZohoError


@dataclass(frozen=True)
class Level:
    """One product after a pull (``out_of_step``: snapshots running it was not Books + P)."""

    sku: str
    books: int | None
    storefront: int
    pending: int
    out_of_step: int
    reason: str | None
    before: int                    # storefront stock before this pull
    books_before: int | None       # Books stock at the previous snapshot
    item_id: str | None = None


@dataclass
class PullReport:
    """What one pull saw and changed."""

    items: int = 0                 # items in the Books snapshot
    levels: list[Level] = field(default_factory=list)
    pulled_skus: list[str] = field(default_factory=list)   # storefront stock changed
    invoices_resolved: int = 0

    @property
    def drift(self) -> list[str]:
        """SKUs not in step after this pull (storefront != Books + P)."""
        return [level.sku for level in self.levels if level.out_of_step]

    @property
    def books_changed(self) -> list[Level]:
        """SKUs whose Books stock moved since the previous snapshot, largest move first."""
        moved = [level for level in self.levels if level.books_before is not None
                 and level.books is not None and level.books != level.books_before]
        return sorted(moved, key=lambda level: -abs(level.books - level.books_before))

    @property
    def total_units(self) -> int:
        return sum(level.books or 0 for level in self.levels)


def _resolve_invoices(engine: sa.Engine, books: BooksClient) -> int:
    """Invoices left 'sending' (a lost mark-sent or send=true create reply, a killed run):
    read each once, by id, or by its number (the order's) when the create never answered."""
    with engine.connect() as conn:
        unsettled = conn.execute(sa.text(
            "SELECT order_id, order_number, invoice_id FROM integration.stock_invoices "
            "WHERE state = 'sending'")).all()
    resolved = 0
    for order_id, order_number, invoice_id in unsettled:
        try:
            invoice = (books.get_invoice(invoice_id) if invoice_id
                       else books.find_invoice_by_invoice_number(order_number))
        except ZohoError:
            continue  # still unknown: its products wait another cycle
        if not invoice_id and invoice and invoice.get("reference_number") != order_number:
            invoice = None  # the number is another record's (our create was refused)
        with engine.begin() as conn:
            if invoice is None or invoice.get("status") == "draft":
                # no stock moved: the sale stays pending until its invoice is sent
                conn.execute(sa.text("DELETE FROM integration.stock_invoices "
                                     "WHERE order_id = :id"), {"id": order_id})
            else:
                conn.execute(sa.text(
                    "UPDATE integration.stock_invoices SET state = 'sent', "
                    "invoice_id = :invoice_id, updated_at = now() WHERE order_id = :id"),
                    {"id": order_id, "invoice_id": str(invoice["invoice_id"])})
        resolved += 1
    return resolved


def _units(item: dict[str, Any], location_id: str | None = None) -> int | None:
    """An inventory item's stock on hand in whole units, organization-wide or at
    ``location_id`` (None: it tracks no stock, or none at that location)."""
    if item.get("item_type") != "inventory":
        return None
    if location_id is not None:
        value = location_units(item, location_id)
    elif item.get("stock_on_hand") is None:
        return None
    else:
        value = Decimal(str(item["stock_on_hand"]))
    if value is None or value != value.to_integral_value():
        return None
    return int(value)


def snapshot(books: BooksClient, location_id: str | None = None) -> dict[str, dict[str, Any]]:
    """Every Books item by id (active or not): ceil(items/200) calls; with a location, its
    inventory items' ``locations[]`` too: ceil(inventory items/25) more (location.py)."""
    items = {str(item["item_id"]): item for item in books.list_items(**ALL_ITEMS)}
    if location_id is not None:
        add_location_stock(books, items, location_id)
    return items


def _apply(conn: sa.Connection, items: dict[str, dict[str, Any]],
           location_id: str | None = None) -> list[Level]:
    by_sku = {str(item.get("sku") or "").strip().casefold(): item for item in items.values()}
    products = conn.execute(sa.text(
        "SELECT id, sku, stock_quantity, zoho_books_id FROM public.products "
        "ORDER BY id FOR UPDATE")).all()
    owed = pending(conn)          # after the row locks: every committed change is in it
    unknown = unknown_outcome(conn)
    previous = {row.sku: row for row in conn.execute(sa.text(
        "SELECT sku, books_stock, out_of_step FROM integration.stock_levels"))}
    conn.execute(sa.text("SELECT set_config('kn_zoho.change_source', 'zoho', true)"))
    levels = []
    for product in products:
        item = (items.get(str(product.zoho_books_id)) if product.zoho_books_id
                else by_sku.get(product.sku.strip().casefold()))
        books_units = _units(item, location_id) if item else None
        p = owed.get(product.id, Pending())
        stock, reason = product.stock_quantity, None
        if item is None:
            if not product.zoho_books_id:
                continue  # no Books item yet: the items flow's business
            reason = "item missing in Books"
        elif books_units is None:
            reason = ("Books item tracks no whole-unit stock"
                      + (f" at location {location_id}" if location_id else ""))
        elif product.id in unknown:
            reason = "a Books write of unknown outcome"
        elif stock != books_units + p.total:
            try:
                with conn.begin_nested():
                    stock = conn.execute(sa.text(
                        "UPDATE public.products SET stock_quantity = :stock, updated_at = now() "
                        "WHERE id = :id RETURNING stock_quantity"),
                        {"stock": books_units + p.total, "id": product.id}).scalar_one()
            except sa.exc.DBAPIError as error:
                reason = f"refused: {str(error.orig).splitlines()[0]}"
        in_step = books_units is not None and stock == books_units + p.total
        last = previous.get(product.sku)
        levels.append(Level(product.sku, books_units, stock, p.total,
                            0 if in_step else (last.out_of_step if last else 0) + 1, reason,
                            product.stock_quantity, last.books_stock if last else None,
                            str(item["item_id"]) if item else None))
    conn.execute(sa.text("SELECT set_config('kn_zoho.change_source', '', true)"))
    if levels:
        conn.execute(sa.text("""
            INSERT INTO integration.stock_levels AS l (sku, item_id, books_stock,
                   storefront_stock, pending, out_of_step, reason, snapshot_at)
            VALUES (:sku, :item_id, :books, :storefront, :pending, :out_of_step, :reason, now())
            ON CONFLICT (sku) DO UPDATE SET item_id = EXCLUDED.item_id,
                   books_stock = EXCLUDED.books_stock, storefront_stock = EXCLUDED.storefront_stock,
                   pending = EXCLUDED.pending, out_of_step = EXCLUDED.out_of_step,
                   reason = EXCLUDED.reason, snapshot_at = now()"""),
            [{"sku": level.sku, "item_id": level.item_id, "books": level.books,
              "storefront": level.storefront, "pending": level.pending,
              "out_of_step": level.out_of_step, "reason": level.reason} for level in levels])
    return levels


@at_priority(Priority.STOCK)  # stock may use the reserve the other flows leave
def pull(engine: sa.Engine, books: BooksClient, location_id: str | None = None) -> PullReport:
    """One pull under the organization's stock lock: snapshot, then storefront = Books + P
    (Books: the organization's stock, or ``location_id``'s; see location.py)."""
    report = PullReport()
    with books_stock_lock(engine, books.organization_id):
        report.invoices_resolved = _resolve_invoices(engine, books)
        items = snapshot(books, location_id)
        report.items = len(items)
        with engine.begin() as conn:
            report.levels = _apply(conn, items, location_id)
    report.pulled_skus = [level.sku for level in report.levels
                          if level.storefront != level.before]
    return report
