"""Storefront products, paid orders and approved quotes -> Zoho Books items, invoices with
their customer payments, and estimates; Books customers are created on the way.

Exactly once without idempotency keys
    Every Books document carries a number Zoho keeps unique per organization, and we choose it:
    ``invoice_number`` = the order number (``KN-2026-000001``: at most 16 characters, as GST
    requires of an invoice serial) and ``estimate_number`` = the quote number, both sent with
    ``ignore_auto_number_generation=true``. A second create of the same document, whether from
    a retry after a lost reply, a run killed before it recorded the reply, or two overlapping
    runs, is refused by Zoho itself, and we then adopt the stored document (looked up by
    number) instead. A reference number would not do: Books does not keep those unique, so two
    racing creates would both succeed. The payment is keyed by the gateway's payment id in
    ``reference_number``; it is created only while the invoice still has a balance, and Zoho
    refuses a second one beyond the balance, after which the stored payment is adopted.
    Customers and items have natural keys too: Books keeps contact names and item SKUs unique,
    and we look contacts up by email and items by SKU before creating them.

Call budget
    The normal path costs 2 calls per order (invoice, payment), 1 per new customer, 1 per new
    item and 1 per estimate. Looking up customers and items must not cost a call per record, so
    :class:`BooksCatalog` lists the existing ones once per run (``ceil(n / 200)`` calls, only
    when some record has no Books id yet) and creates only the missing. The listing stops
    after ``prefetch_pages`` pages: in an organization with 50,000 contacts a full listing
    (250 calls) would cost more than it saves, so past that a miss is checked with one
    filtered search per new customer (2 calls per new customer instead of 1). Each customer
    pays that once: its Books id is stored on ``users.zoho_books_id``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from kn_zoho.mapping.books import (
    TaxTable,
    customer_from_user,
    estimate_from_quote,
    invoice_from_order,
    item_from_product,
    payment_from_order,
    tax_table_from_zoho,
)
from kn_zoho.mapping.crm import payload_hash
from kn_zoho.mapping.errors import MappingError
from kn_zoho.storefront.queue import Claim, Outcome
from kn_zoho.zoho.books import DEFAULT_PER_PAGE, BooksClient
from kn_zoho.zoho.errors import (
    ZohoAuthError,
    ZohoError,
    ZohoNotFoundError,
    ZohoPermanentError,
)

# The state the Books organization is registered in decides intra- (CGST+SGST) versus
# inter-state (IGST) supply, and Books refuses a tax of the wrong kind, so it must be the
# organization's state as Books knows it. The bundled sandbox's organization is in Telangana.
ORGANIZATION_STATE_ENV = "KN_ZOHO_BOOKS_ORGANIZATION_STATE"
DEFAULT_ORGANIZATION_STATE = "KA"  # KN Biosciences, Bengaluru; the sandbox org too
PREFETCH_PAGES = 10
# A refund after payment keeps the sale's invoice (the refund is a credit note in Books).
INVOICED_STATUSES = frozenset({"paid", "refunded"})
INVOICE_NUMBER_MAX = 16  # GST: an invoice serial has at most 16 characters
# Books codes for "already exists": 1001 generic (documents, SKUs), 3062 contact name.
_DUPLICATE_CODES = frozenset({1001, 3062})
_PAISA = Decimal("0.01")

Row = dict[str, Any]


def organization_state() -> str:
    """The Books organization's state code (``KN_ZOHO_BOOKS_ORGANIZATION_STATE``)."""
    return os.environ.get(ORGANIZATION_STATE_ENV, "").strip().upper() or DEFAULT_ORGANIZATION_STATE


def books_api_calls(books: BooksClient) -> int:
    """Books calls made through the client's HTTP layer (which CRM shares, so filter)."""
    return sum(n for endpoint, n in books.http.api_calls.items() if " /books/" in endpoint)


# --- create without duplicates -----------------------------------------------------------


