"""What the invoice and estimate flows share: loading, customers and items, find-or-create."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from kn_zoho.mapping.books import TaxTable, with_zoho_ids
from kn_zoho.storefront.claims import Claim
from kn_zoho.storefront.outcomes import Outcome
from kn_zoho.storefront.zoho_ids import store_zoho_ids
from kn_zoho.sync.books.catalog import BooksCatalog
from kn_zoho.sync.books.common import (
    RECORD_WITHIN_SECONDS,
    BatchAttempts,
    Refused,
    Row,
    _amount,
    _link,
    _missing,
    _Progress,
    _rows,
    _settle,
    _setup_failure,
    batch_attempts,
    batch_serves,
    books_api_calls,
    create_or_adopt,
    organization_state,
    reading,
    refused_for_good,
)
from kn_zoho.sync.books.contacts import CustomerLinks
from kn_zoho.sync.books.items import activate_for_document
from kn_zoho.sync.twins import check_sku, key_owners, shared_ignoring_case
from kn_zoho.zoho.books import BooksClient
from kn_zoho.zoho.errors import ZohoError


@dataclass
class _Batch:
    """What the records of one claimed batch need from the storefront, read at once; the
    rows are shared, so what one record links (a customer, an item) the next one sees."""

    attempts: BatchAttempts  # the claims read for
    documents: dict[Any, Row]
    lines: dict[Any, list[Row]]
    users: dict[Any, Row]
    products: dict[Any, Row]
    owners: dict[str, Row]
    shared_emails: set[str]


def _relink(engine: sa.Engine, user: Row, products: Sequence[Row]) -> None:
    """The batch was read at its claim: a customer or item another run linked since (links
    are no captured change) is taken from the rows now, in one query, before anything is
    looked up or created in Books for lack of it."""
    users = [user["id"]] if not user.get("zoho_books_id") else []
    unlinked = {product["id"]: product for product in products
                if not product.get("zoho_books_id")}
    if not users and not unlinked:
        return
    with reading(engine) as conn:
        linked = dict(conn.execute(sa.text(
            "SELECT id, zoho_books_id FROM public.users WHERE id = ANY(:users) "
            "AND zoho_books_id IS NOT NULL UNION ALL SELECT id, zoho_books_id "
            "FROM public.products WHERE id = ANY(:products) AND zoho_books_id IS NOT NULL"),
            {"users": users, "products": list(unlinked)}).all())
    for row in [user, *unlinked.values()]:
        if row["id"] in linked:
            row["zoho_books_id"] = linked[row["id"]]


class _DocumentFlow:
    """What the invoice and estimate flows share: loading, customers and items on demand."""

    entity: str
    label: str            # "order" / "quote", for messages
    number_column: str    # the document's number: its queue key
    table: str            # storefront table of the documents
    line_table: str       # ... and of their lines
    line_key: str         # the lines' column pointing at the document
    records_per_attempt = 1  # calls per record: each started alone, right before its calls
    record_within_seconds = RECORD_WITHIN_SECONDS
    # the documents' batch read (``:ids``); a flow may join in what it needs per document
    documents_query: str | None = None

    def prepare(self, engine: sa.Engine, claims: Sequence[Claim]) -> None:
        """Read the whole claimed batch at once: six queries a batch, not six a record. A
        record that changed after its claim is read again when attempted (``Claim.changed``
        comes from starting its attempt, right before its calls)."""
        self._batch = None
        self._batch = self._read(engine, claims)

    def _read(self, engine: sa.Engine, claims: Sequence[Claim]) -> _Batch:
        documents, lines, users, products = _load_documents(
            engine, claims, self.table, self.line_table, self.line_key, self.documents_query)
        owners, shared = _key_owners(engine, users.values(), products.values())
        return _Batch(batch_attempts(claims), documents, lines, users,
                      products, owners, shared)

    def attempt(self, engine: sa.Engine, claims: Sequence[Claim], *, force: bool
                ) -> dict[str, Outcome]:
        batch = self._batch
        if batch is None or not batch_serves(batch.attempts, claims):
            batch = self._read(engine, claims)
        documents, lines, users, products = (batch.documents, batch.lines, batch.users,
                                             batch.products)
        owners, self._shared_emails = batch.owners, batch.shared_emails
        taxes, outcomes = _setup_failure(self.catalog, claims)
        if taxes is None:
            return outcomes
        for claim in claims:
            document = documents.get(claim.record_id)
            if document is None:
                outcomes[claim.record_key] = _missing(claim, self.label)
                continue
            if document[self.number_column] != claim.record_key:
                # renamed: the queue row of the new number syncs it (migration 20261121000400)
                outcomes[claim.record_key] = Outcome.success("superseded", None)
                continue
            outcomes[claim.record_key] = _settle(
                f"{self.label} {claim.record_key}",
                lambda progress, claim=claim, document=document: self._attempt_one(
                    engine, claim, document, lines.get(document["id"], []),
                    users[document["user_id"]], products, owners, taxes, progress))
        return outcomes

    def _attempt_one(self, engine: sa.Engine, claim: Claim, document: Row,
                     lines: Sequence[Row], user: Row, products: Mapping[Any, Row],
                     owners: Mapping[str, Row], taxes: TaxTable, progress: _Progress
                     ) -> Outcome:
        """One document: its SKUs checked, the links other runs made since the batch read
        taken in (before any call, and before the invoice flow's 'sending' starts on its
        thread, which the read would only contend with), then the flow's own sync."""
        checked = _checked_skus(f"{self.label} {claim.record_key}", lines, products, owners)
        _relink(engine, user, [products[line["product_id"]] for line in checked])
        return self._sync(engine, claim, document, checked, user, products, taxes, progress)

    def _sync(self, engine: sa.Engine, claim: Claim, document: Row, lines: Sequence[Row],
              user: Row, products: Mapping[Any, Row], taxes: TaxTable,
              progress: _Progress) -> Outcome:
        raise NotImplementedError

    def __init__(self, books: BooksClient, catalog: BooksCatalog | None = None,
                 seller_state: str | None = None) -> None:
        self.books = books
        self.catalog = catalog or BooksCatalog(books)
        self.seller_state = seller_state or organization_state()
        self._shared_emails: set[str] = set()
        self._batch: _Batch | None = None
        self._links = CustomerLinks()  # written with the outcomes (:meth:`write_back`)

    def api_calls(self) -> int:
        return books_api_calls(self.books)

    def write_back(self, conn: sa.Connection, done: Sequence[tuple[Claim, Outcome]]) -> None:
        """The customers linked since the last record (whatever the outcomes), then the
        documents' Books ids."""
        self._links.write(conn)
        store_zoho_ids(conn, self.table, "zoho_books_id", done)

    def recorded(self) -> None:
        """The write-back committed (the runner's recording may be tried again before)."""
        self._links.committed()

    def _ensure_parties(self, engine: sa.Engine, user: Row, lines: Sequence[Row],
                        products: Mapping[Any, Row], progress: _Progress
                        ) -> tuple[str, dict[str, str]]:
        """The customer and every line's item in Books, created if missing, ids stored (the
        rows carry other runs' links: see :meth:`_attempt_one`)."""
        customer_id = user.get("zoho_books_id")
        if not customer_id:
            shared = str(user.get("email") or "").strip().lower() in self._shared_emails
            customer_id, how = self.catalog.customer(user, exact_email=shared)
            self._links.add(user, customer_id, how)
            progress.steps.append(f"customer:{how}")
        item_ids: dict[str, str] = {}
        for line in lines:
            product = products[line["product_id"]]
            item_id = product.get("zoho_books_id")
            if not item_id:
                item_id, how = self.catalog.item(product)
                _link(engine, "products", product, item_id)
                progress.steps.append(f"item:{how}")
            elif product.get("is_active") is False and activate_for_document(
                    engine, self.books, product, item_id):
                progress.steps.append("item:reactivate")
            item_ids[line["sku"]] = item_id
        return customer_id, item_ids

    def _find_or_create(self, engine: sa.Engine, claim: Claim, document: Row,
                        lines: Sequence[Row], user: Row, products: Mapping[Any, Row],
                        taxes: TaxTable, progress: _Progress, *, kind: str,
                        get: Callable[[str], Row | None],
                        find_by_number: Callable[[str], Row | None],
                        create: Callable[..., Row],
                        create_guard: Callable[[], AbstractContextManager[Row]] | None = None,
                        mapped: Row | None = None) -> tuple[Row, str]:
        """The Books ``kind`` (invoice/estimate) of this storefront document and how it was
        had: ``found`` (the one an earlier attempt made), ``create`` (made now under our own
        number) or ``adopt`` (Books had that number already); refused if it belongs to another
        document. Sets ``progress.zoho_id``.
        ``create_guard``: a context around the create or adoption (a create that moves stock
        holds the stock lock), handed the document once it is known to be ours.
        ``mapped``: the document mapped already, with ``sku_placeholders`` for item ids."""
        number = document[self.number_column]
        found = self._made_earlier(claim, document, get, find_by_number)
        how = "found"
        if found is not None:
            progress.steps.append(f"{kind}:found")
        else:
            customer_id, item_ids = self._ensure_parties(engine, user, lines, products, progress)
            payload = (with_zoho_ids(mapped, customer_id, item_ids) if mapped is not None
                       else self._payload(document, lines, user, customer_id, item_ids, taxes))
            with (create_guard or _no_guard)() as made:
                found, how = create_numbered(
                    self.books, lambda: create(payload, ignore_auto_number_generation=True),
                    lambda: find_by_number(number), kind, self.label, number)
                refuse_document_of_another(found, kind, self.label, number)
                made[kind] = found
            progress.steps.append(f"{kind}:{how}")
        refuse_document_of_another(found, kind, self.label, number)
        progress.zoho_id = str(found[f"{kind}_id"])
        return found, how

    def _made_earlier(self, claim: Claim, document: Row, get: Callable[[str], Row | None],
                      find_by_number: Callable[[str], Row | None]) -> Row | None:
        """The Books document an earlier attempt made: by its stored id, or by number on a
        retry (the first attempt has nothing to find, so it costs no call)."""
        stored_id = claim.zoho_id or document.get("zoho_books_id")
        if stored_id:
            found = get(stored_id)
            if found is not None:
                return found
        if claim.attempt > 1:
            return find_by_number(document[self.number_column])
        return None

    @staticmethod
    def _check_total(document: Row, kind: str, number: str, expected: Decimal) -> None:
        """Books' own total must equal the storefront's to the paisa, else fail loudly."""
        total = _amount(document.get("total", 0))
        if total != expected:
            document_id = document.get(f"{kind}_id")
            raise Refused("TOTAL_MISMATCH", (
                f"field 'grand_total': Zoho Books computed {kind} {number} total {total} but the "
                f"storefront grand total is {expected}; the {kind} (id {document_id}) is in "
                "Books: correct or void it there"))


