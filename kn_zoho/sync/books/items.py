"""Storefront products -> Books items."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import sqlalchemy as sa

from kn_zoho.mapping.books import TaxTable, item_from_product
from kn_zoho.mapping.crm import payload_hash
from kn_zoho.mapping.errors import MappingError
from kn_zoho.storefront.queue import Claim, Outcome
from kn_zoho.storefront.zoho_ids import store_zoho_ids
from kn_zoho.sync.books.catalog import BooksCatalog
from kn_zoho.sync.books.common import (
    Row,
    _missing,
    _Progress,
    _rows,
    _settle,
    _setup_failure,
    books_api_calls,
)
from kn_zoho.sync.twins import check_sku, key_owners
from kn_zoho.zoho.books import BooksClient
from kn_zoho.zoho.errors import ZohoNotFoundError


class ItemsFlow:
    """Storefront products -> Books items (inventory goods with HSN and GST preferences).

    A product on sale needs an active item: one found inactive (someone marked it so in
    Books) is marked active again (``POST /items/{id}/active``).

    An item with the product's SKU already in Books is linked, not duplicated, and brought in
    line with the storefront (PUT). A product change is sent again only when the mapped
    payload's hash changed, so stock-only edits cost nothing here.
    """

    entity = "books_item"
    records_per_attempt = 1  # calls per record: record each outcome as soon as it is known

    def __init__(self, books: BooksClient, catalog: BooksCatalog | None = None) -> None:
        self.books = books
        self.catalog = catalog or BooksCatalog(books)

    def api_calls(self) -> int:
        return books_api_calls(self.books)

    def attempt(self, engine: sa.Engine, claims: Sequence[Claim], *, force: bool
                ) -> dict[str, Outcome]:
        with engine.connect() as conn:
            products = {row["id"]: row for row in _rows(
                conn, "SELECT * FROM public.products WHERE id = ANY(:ids)",
                [claim.record_id for claim in claims])}
            owners = key_owners(conn, "products", "sku", "zoho_books_id",
                                (product["sku"] for product in products.values()))
        taxes, outcomes = _setup_failure(self.catalog, claims)
        if taxes is None:
            return outcomes
        for claim in claims:
            product = products.get(claim.record_id)
            if product is None:
                outcomes[claim.record_key] = _missing(claim, "product")
                continue
            outcomes[claim.record_key] = _settle(
                f"product {claim.record_key}",
                lambda progress, claim=claim, product=product: self._sync(
                    engine, claim, product, owners, taxes, force, progress))
        return outcomes

    def _sync(self, engine: sa.Engine, claim: Claim, product: Row, owners: Mapping[str, Row],
              taxes: TaxTable, force: bool, progress: _Progress) -> Outcome:
        if product["sku"] != claim.record_key:
            # the SKU changed: the queue row of the new SKU updates the same item
            progress.zoho_id = product.get("zoho_books_id")
            progress.steps.append("superseded")
            return progress.success()
        check_sku(product, owners)  # Books would take a case twin's SKU as the same item
        payload = item_from_product(product, taxes)
        digest = payload_hash(payload)
        item_id = claim.zoho_id or product.get("zoho_books_id")
        if not item_id and product.get("is_active") is False:
            # not for sale: no Books item until it is sold (an order creates it) or activated.
            # An item that exists stays active: Books refuses an inactive item on an invoice,
            # and an order placed before the product was withdrawn must still be invoiced.
            progress.steps.append("inactive:not-created")
            return progress.success()
        if item_id and not force and digest == claim.payload_hash:
            progress.zoho_id = item_id
            progress.steps.append("unchanged")
            return progress.success(digest)
        if item_id:
            try:
                updated = self.books.update_item(item_id, payload)
            except ZohoNotFoundError:  # deleted in Books: create it again below
                self.catalog.forget_item(product["sku"])
            else:
                progress.zoho_id = item_id
                progress.steps.append("update")
                if updated.get("status") == "inactive":
                    # marked inactive in Books: invoices could not use it, so activate it
                    self.books.mark_item_active(item_id)
                    progress.steps.append("reactivate")
                return progress.success(digest)
        item_id, how = self.catalog.item(product, payload)
        progress.steps.append(how)
        if how != "create":
            _refuse_item_of_another(engine, product, item_id)
        progress.zoho_id = item_id
        if how != "create":  # it existed already: make it match the storefront
            self.books.update_item(item_id, payload)
            progress.steps.append("update")
        return progress.success(digest)

    def write_back(self, conn: sa.Connection, done: Sequence[tuple[Claim, Outcome]]) -> None:
        store_zoho_ids(conn, "products", "zoho_books_id", done)


def _refuse_item_of_another(engine: sa.Engine, product: Row, item_id: str) -> None:
    """Never link (and update) a Books item another storefront product is linked to."""
    with engine.connect() as conn:
        other = conn.execute(sa.text(
            "SELECT id, sku FROM public.products WHERE zoho_books_id = :item AND id <> :id "
            "LIMIT 1"), {"item": item_id, "id": product["id"]}).first()
    if other is not None:
        raise MappingError(
            f"product {product['sku']}", "sku",
            f"Zoho Books item {item_id} with this SKU belongs to product {other.sku} "
            f"({other.id})",
            f"Give product {product['id']} a SKU of its own; saving it syncs it again")