class Refused(Exception):
    """A permanent failure found by the sync itself (not by mapping or Zoho)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def is_duplicate(error: ZohoError) -> bool:
    """Zoho refused a create because a record with the same unique key exists."""
    if not isinstance(error, ZohoPermanentError) or isinstance(
            error, ZohoNotFoundError | ZohoAuthError):
        return False
    return error.code in _DUPLICATE_CODES or "already exists" in error.message.lower()


def create_or_adopt(create: Callable[[], Row], find: Callable[[], Row | None]
                    ) -> tuple[Row, str]:
    """Create a record Zoho keeps unique on a key, or adopt the one already stored.

    When Zoho says the key exists, or the create's outcome is unknown (timeout, lost reply,
    5xx after the write), the record is looked up by its key and adopted if found. A lost
    create that never got stored is sent once more (safe: the key is unique). Returns the
    record and ``"create"`` or ``"adopt"``.
    """
    for last in (False, True):
        try:
            return create(), "create"
        except ZohoError as error:
            if not (is_duplicate(error) or error.outcome_unknown):
                raise
            found = find()
            if found is not None:
                return found, "adopt"
            if is_duplicate(error) or last:
                raise
    raise AssertionError("unreachable")


# --- what already exists in Books ----------------------------------------------------------


@dataclass
class _Index:
    """Books records by natural key (case-folded) from one listing."""

    ids: dict[str, str]
    complete: bool       # False when the listing stopped early: a miss proves nothing
    names: set[str] = field(default_factory=set)   # contact names in use (Books: unique)
    unsure: set[str] = field(default_factory=set)  # keys whose create had an unknown outcome

    def must_search(self, key: str) -> bool:
        return not self.complete or key in self.unsure


class BooksCatalog:
    """Taxes, customers and items already in Books, listed at most once per instance.

    One instance serves one run (the flows of ``books_flows`` share it), so a batch never
    looks the same thing up twice; what the run creates is added as it goes. A stale entry
    cannot cause a duplicate: creates rely on Books' own uniqueness and adopt on conflict.
    ``prefetch_pages`` caps each listing (0: never list, search every miss). Not
    thread-safe: give each concurrent run its own.
    """

    def __init__(self, books: BooksClient, *, prefetch_pages: int = PREFETCH_PAGES) -> None:
        self.books = books
        self.prefetch_pages = prefetch_pages
        self._taxes: TaxTable | None = None
        self._contacts: _Index | None = None
        self._items: _Index | None = None

    def taxes(self) -> TaxTable:
        """The GST tax table (``GET /settings/taxes`` once)."""
        if self._taxes is None:
            self._taxes = tax_table_from_zoho(self.books.list_taxes())
        return self._taxes

    def customer(self, user: Mapping[str, Any]) -> tuple[str, str]:
        """The Books contact for a storefront user: (id, "link" | "create" | "adopt").

        Found by email; else created. Books refuses a second contact with the same name, so
        a namesake (another storefront user) gets the email added to the name.
        """
        payload = customer_from_user(user)
        email = payload["email"]
        key = email.casefold()
        index = self._contact_index()
        if key in index.ids:
            return index.ids[key], "link"
        if index.must_search(key) and (found := self.books.find_contact_by_email(email)):
            return self._remember_contact(found, key), "link"

        def find() -> Row | None:
            return self.books.find_contact_by_email(email)

        name = payload["contact_name"]
        if name.casefold() in index.names:
            name = _namesake(name, email)
        try:
            contact, how = self._create_contact({**payload, "contact_name": name}, find, key)
        except ZohoError as error:
            if not is_duplicate(error) or name != payload["contact_name"]:
                raise
            # a namesake was created since our listing (another run)
            contact, how = self._create_contact(
                {**payload, "contact_name": _namesake(name, email)}, find, key)
        return self._remember_contact(contact, key), how

    def item(self, product: Mapping[str, Any], payload: Mapping[str, Any] | None = None
             ) -> tuple[str, str]:
        """The Books item for a product: (id, "link" | "create" | "adopt"), found by SKU."""
        sku = str(product["sku"])
        index = self._item_index()
        key = sku.casefold()
        if key in index.ids:
            return index.ids[key], "link"
        if index.must_search(key) and (found := self.books.find_item_by_sku(sku)):
            return self._remember_item(found), "link"
        body = dict(payload or item_from_product(product, self.taxes()))
        try:
            item, how = create_or_adopt(lambda: self.books.create_item(body),
                                        lambda: self.books.find_item_by_sku(sku))
        except ZohoError as error:
            if error.outcome_unknown:
                index.unsure.add(key)
            raise
        return self._remember_item(item), how

    def forget_item(self, sku: str) -> None:
        """An item id that Books no longer knows (deleted there)."""
        if self._items is not None:
            self._items.ids.pop(sku.casefold(), None)

    # -- internals ---------------------------------------------------------------------------

    def _create_contact(self, payload: Row, find: Callable[[], Row | None], key: str
                        ) -> tuple[Row, str]:
        try:
            return create_or_adopt(lambda: self.books.create_contact(payload), find)
        except ZohoError as error:
            if error.outcome_unknown:
                assert self._contacts is not None
                self._contacts.unsure.add(key)
            raise

    def _listing(self, path: str, key: str) -> tuple[list[Row], bool]:
        """Up to ``prefetch_pages`` pages of a list; True when that was everything."""
        records: list[Row] = []
        for page in range(1, self.prefetch_pages + 1):
            body = self.books.call("GET", path, params={"page": page,
                                                        "per_page": DEFAULT_PER_PAGE})
            records += body.get(key) or []
            if not (body.get("page_context") or {}).get("has_more_page"):
                return records, True
        return records, False

    def _contact_index(self) -> _Index:
        if self._contacts is None:
            contacts, complete = self._listing("/contacts", "contacts")
            self._contacts = _Index({}, complete)
            for contact in contacts:
                email = str(contact.get("email") or "").strip().casefold()
                self._remember_contact(contact, email)
        return self._contacts

    def _remember_contact(self, contact: Row, key: str) -> str:
        assert self._contacts is not None
        contact_id = str(contact["contact_id"])
        if key:
            self._contacts.ids.setdefault(key, contact_id)
            self._contacts.unsure.discard(key)
        self._contacts.names.add(str(contact.get("contact_name") or "").casefold())
        return self._contacts.ids.get(key, contact_id)

    def _item_index(self) -> _Index:
        if self._items is None:
            items, complete = self._listing("/items", "items")
            self._items = _Index({}, complete)
            for item in items:
                self._remember_item(item)
        return self._items

    def _remember_item(self, item: Row) -> str:
        assert self._items is not None
        item_id = str(item["item_id"])
        sku = str(item.get("sku") or "").casefold()
        if sku:
            self._items.ids[sku] = item_id
            self._items.unsure.discard(sku)
        return item_id


def _namesake(name: str, email: str) -> str:
    return f"{name} ({email})"[:200]


# --- shared by the flows ---------------------------------------------------------------------


def document_metadata(document: Row) -> dict[str, str | int | float]:
    """What the admin wants to see on an invoice/estimate's materialization: the totals Books
    computed and the GST split (numbers, so the UI can plot them)."""
    metadata: dict[str, str | int | float] = {
        "number": str(document.get("invoice_number") or document.get("estimate_number") or ""),
        "place_of_supply": str(document.get("place_of_supply") or ""),
        "sub_total": float(_amount(document.get("sub_total", 0))),
        "tax_total": float(_amount(document.get("tax_total", 0))),
        "total": float(_amount(document.get("total", 0))),
    }
    for tax in document.get("taxes") or []:
        metadata[f"tax {tax.get('tax_name')}"] = float(_amount(tax.get("tax_amount", 0)))
    return metadata


@dataclass
class _Progress:
    """What one record's attempt has done so far: its outcome, whether it succeeds or not."""

    steps: list[str] = field(default_factory=list)
    zoho_id: str | None = None
    metadata: dict[str, str | int | float] = field(default_factory=dict)

    @property
    def operation(self) -> str:
        return "+".join(self.steps) or "attempt"

    def success(self, payload_digest: str | None = None) -> Outcome:
        return Outcome.success(self.operation, self.zoho_id, payload_digest,
                               self.metadata or None)

    def failure(self, code: str, message: str, *, transient: bool) -> Outcome:
        # zoho_id survives a failure in the queue row, so the next attempt starts from it
        return Outcome(False, self.operation, zoho_id=self.zoho_id, error_code=code,
                       error_message=message, transient=transient)