@contextmanager
def _no_guard() -> Iterator[Row]:
    yield {}


def _key_owners(engine: sa.Engine, users: Iterable[Row], products: Iterable[Row]
                ) -> tuple[dict[str, Row], set[str]]:
    """Who owns each SKU of a batch in Books (see ``twins``), and the batch's emails that
    another storefront user has in another letter case: two queries."""
    with reading(engine) as conn:
        return (key_owners(conn, "products", "sku", "zoho_books_id",
                           (product["sku"] for product in products)),
                shared_ignoring_case(conn, "users", "email", (user["email"] for user in users)))


def _checked_skus(label: str, lines: Sequence[Row], products: Mapping[Any, Row],
                  owners: Mapping[str, Row]) -> Sequence[Row]:
    """The document's lines, once their products are known not to be case twins of other
    products: their Books item belongs to another product."""
    for number, line in enumerate(lines, start=1):
        check_sku(products[line["product_id"]], owners, f"{label} line {number} ({line['sku']})")
    return lines


def create_numbered(books: BooksClient, create: Callable[[], Row],
                    find: Callable[[], Row | None], kind: str, label: str, number: str
                    ) -> tuple[Row, str]:
    """``create_or_adopt`` for a document numbered by us. Books refuses a number it holds in
    any letter case, and the exact-case lookup finds none when the holder is a case twin
    (``KN-1`` for ``kn-1``): that is a field-named failure, never an adoption."""
    try:
        return create_or_adopt(create, find)
    except ZohoError as error:
        if not refused_for_good(error):
            raise
        body = books.call("GET", f"/{kind}s", params={f"{kind}_number": number})
        twin = next((document for document in body.get(f"{kind}s") or []
                     if str(document.get(f"{kind}_number") or "").casefold()
                     == number.casefold()), None)
        if twin is None:
            raise
        raise Refused("NUMBER_TAKEN", (
            f"field '{label}_number': Zoho Books already holds {kind} "
            f"{twin.get(f'{kind}_number')} (of {label} '{twin.get('reference_number')}'); "
            f"it compares {kind} numbers without letter case. Give this {label} a number of "
            "its own; saving it syncs it again")) from None


