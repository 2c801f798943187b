"""Taxes, customers and items already in Books: items listed once per run, customers looked
up one by one by email (a cost that never grows with the organization)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from kn_zoho.mapping.books import (
    TaxTable,
    customer_email,
    customer_from_user,
    item_from_product,
    tax_table_from_zoho,
)
from kn_zoho.sync.books.common import PREFETCH_PAGES, Row, create_or_adopt, refused_for_good
from kn_zoho.zoho.books import ALL_ITEMS, DEFAULT_PER_PAGE, BooksClient
from kn_zoho.zoho.errors import ZohoError


@dataclass
class _Index:
    """Books records by natural key (case-folded) from one listing."""

    ids: dict[str, str]
    complete: bool       # False when the listing stopped early: a miss proves nothing
    names: set[str] = field(default_factory=set)   # contact names in use (Books: unique)
    unsure: set[str] = field(default_factory=set)  # keys whose create had an unknown outcome
    inactive: set[str] = field(default_factory=set)  # items marked inactive in Books

    def must_search(self, key: str) -> bool:
        return not self.complete or key in self.unsure


class BooksCatalog:
    """Taxes, customers and items already in Books, for one run.

    One instance serves one run (the flows of ``books_flows`` share it), so a batch never
    looks the same thing up twice; what the run finds or creates is kept as it goes. A stale
    entry cannot cause a duplicate: creates rely on Books' own uniqueness and adopt on
    conflict. Items are listed once (``prefetch_pages`` caps it; 0: search every miss).
    Customers are never listed: a new customer costs one search by the documented ``email``
    filter and one create, 2 calls whatever the organization's size (a listing capped at 10
    pages made one new-customer order cost 15 calls at 5,000 contacts, in every run). Not
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

    def customer(self, user: Mapping[str, Any], *, exact_email: bool = False
                 ) -> tuple[str, str]:
        """The Books contact for a storefront user: (id, "link" | "create" | "adopt").

        Searched by email (1 call), else created (1 call). Books refuses a second contact
        with the same name, so a namesake (another storefront user) gets the email added to
        the name: known in this run, at once; else after Books refuses the plain name.
        ``exact_email``: another storefront user's email differs from this one's only in
        letter case, so only an exact match is this user's contact (see ``_exact_customer``).
        """
        payload = customer_from_user(user)
        email = customer_email(payload)
        if exact_email:
            return self._exact_customer(payload, email)
        key = email.casefold()
        index = self._contact_index()
        if key in index.ids:
            return index.ids[key], "link"
        if found := self.books.find_contact_by_email(email):
            return self._remember_contact(found, key), "link"

        def find() -> Row | None:
            return self.books.find_contact_by_email(email)

        name = payload["contact_name"]
        if name.casefold() in index.names:
            name = _namesake(name, email)
        try:
            contact, how = self._create_contact({**payload, "contact_name": name}, find)
        except ZohoError as error:
            if not refused_for_good(error) or name != payload["contact_name"]:
                raise
            # Refused, and no contact has this email: most likely a namesake (Books keeps
            # contact names unique; this run cannot know every name). Books' code for a taken
            # name is not documented, so any permanent refusal gets one more try under the
            # namesake name; bad data is refused again, with its own message.
            contact, how = self._create_contact(
                {**payload, "contact_name": _namesake(name, email)}, find)
        return self._remember_contact(contact, key), how

    def item(self, product: Mapping[str, Any], payload: Mapping[str, Any] | None = None
             ) -> tuple[str, str]:
        """The Books item for a product: (id, "link" | "create" | "adopt" | "reactivate"),
        found by SKU among active and inactive items.

        An item someone marked inactive in Books keeps its SKU (Books refuses a second item
        with it), so it is marked active again and linked rather than re-created forever.
        """
        sku = str(product["sku"])
        index = self._item_index()
        key = sku.casefold()
        if key in index.ids:
            return index.ids[key], self._activate(key, "link")
        if index.must_search(key) and (found := self.books.find_item_by_sku(sku)):
            return self._remember_item(found), self._activate(key, "link")
        body = dict(payload or item_from_product(product, self.taxes()))
        try:
            item, how = create_or_adopt(lambda: self.books.create_item(body),
                                        lambda: self.books.find_item_by_sku(sku))
        except ZohoError as error:
            if error.outcome_unknown:
                index.unsure.add(key)
            raise
        return self._remember_item(item), self._activate(key, how)

    def note_item_status(self, sku: str, item: Row) -> None:
        """What an item reply says of its status (e.g. after an update)."""
        if self._items is not None:
            self._items.inactive.discard(sku.casefold())
            if item.get("status") == "inactive":
                self._items.inactive.add(sku.casefold())

    def _activate(self, key: str, how: str) -> str:
        """Mark the item active if Books has it inactive: ``how``, or "reactivate"."""
        assert self._items is not None
        if key not in self._items.inactive:
            return how
        self.books.mark_item_active(self._items.ids[key])
        self._items.inactive.discard(key)
        return "reactivate"

    def forget_item(self, sku: str) -> None:
        """An item id that Books no longer knows (deleted there)."""
        if self._items is not None:
            self._items.ids.pop(sku.casefold(), None)

    # -- internals ---------------------------------------------------------------------------

    def _exact_customer(self, payload: Row, email: str) -> tuple[str, str]:
        """Two storefront accounts whose emails differ only in case are two Books customers:
        the contact is looked up by its exact email (one search; the listing's index and the
        client's finder ignore case) and created if missing, never shared with the other."""

        def find() -> Row | None:
            return next((contact for contact in self.books.paged(
                "/contacts", "contacts", {"email": email})
                if str(contact.get("email") or "").strip() == email), None)

        found = find()
        if found is not None:
            return str(found["contact_id"]), "link"
        index = self._contact_index()
        name = payload["contact_name"]
        if name.casefold() in index.names:
            name = _namesake(name, email)
        contact, how = self._create_contact({**payload, "contact_name": name}, find)
        index.names.add(str(contact.get("contact_name") or "").casefold())
        return str(contact["contact_id"]), how

    def _create_contact(self, payload: Row, find: Callable[[], Row | None]
                        ) -> tuple[Row, str]:
        return create_or_adopt(lambda: self.books.create_contact(payload), find)

    def _listing(self, path: str, key: str, params: Mapping[str, object] | None = None
                 ) -> tuple[list[Row], bool]:
        """Up to ``prefetch_pages`` pages of a list; True when that was everything."""
        records: list[Row] = []
        for page in range(1, self.prefetch_pages + 1):
            body = self.books.call("GET", path, params={**(params or {}), "page": page,
                                                        "per_page": DEFAULT_PER_PAGE})
            records += body.get(key) or []
            if not (body.get("page_context") or {}).get("has_more_page"):
                return records, True
        return records, False

    def _contact_index(self) -> _Index:
        """The contacts this run found or created (never a listing: a miss is searched)."""
        if self._contacts is None:
            self._contacts = _Index({}, complete=False)
        return self._contacts

    def _remember_contact(self, contact: Row, key: str) -> str:
        assert self._contacts is not None
        contact_id = str(contact["contact_id"])
        if key:
            self._contacts.ids.setdefault(key, contact_id)
        self._contacts.names.add(str(contact.get("contact_name") or "").casefold())
        return self._contacts.ids.get(key, contact_id)

    def _item_index(self) -> _Index:
        if self._items is None:
            # active and inactive: Books lists active items only by default
            items, complete = self._listing("/items", "items", ALL_ITEMS)
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
            self.note_item_status(sku, item)
        return item_id


def _namesake(name: str, email: str) -> str:
    return f"{name} ({email})"[:200]