def _settle(label: str, work: Callable[[_Progress], Outcome]) -> Outcome:
    """Run one record's work; any failure becomes that record's outcome, never the batch's."""
    progress = _Progress()
    try:
        return work(progress)
    except MappingError as error:
        return progress.failure("INVALID_DATA", str(error), transient=False)
    except Refused as error:
        return progress.failure(error.code, f"{label}: {error}", transient=False)
    except ZohoError as error:
        return progress.failure(str(error.code or type(error).__name__), f"{label}: {error}",
                                transient=error.transient)


def _for_all(claims: Sequence[Claim], outcome: Outcome) -> dict[str, Outcome]:
    return {claim.record_key: outcome for claim in claims}


def _setup_failure(catalog: BooksCatalog, claims: Sequence[Claim]
                   ) -> tuple[TaxTable | None, dict[str, Outcome]]:
    """The tax table, or the same failure for every claim (Books down or taxes missing)."""
    try:
        return catalog.taxes(), {}
    except ZohoError as error:
        return None, _for_all(claims, Outcome.failure(
            "taxes", str(error.code or type(error).__name__),
            f"reading Zoho Books taxes: {error}", transient=error.transient))
    except ValueError as error:
        return None, _for_all(claims, Outcome.failure(
            "taxes", "TAX_SETUP", f"Zoho Books tax setup: {error}", transient=False))