def refuse_document_of_another(document: Row, kind: str, label: str, number: str) -> None:
    """A Books document found under our number but made for another storefront record is
    never adopted (nor its id kept)."""
    reference = document.get("reference_number")
    if reference != number:
        raise Refused("NUMBER_TAKEN", (
            f"field '{label}_number': Books {kind} {document.get(f'{kind}_number')} (id "
            f"{document.get(f'{kind}_id')}) belongs to {label} '{reference}', not {label} "
            f"'{number}'. Give this {label} a number of its own, or correct or void the "
            f"{kind} in Books; saving the {label} syncs it again"))


def _load_documents(engine: sa.Engine, claims: Sequence[Claim], table: str, line_table: str,
                    foreign_key: str, documents_query: str | None = None
                    ) -> tuple[dict[Any, Row], dict[Any, list[Row]], dict[Any, Row],
                               dict[Any, Row]]:
    """Documents by id (``documents_query``, by default their rows), their lines (with the
    product's SKU and HSN), users and products."""
    ids = [claim.record_id for claim in claims]
    query = documents_query or f"SELECT * FROM public.{table} WHERE id = ANY(:ids)"  # noqa: S608
    with reading(engine) as conn:
        documents = {row["id"]: row for row in _rows(conn, query, ids)}
        lines: dict[Any, list[Row]] = {}
        for line in _rows(conn, (
                f"SELECT i.*, p.sku, p.name AS product_name, p.hsn_code "  # noqa: S608
                f"FROM public.{line_table} i JOIN public.products p ON p.id = i.product_id "
                f"WHERE i.{foreign_key} = ANY(:ids) ORDER BY p.sku, i.id"), ids):
            lines.setdefault(line[foreign_key], []).append(line)
        users = {row["id"]: row for row in _rows(
            conn, "SELECT * FROM public.users WHERE id = ANY(:ids)",
            sorted({d["user_id"] for d in documents.values()}, key=str))}
        products = {row["id"]: row for row in _rows(
            conn, "SELECT * FROM public.products WHERE id = ANY(:ids)",
            sorted({line["product_id"] for group in lines.values() for line in group}, key=str))}
    return documents, lines, users, products
