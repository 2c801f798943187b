"""Storefront products -> Books items."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa

from kn_zoho.mapping.books import TaxTable, item_from_product
from kn_zoho.mapping.books_edits import item_digest, item_digest_parts
from kn_zoho.mapping.crm import payload_hash
from kn_zoho.mapping.errors import MappingError
from kn_zoho.storefront.claims import Claim
from kn_zoho.storefront.outcomes import Outcome
from kn_zoho.storefront.zoho_ids import store_zoho_ids
from kn_zoho.sync.books.catalog import BooksCatalog
from kn_zoho.sync.books.common import (
    RECORD_WITHIN_SECONDS,
    BatchAttempts,
    Row,
    _missing,
    _Progress,
    _rows,
    _settle,
    _setup_failure,
    batch_attempts,
    batch_serves,
    books_api_calls,
    reading,
)
from kn_zoho.sync.twins import check_sku, key_owners
from kn_zoho.zoho.books import BooksClient
from kn_zoho.zoho.errors import ZohoNotFoundError


class ItemsFlow:
    """Storefront products -> Books items (inventory goods with HSN and GST preferences).

    A product on sale needs an active item: one found inactive (someone marked it so in
    Books) is marked active again (``POST /items/{id}/active``). A product taken off sale
    (``is_active`` false) has its item marked inactive (``POST /items/{id}/inactive``,
    https://www.zoho.com/books/api/v3/items/ "Mark as inactive"), and active again when it
    is back on sale.

    An item with the product's SKU already in Books is linked, not duplicated, and brought in
    line with the storefront (PUT). A product change is sent again only when the mapped
    payload's hash changed, so stock-only edits cost nothing here.
    """

    entity = "books_item"
    records_per_attempt = 1  # calls per record: each started alone, right before its calls
    record_within_seconds = RECORD_WITHIN_SECONDS

    def __init__(self, books: BooksClient, catalog: BooksCatalog | None = None) -> None:
        self.books = books
        self.catalog = catalog or BooksCatalog(books)
        # the claimed batch's attempts, products and SKU owners, read at once (:meth:`prepare`)
        self._batch: tuple[BatchAttempts, dict[Any, Row], dict[str, Row]] | None = None

    def api_calls(self) -> int:
        return books_api_calls(self.books)

    def prepare(self, engine: sa.Engine, claims: Sequence[Claim]) -> None:
        """Read the whole claimed batch at once: two queries a batch, not two a product. A
        product that changed after its claim is read again when attempted (``Claim.changed``
        comes from starting its attempt, right before its calls)."""
        self._batch = None
        self._batch = (batch_attempts(claims), *_products(engine, claims))

    def attempt(self, engine: sa.Engine, claims: Sequence[Claim], *, force: bool
                ) -> dict[str, Outcome]:
        if self._batch is not None and batch_serves(self._batch[0], claims):
            products, owners = self._batch[1], self._batch[2]
        else:
            products, owners = _products(engine, claims)
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
        content = payload_hash(payload)
        item_id = claim.zoho_id or product.get("zoho_books_id")
        if not item_id and product.get("is_active") is False:
            # not for sale: no Books item until it is sold (an order creates it) or activated
            progress.steps.append("inactive:not-created")
            return progress.success()
        if item_id:
            try:
                return self._update(engine, claim, product, item_id, payload, content, force,
                                    progress)
            except ZohoNotFoundError:  # deleted in Books: create it again below
                self.catalog.forget_item(product["sku"])
                progress.steps.clear()
        item_id, how = self.catalog.item(product, payload)
        progress.steps.append(how)
        if how != "create":
            _refuse_item_of_another(engine, product, item_id)
        progress.zoho_id = item_id
        if how != "create":  # it existed already: make it match the storefront
            self.books.update_item(item_id, payload)
            progress.steps.append("update")
        if product.get("is_active") is False:  # found or re-created for a withdrawn product
            return self._deactivate(engine, product, item_id, content, progress)
        return progress.success(item_digest(content, inactive=False))

    def _update(self, engine: sa.Engine, claim: Claim, product: Row, item_id: str,
                payload: Row, content: str, force: bool, progress: _Progress) -> Outcome:
        """A linked item: PUT what changed, then bring its status in line with is_active.

        The stored digest says what Books has (payload hash, ``:inactive`` when marked so), so
        a deactivation costs one call and is not undone by a later price edit (a PUT leaves
        the status alone), nor a price edit by a later deactivation."""
        progress.zoho_id = item_id
        sent, books_inactive = item_digest_parts(claim.payload_hash)
        if force or content != sent:
            updated = self.books.update_item(item_id, payload)
            progress.steps.append("update")
            books_inactive = updated.get("status") == "inactive"
        want_inactive = product.get("is_active") is False
        if want_inactive and not books_inactive:
            return self._deactivate(engine, product, item_id, content, progress)
        if books_inactive and not want_inactive:
            # on sale but inactive in Books (ours, or someone marked it so there): invoices
            # could not use it, so activate it
            self.books.mark_item_active(item_id)
            progress.steps.append("reactivate")
        if not progress.steps:
            progress.steps.append("unchanged")
        progress.metadata["books_status"] = "inactive" if want_inactive else "active"
        return progress.success(item_digest(content, inactive=want_inactive))

    def _deactivate(self, engine: sa.Engine, product: Row, item_id: str, content: str,
                    progress: _Progress) -> Outcome:
        """``POST /items/{id}/inactive`` for a withdrawn product, unless a document that is
        still to reach Books has a line of it (Books refuses an inactive item on a new
        transaction): then it waits, and that document's sync brings it back (migration
        20261121001100)."""
        if _documents_waiting_for(engine, product["id"]):
            progress.steps.append("inactive:deferred")
            progress.metadata["books_status"] = "active until its documents are in Books"
            return progress.success(item_digest(content, inactive=False))
        self.books.mark_item_inactive(item_id)
        progress.steps.append("deactivate")
        progress.metadata["books_status"] = "inactive"
        return progress.success(item_digest(content, inactive=True))

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


def _documents_waiting_for(engine: sa.Engine, product_id: Any) -> bool:
    """Whether an invoice or estimate with a line of this product is queued and not yet in
    Books (pending or being synced)."""
    with engine.connect() as conn:
        return bool(conn.execute(sa.text("""
            SELECT EXISTS (
                SELECT 1 FROM integration.zoho_sync_queue q
                  JOIN public.order_items i ON i.order_id = q.record_id
                 WHERE q.entity = 'books_invoice' AND q.status IN ('pending', 'in_progress')
                   AND i.product_id = :id
                UNION ALL
                SELECT 1 FROM integration.zoho_sync_queue q
                  JOIN public.b2b_quote_items i ON i.quote_id = q.record_id
                 WHERE q.entity = 'books_estimate' AND q.status IN ('pending', 'in_progress')
                   AND i.product_id = :id)"""), {"id": product_id}).scalar())


def activate_for_document(engine: sa.Engine, books: BooksClient, product: Row, item_id: str
                          ) -> bool:
    """Before a document uses the item of a product taken off sale (an order placed before,
    paid after): mark the item active if we marked it inactive, since Books refuses an
    inactive item on a new transaction. The item is queued again, so once the document is in
    Books it is marked inactive again (migration 20261121001100). True if a call was made."""
    with engine.connect() as conn:
        stored = conn.execute(sa.text(
            "SELECT payload_hash FROM integration.zoho_sync_queue "
            "WHERE entity = 'books_item' AND record_key = :sku"), {"sku": product["sku"]}
        ).scalar()
    if not item_digest_parts(stored)[1]:
        return False
    books.mark_item_active(item_id)
    with engine.begin() as conn:
        conn.execute(sa.text(
            "UPDATE integration.zoho_sync_queue SET payload_hash = split_part(payload_hash, "
            "':', 1) WHERE entity = 'books_item' AND record_key = :sku"), {"sku": product["sku"]})
        conn.execute(sa.text("SELECT integration.enqueue_sync('books_item', :sku, 'products', "
                             ":id)"), {"sku": product["sku"], "id": product["id"]})
    return True


def _products(engine: sa.Engine, claims: Sequence[Claim]
              ) -> tuple[dict[Any, Row], dict[str, Row]]:
    """The claimed products by id, and who owns each of their SKUs in Books (``twins``)."""
    with reading(engine) as conn:
        products = {row["id"]: row for row in _rows(
            conn, "SELECT * FROM public.products WHERE id = ANY(:ids)",
            [claim.record_id for claim in claims])}
        owners = key_owners(conn, "products", "sku", "zoho_books_id",
                            (product["sku"] for product in products.values()))
    return products, owners