def _rows(conn: sa.Connection, sql: str, ids: Sequence[Any]) -> list[Row]:
    return [dict(row) for row in conn.execute(sa.text(sql), {"ids": list(ids)}).mappings()]


def _amount(value: Any) -> Decimal:
    return Decimal(str(value)).quantize(_PAISA)


def _link(engine: sa.Engine, table: str, row: Row, zoho_id: str) -> None:
    """Store a Books id on a storefront row at once, in its own small transaction, so a
    later failure of the document does not lose the customer or item it created."""
    if row.get("zoho_books_id") == zoho_id:
        return
    with engine.begin() as conn:
        conn.execute(sa.text(f"UPDATE public.{table} SET zoho_books_id = :zid "  # noqa: S608
                             "WHERE id = :id AND zoho_books_id IS DISTINCT FROM :zid"),
                     {"zid": zoho_id, "id": row["id"]})
    row["zoho_books_id"] = zoho_id


def _write_back(conn: sa.Connection, table: str, claim: Claim, outcome: Outcome) -> None:
    if outcome.zoho_id:
        conn.execute(sa.text(f"UPDATE public.{table} SET zoho_books_id = :zid "  # noqa: S608
                             "WHERE id = :id AND zoho_books_id IS DISTINCT FROM :zid"),
                     {"zid": outcome.zoho_id, "id": claim.record_id})


class _DocumentFlow:
    """What the invoice and estimate flows share: loading, customers and items on demand."""

    entity: str
    label: str            # "order" / "quote", for messages
    table: str            # storefront table of the documents
    line_table: str       # ... and of their lines
    line_key: str         # the lines' column pointing at the document
    records_per_attempt = 1  # calls per record: record each outcome as soon as it is known

    def attempt(self, engine: sa.Engine, claims: Sequence[Claim], *, force: bool
                ) -> dict[str, Outcome]:
        documents, lines, users, products = _load_documents(
            engine, claims, self.table, self.line_table, self.line_key)
        taxes, outcomes = _setup_failure(self.catalog, claims)
        if taxes is None:
            return outcomes
        for claim in claims:
            document = documents.get(claim.record_id)
            if document is None:
                outcomes[claim.record_key] = _missing(claim, self.label)
                continue
            outcomes[claim.record_key] = _settle(
                f"{self.label} {claim.record_key}",
                lambda progress, claim=claim, document=document: self._sync(
                    engine, claim, document, lines.get(document["id"], []),
                    users[document["user_id"]], products, taxes, progress))
        return outcomes

    def _sync(self, engine: sa.Engine, claim: Claim, document: Row, lines: Sequence[Row],
              user: Row, products: Mapping[Any, Row], taxes: TaxTable,
              progress: _Progress) -> Outcome:
        raise NotImplementedError

    def __init__(self, books: BooksClient, catalog: BooksCatalog | None = None,
                 seller_state: str | None = None) -> None:
        self.books = books
        self.catalog = catalog or BooksCatalog(books)
        self.seller_state = seller_state or organization_state()

    def api_calls(self) -> int:
        return books_api_calls(self.books)

    def _ensure_parties(self, engine: sa.Engine, user: Row, lines: Sequence[Row],
                        products: Mapping[Any, Row], progress: _Progress
                        ) -> tuple[str, dict[str, str]]:
        """The customer and every line's item in Books, created if missing, ids stored."""
        customer_id = user.get("zoho_books_id")
        if not customer_id:
            customer_id, how = self.catalog.customer(user)
            _link(engine, "users", user, customer_id)
            progress.steps.append(f"customer:{how}")
        item_ids: dict[str, str] = {}
        for line in lines:
            product = products[line["product_id"]]
            item_id = product.get("zoho_books_id")
            if not item_id:
                item_id, how = self.catalog.item(product)
                _link(engine, "products", product, item_id)
                progress.steps.append(f"item:{how}")
            item_ids[line["sku"]] = item_id
        return customer_id, item_ids

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


def _load_documents(engine: sa.Engine, claims: Sequence[Claim], table: str, line_table: str,
                    foreign_key: str) -> tuple[dict[Any, Row], dict[Any, list[Row]],
                                              dict[Any, Row], dict[Any, Row]]:
    """Documents by id, their lines (with the product's SKU and HSN), users and products."""
    ids = [claim.record_id for claim in claims]
    with engine.connect() as conn:
        documents = {row["id"]: row for row in _rows(
            conn, f"SELECT * FROM public.{table} WHERE id = ANY(:ids)", ids)}  # noqa: S608
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


def _missing(claim: Claim, label: str) -> Outcome:
    return Outcome.failure("load", "NOT_FOUND", f"{label} {claim.record_key} no longer exists in "
                           "the storefront", transient=False)


# --- items -----------------------------------------------------------------------------------


class ItemsFlow:
    """Storefront products -> Books items (inventory goods with HSN and GST preferences).

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
                    claim, product, taxes, force, progress))
        return outcomes

    def _sync(self, claim: Claim, product: Row, taxes: TaxTable, force: bool,
              progress: _Progress) -> Outcome:
        if product["sku"] != claim.record_key:
            # the SKU changed: the queue row of the new SKU updates the same item
            progress.zoho_id = product.get("zoho_books_id")
            progress.steps.append("superseded")
            return progress.success()
        payload = item_from_product(product, taxes)
        digest = payload_hash(payload)
        item_id = claim.zoho_id or product.get("zoho_books_id")
        if item_id and not force and digest == claim.payload_hash:
            progress.zoho_id = item_id
            progress.steps.append("unchanged")
            return progress.success(digest)
        if item_id:
            try:
                self.books.update_item(item_id, payload)
            except ZohoNotFoundError:  # deleted in Books: create it again below
                self.catalog.forget_item(product["sku"])
            else:
                progress.zoho_id = item_id
                progress.steps.append("update")
                return progress.success(digest)
        item_id, how = self.catalog.item(product, payload)
        progress.zoho_id = item_id
        progress.steps.append(how)
        if how != "create":  # it existed already: make it match the storefront
            self.books.update_item(item_id, payload)
            progress.steps.append("update")
        return progress.success(digest)

    def write_back(self, conn: sa.Connection, claim: Claim, outcome: Outcome) -> None:
        _write_back(conn, "products", claim, outcome)


# --- invoices --------------------------------------------------------------------------------


def _balance(invoice: Row) -> Decimal:
    return _amount(invoice.get("balance", invoice.get("total", 0)))


class InvoicesFlow(_DocumentFlow):
    """Paid storefront orders -> Books GST invoices (tax inclusive) + customer payments.

    The invoice number is the order number (see the module docstring): a retry, a killed run
    or an overlapping run that creates it again is refused by Books and adopts the stored
    invoice. A retried claim looks it up first, which saves the refused create.
    """

    entity = "books_invoice"
    label, table, line_table, line_key = "order", "orders", "order_items", "order_id"

    def _payload(self, order: Row, lines: Sequence[Row], user: Row, customer_id: str,
                 item_ids: Mapping[str, str], taxes: TaxTable) -> Row:
        payload = invoice_from_order(order, lines, customer_id=customer_id, item_ids=item_ids,
                                     taxes=taxes, seller_state=self.seller_state, user=user)
        return {**payload, "invoice_number": order["order_number"]}

    def _sync(self, engine: sa.Engine, claim: Claim, order: Row, lines: Sequence[Row],
              user: Row, products: Mapping[Any, Row], taxes: TaxTable,
              progress: _Progress) -> Outcome:
        number = order["order_number"]
        if order.get("payment_status") not in INVOICED_STATUSES:
            raise Refused("NOT_PAID", f"field 'payment_status': is {order.get('payment_status')!r}"
                          ", only paid orders are invoiced")
        if len(number) > INVOICE_NUMBER_MAX:
            raise MappingError(f"order {number}", "order_number",
                               f"longer than the {INVOICE_NUMBER_MAX} characters GST allows an "
                               "invoice number")
        # map once with placeholder ids: bad data fails before anything is created in Books
        self._payload(order, lines, user, "0", {line["sku"]: "0" for line in lines}, taxes)
        invoice = self._existing(claim, order)
        if invoice is not None:
            progress.steps.append("invoice:found")
            customer_id = str(invoice["customer_id"])
        else:
            customer_id, item_ids = self._ensure_parties(engine, user, lines, products, progress)
            payload = self._payload(order, lines, user, customer_id, item_ids, taxes)
            invoice, how = create_or_adopt(
                lambda: self.books.create_invoice(payload, ignore_auto_number_generation=True),
                lambda: self.books.find_invoice_by_invoice_number(number))
            progress.steps.append(f"invoice:{how}")
        progress.zoho_id = str(invoice["invoice_id"])
        if invoice.get("reference_number") != number:
            raise Refused("NUMBER_TAKEN", (
                f"field 'order_number': Books invoice {number} (id {progress.zoho_id}) has "
                f"reference {invoice.get('reference_number')!r}, not this order"))
        grand_total = _amount(order["grand_total"])
        self._check_total(invoice, "invoice", number, grand_total)
        progress.metadata.update(document_metadata(invoice))
        self._pay(order, invoice, customer_id, grand_total, progress)
        return progress.success()

    def _existing(self, claim: Claim, order: Row) -> Row | None:
        """The invoice an earlier attempt made: by its stored id, or by number on a retry."""
        invoice_id = claim.zoho_id or order.get("zoho_books_id")
        if invoice_id:
            found = self.books.get_invoice(invoice_id)
            if found is not None:
                return found
        if claim.attempt > 1:
            return self.books.find_invoice_by_invoice_number(order["order_number"])
        return None

    def _pay(self, order: Row, invoice: Row, customer_id: str, amount: Decimal,
             progress: _Progress) -> None:
        """One customer payment for the order, applied to the invoice.

        Created only while the invoice has a balance; an invoice already settled (by our
        earlier attempt whose reply was lost, or a racing run) has its payment adopted.
        """
        if amount == 0:
            progress.steps.append("payment:none")
            return
        reference = order.get("payment_gateway_id") or order["order_number"]
        invoice_id = str(invoice["invoice_id"])
        if _balance(invoice) == 0:
            self._adopt_payment(reference, progress)
            return
        payload = payment_from_order(order, invoice_id, customer_id, amount)
        payload.setdefault("reference_number", reference)
        for last in (False, True):
            try:
                self.books.create_customer_payment(payload)
            except ZohoError as error:
                if error.transient and not error.outcome_unknown:
                    raise
                # stored after all, or refused because the invoice is settled already?
                fresh = self.books.get_invoice(invoice_id)
                if fresh is not None and _balance(fresh) == 0:
                    self._adopt_payment(reference, progress)
                    return
                if not error.outcome_unknown or last:
                    raise
            else:
                progress.steps.append("payment:create")
                return

    def _adopt_payment(self, reference: str, progress: _Progress) -> None:
        found = self.books.find_customer_payment_by_reference_number(reference)
        # None: settled in Books by a payment someone entered there; never pay twice
        progress.steps.append("payment:adopt" if found else "payment:settled-in-books")

    def write_back(self, conn: sa.Connection, claim: Claim, outcome: Outcome) -> None:
        _write_back(conn, "orders", claim, outcome)


# --- estimates -------------------------------------------------------------------------------


class EstimatesFlow(_DocumentFlow):
    """Approved B2B quotes -> Books estimates numbered with the quote number (exactly once
    the same way as invoices)."""

    entity = "books_estimate"
    label, table, line_table, line_key = "quote", "b2b_quotes", "b2b_quote_items", "quote_id"

    def _payload(self, quote: Row, lines: Sequence[Row], user: Row, customer_id: str,
                 item_ids: Mapping[str, str], taxes: TaxTable) -> Row:
        payload = estimate_from_quote(quote, lines, customer_id=customer_id, item_ids=item_ids,
                                      taxes=taxes, seller_state=self.seller_state, user=user)
        return {**payload, "estimate_number": quote["quote_number"]}

    def _sync(self, engine: sa.Engine, claim: Claim, quote: Row, lines: Sequence[Row],
              user: Row, products: Mapping[Any, Row], taxes: TaxTable,
              progress: _Progress) -> Outcome:
        number = quote["quote_number"]
        if quote.get("status") != "approved":
            raise Refused("NOT_APPROVED", f"field 'status': is {quote.get('status')!r}, only "
                          "approved quotes become estimates")
        self._payload(quote, lines, user, "0", {line["sku"]: "0" for line in lines}, taxes)
        estimate = self._existing(claim, quote)
        if estimate is not None:
            progress.steps.append("estimate:found")
        else:
            customer_id, item_ids = self._ensure_parties(engine, user, lines, products, progress)
            payload = self._payload(quote, lines, user, customer_id, item_ids, taxes)
            estimate, how = create_or_adopt(
                lambda: self.books.create_estimate(payload, ignore_auto_number_generation=True),
                lambda: self.books.find_estimate_by_estimate_number(number))
            progress.steps.append(f"estimate:{how}")
        progress.zoho_id = str(estimate["estimate_id"])
        self._check_total(estimate, "estimate", number, _amount(quote["grand_total"]))
        progress.metadata.update(document_metadata(estimate))
        return progress.success()

    def _existing(self, claim: Claim, quote: Row) -> Row | None:
        """The estimate an earlier attempt made: by its stored id, or by number on a retry."""
        estimate_id = claim.zoho_id or quote.get("zoho_books_id")
        if estimate_id:
            found = self.books.get_estimate(estimate_id)
            if found is not None:
                return found
        if claim.attempt > 1:
            return self.books.find_estimate_by_estimate_number(quote["quote_number"])
        return None

    def write_back(self, conn: sa.Connection, claim: Claim, outcome: Outcome) -> None:
        _write_back(conn, "b2b_quotes", claim, outcome)
