"""Zoho Books v3 for one organization: contacts, items, taxes, invoices, payments, estimates,
inventory adjustments.

Zoho has no idempotency keys, so every create has a ``find_*`` partner on a natural key
(email, SKU, reference or invoice number) for the sync code to look up before re-creating.
The finders pass only filters Zoho documents and then match exactly on this side, over every
page: a filter Zoho ignores or matches loosely can cost speed, never a wrong answer.

Reference pages (Books v3): https://www.zoho.com/books/api/v3/contacts/ ,
https://www.zoho.com/books/api/v3/items/ , https://www.zoho.com/books/api/v3/invoices/ ,
https://www.zoho.com/books/api/v3/customer-payments/ ; Zoho Inventory (adjustments):
https://www.zoho.com/inventory/api/v1/inventoryadjustments/ .
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from kn_zoho.zoho.errors import ZohoNotFoundError
from kn_zoho.zoho.http import ZohoHttp
from kn_zoho.zoho.settings_cache import SettingsCache

BOOKS_BASE = "/books/v3"
DEFAULT_PER_PAGE = 200
# GET /items lists active items only unless filter_by says otherwise (documented values
# Status.All, Status.Active, Status.Inactive; https://www.zoho.com/books/api/v3/items/).
ALL_ITEMS = {"filter_by": "Status.All"}
# ids per GET /itemdetails call: no Zoho page states a limit, so a small batch (the stricter
# choice); the sandbox refuses more.
ITEM_DETAILS_BATCH = 25

# Stock adjustments: the one place their path lives. Books v3 documents no adjustments
# endpoint; Zoho Inventory does, for the same organization
# (https://www.zoho.com/inventory/api/v1/inventoryadjustments/, scopes
# ZohoInventory.inventoryadjustments.CREATE / .READ). Public integrations also call the Books
# path, undocumented (scope ZohoBooks.fullaccess.all or a Books inventory scope).
INVENTORY_ADJUSTMENTS_ENV = "KN_ZOHO_INVENTORY_ADJUSTMENTS_API"
INVENTORY_ADJUSTMENTS_PATH = {
    "inventory": "/inventory/v1/inventoryadjustments",  # documented (default)
    "books": BOOKS_BASE + "/inventoryadjustments",      # undocumented
}


def inventory_adjustments_api(value: str | None = None) -> str:
    """Which adjustments endpoint to use (``KN_ZOHO_INVENTORY_ADJUSTMENTS_API``); a clear
    ValueError for anything but ``inventory`` (default) or ``books``."""
    chosen = (os.environ.get(INVENTORY_ADJUSTMENTS_ENV, "") if value is None else value)
    chosen = chosen.strip().lower() or "inventory"
    if chosen not in INVENTORY_ADJUSTMENTS_PATH:
        raise ValueError(f"{INVENTORY_ADJUSTMENTS_ENV}={chosen!r}: expected one of "
                         f"{', '.join(sorted(INVENTORY_ADJUSTMENTS_PATH))}")
    return chosen


class BooksClient:
    """Zoho Books calls for ``organization_id``; every call carries it."""

    def __init__(self, http: ZohoHttp, organization_id: str,
                 adjustments_api: str | None = None, *,
                 settings_cache: SettingsCache | None = None) -> None:
        self.http = http
        self.organization_id = organization_id
        self.settings_cache = settings_cache  # shared across runs for rarely changing settings
        self.adjustments_path = INVENTORY_ADJUSTMENTS_PATH[
            inventory_adjustments_api(adjustments_api)]

    # -- plumbing ---------------------------------------------------------------------------

    def call(
        self,
        method: str,
        path: str,
        *,
        path_params: Mapping[str, object] | None = None,
        params: Mapping[str, object] | None = None,
        json: Any = None,
        idempotent: bool | None = None,
    ) -> dict[str, Any]:
        """One Books call; ``path`` is relative to ``/books/v3``, e.g. ``/invoices``, unless
        it already names its API (``/inventory/v1/...``, for the same organization).
        ``idempotent`` overrides the method's own retry semantics (e.g. a status change)."""
        return self.http.request(
            method,
            path if path.startswith(("/books/", "/inventory/")) else BOOKS_BASE + path,
            path_params=path_params,
            params={"organization_id": self.organization_id, **(params or {})},
            json=json,
            idempotent=idempotent,
        )

    def paged(
        self,
        path: str,
        key: str,
        params: Mapping[str, object] | None = None,
        *,
        per_page: int = DEFAULT_PER_PAGE,
    ) -> Iterator[dict[str, Any]]:
        """Every record of a list endpoint, following ``page_context.has_more_page``."""
        page = 1
        while True:
            body = self.call("GET", path, params={**(params or {}), "page": page,
                                                  "per_page": per_page})
            yield from body.get(key) or []
            if not (body.get("page_context") or {}).get("has_more_page"):
                return
            page += 1

    def _get(self, path: str, key: str, record_id: str) -> dict[str, Any] | None:
        try:
            body = self.call("GET", path, path_params={"id": record_id})
        except ZohoNotFoundError:
            return None
        return body.get(key)

    def _find(
        self, path: str, key: str, params: Mapping[str, object],
        matches: Callable[[dict[str, Any]], bool],
    ) -> dict[str, Any] | None:
        return next((record for record in self.paged(path, key, params) if matches(record)), None)

    def _create(self, path: str, key: str, payload: Mapping[str, Any],
                params: Mapping[str, object] | None = None) -> dict[str, Any]:
        return self.call("POST", path, params=params, json=dict(payload))[key]

    # -- contacts -----------------------------------------------------------------------------

    def create_contact(self, payload: Mapping[str, Any]) -> dict[str, Any]:
        return self._create("/contacts", "contact", payload)

    def get_contact(self, contact_id: str) -> dict[str, Any] | None:
        return self._get("/contacts/{id}", "contact", contact_id)

    def update_contact(self, contact_id: str, payload: Mapping[str, Any]) -> dict[str, Any]:
        """PUT /contacts/{id} (documented "Update a Contact",
        https://www.zoho.com/books/api/v3/contacts/). A ``contact_persons`` list, when given,
        is the contact's whole list: persons keep their ids by carrying ``contact_person_id``."""
        return self.call("PUT", "/contacts/{id}", path_params={"id": contact_id},
                         json=dict(payload))["contact"]

    def find_contact_by_email(self, email: str) -> dict[str, Any] | None:
        """The contact whose (primary contact person's) email is ``email``, exactly.

        ``email`` is a documented List Contacts filter (variants ``email_startswith`` and
        ``email_contains``); the match is checked here whatever Zoho returns.
        """
        wanted = email.strip().casefold()
        return self._find(
            "/contacts", "contacts", {"email": email},
            lambda contact: str(contact.get("email") or "").strip().casefold() == wanted,
        )

    # -- items --------------------------------------------------------------------------------

    def create_item(self, payload: Mapping[str, Any]) -> dict[str, Any]:
        return self._create("/items", "item", payload)

    def update_item(self, item_id: str, payload: Mapping[str, Any]) -> dict[str, Any]:
        return self.call("PUT", "/items/{id}", path_params={"id": item_id},
                         json=dict(payload))["item"]

    def get_item(self, item_id: str) -> dict[str, Any] | None:
        return self._get("/items/{id}", "item", item_id)

    def find_item_by_sku(self, sku: str) -> dict[str, Any] | None:
        """The item with this SKU, active or not (Books keeps SKUs unique, case-insensitively).

        List Items documents no ``sku`` filter (an unknown parameter filters nothing), so this
        walks the catalog with ``filter_by=Status.All`` and matches exactly here: ceil(n/200)
        calls. The sync's catalog lists once per run and calls this only on a miss.
        """
        wanted = sku.strip().casefold()
        return self._find("/items", "items", ALL_ITEMS,
                          lambda item: str(item.get("sku") or "").strip().casefold() == wanted)

    def list_items(self, **filters: object) -> Iterator[dict[str, Any]]:
        """Every item (all pages), e.g. for stock snapshots; active ones only unless
        ``filter_by="Status.All"`` is given, as Books lists them."""
        return self.paged("/items", "items", filters)

    def get_item_details(self, item_ids: Sequence[str]) -> list[dict[str, Any]]:
        """Several items' full details in one call (``GET /itemdetails?item_ids=a,b,c``):
        unlike the list, they carry ``locations[]`` with per-location stock. At most
        ITEM_DETAILS_BATCH ids a call (Zoho states no limit: the stricter choice)."""
        if len(item_ids) > ITEM_DETAILS_BATCH:
            raise ValueError(f"at most {ITEM_DETAILS_BATCH} item ids per itemdetails call")
        body = self.call("GET", "/itemdetails", params={"item_ids": ",".join(item_ids)})
        return list(body.get("items") or [])

    def mark_item_active(self, item_id: str) -> None:
        """POST /items/{id}/active (documented "Mark as active")."""
        self.call("POST", "/items/{id}/active", path_params={"id": item_id})

    def mark_item_inactive(self, item_id: str) -> None:
        """POST /items/{id}/inactive (documented "Mark as inactive")."""
        self.call("POST", "/items/{id}/inactive", path_params={"id": item_id})

    # -- taxes --------------------------------------------------------------------------------

    def list_taxes(self, *, fresh: bool = False) -> list[dict[str, Any]]:
        """Taxes and tax groups (GST18 = CGST+SGST group, IGST18 = single tax, ...), from the
        shared settings cache unless ``fresh`` (or no cache is configured)."""
        def fetch() -> list[dict[str, Any]]:
            return list(self.paged("/settings/taxes", "taxes"))

        if fresh or self.settings_cache is None:
            return fetch()
        return self.settings_cache.get(f"books:{self.organization_id}:taxes", fetch)

    # -- invoices -----------------------------------------------------------------------------

    def create_invoice(
        self, payload: Mapping[str, Any], *, ignore_auto_number_generation: bool,
        send: bool = False,
    ) -> dict[str, Any]:
        """Create an invoice; with ``ignore_auto_number_generation`` the payload's
        ``invoice_number`` is used, which Zoho keeps unique (a natural duplicate guard).
        ``send``: Books emails it to the customer's contact persons and it is created sent,
        moving stock (documented query parameter ``send``, "Create an invoice")."""
        params = {"ignore_auto_number_generation": "true"} if ignore_auto_number_generation else {}
        if send:
            params["send"] = "true"
        return self._create("/invoices", "invoice", payload, params)

    def get_invoice(self, invoice_id: str) -> dict[str, Any] | None:
        return self._get("/invoices/{id}", "invoice", invoice_id)

    def mark_invoice_sent(self, invoice_id: str) -> None:
        """POST /invoices/{id}/status/sent: a draft becomes a posted sale, no email is sent
        (documented "Mark an invoice as sent"); only then does Books move its stock."""
        self.call("POST", "/invoices/{id}/status/sent", path_params={"id": invoice_id},
                  idempotent=True)

    def void_invoice(self, invoice_id: str) -> None:
        """POST /invoices/{id}/status/void (documented "Void an invoice")."""
        self.call("POST", "/invoices/{id}/status/void", path_params={"id": invoice_id},
                  idempotent=True)

    def find_invoice_by_reference_number(self, reference_number: str) -> dict[str, Any] | None:
        return self._find(
            "/invoices", "invoices", {"reference_number": reference_number},
            lambda invoice: invoice.get("reference_number") == reference_number,
        )

    def find_invoice_by_invoice_number(self, invoice_number: str) -> dict[str, Any] | None:
        return self._find(
            "/invoices", "invoices", {"invoice_number": invoice_number},
            lambda invoice: invoice.get("invoice_number") == invoice_number,
        )

    # -- customer payments ---------------------------------------------------------------------

    def create_customer_payment(self, payload: Mapping[str, Any]) -> dict[str, Any]:
        return self._create("/customerpayments", "payment", payload)

    def find_customer_payment_by_reference_number(
        self, reference_number: str
    ) -> dict[str, Any] | None:
        return self._find(
            "/customerpayments", "customerpayments", {"reference_number": reference_number},
            lambda payment: payment.get("reference_number") == reference_number,
        )

    # -- credit notes (refunds) ------------------------------------------------------------------

    def create_credit_note(self, payload: Mapping[str, Any], *, invoice_id: str) -> dict[str, Any]:
        """A credit note against ``invoice_id`` under the payload's own ``creditnote_number``
        (``ignore_auto_number_generation``: Books keeps it unique, the duplicate guard)."""
        return self._create("/creditnotes", "creditnote", payload,
                            {"invoice_id": invoice_id, "ignore_auto_number_generation": "true"})

    def get_credit_note(self, creditnote_id: str) -> dict[str, Any] | None:
        return self._get("/creditnotes/{id}", "creditnote", creditnote_id)

    def find_credit_note_by_number(self, creditnote_number: str) -> dict[str, Any] | None:
        return self._find(
            "/creditnotes", "creditnotes", {"creditnote_number": creditnote_number},
            lambda note: note.get("creditnote_number") == creditnote_number,
        )

    def open_credit_note(self, creditnote_id: str) -> None:
        """POST /creditnotes/{id}/status/open (documented "Convert to Open")."""
        self.call("POST", "/creditnotes/{id}/status/open", path_params={"id": creditnote_id},
                  idempotent=True)

    def refund_credit_note(self, creditnote_id: str, payload: Mapping[str, Any]
                           ) -> dict[str, Any]:
        """POST /creditnotes/{id}/refunds (documented "Refund credit note")."""
        return self.call("POST", "/creditnotes/{id}/refunds", path_params={"id": creditnote_id},
                         json=dict(payload))["creditnote_refund"]

    def find_credit_note_refund(self, creditnote_id: str, reference_number: str
                                ) -> dict[str, Any] | None:
        """The credit note's refund carrying ``reference_number`` ("List refunds of a credit
        note"; matched here, as Books documents no filter on that list)."""
        body = self.call("GET", "/creditnotes/{id}/refunds", path_params={"id": creditnote_id},
                         params={"per_page": DEFAULT_PER_PAGE})
        return next((refund for refund in body.get("creditnote_refunds") or []
                     if refund.get("reference_number") == reference_number), None)

    def list_bank_accounts(self) -> list[dict[str, Any]]:
        """GET /bankaccounts (https://www.zoho.com/books/api/v3/bank-accounts/)."""
        return list(self.paged("/bankaccounts", "bankaccounts"))

    # -- estimates ----------------------------------------------------------------------------

    def create_estimate(
        self, payload: Mapping[str, Any], *, ignore_auto_number_generation: bool
    ) -> dict[str, Any]:
        """Create an estimate; like invoices, our own ``estimate_number`` is kept unique."""
        params = {"ignore_auto_number_generation": "true"} if ignore_auto_number_generation else {}
        return self._create("/estimates", "estimate", payload, params)

    def get_estimate(self, estimate_id: str) -> dict[str, Any] | None:
        return self._get("/estimates/{id}", "estimate", estimate_id)

    def update_estimate(self, estimate_id: str, payload: Mapping[str, Any]) -> dict[str, Any]:
        """PUT /estimates/{id} (documented "Update an Estimate",
        https://www.zoho.com/books/api/v3/estimates/)."""
        return self.call("PUT", "/estimates/{id}", path_params={"id": estimate_id},
                         json=dict(payload))["estimate"]

    def mark_estimate(self, estimate_id: str, status: str) -> None:
        """POST /estimates/{id}/status/{sent|accepted|declined} (documented "Mark an estimate
        as sent / accepted / declined"); Books has no call that marks an estimate expired."""
        if status not in ("sent", "accepted", "declined"):
            raise ValueError(f"Zoho Books cannot mark an estimate {status!r}")
        self.call("POST", f"/estimates/{{id}}/status/{status}", path_params={"id": estimate_id},
                  idempotent=True)

    def find_estimate_by_estimate_number(self, estimate_number: str) -> dict[str, Any] | None:
        return self._find(
            "/estimates", "estimates", {"estimate_number": estimate_number},
            lambda estimate: estimate.get("estimate_number") == estimate_number,
        )

    def find_estimate_by_reference_number(self, reference_number: str) -> dict[str, Any] | None:
        return self._find(
            "/estimates", "estimates", {"reference_number": reference_number},
            lambda estimate: estimate.get("reference_number") == reference_number,
        )

    # -- inventory adjustments ----------------------------------------------------------------

    def create_inventory_adjustment(self, payload: Mapping[str, Any]) -> dict[str, Any]:
        """Adjust stock; never retried after a timeout or 5xx (it would count twice)."""
        return self._create(self.adjustments_path, "inventory_adjustment", payload)

    def list_inventory_adjustments(self, **filters: object) -> Iterator[dict[str, Any]]:
        return self.paged(self.adjustments_path, "inventory_adjustments", filters)

    def find_inventory_adjustment_by_reference_number(
        self, reference_number: str
    ) -> dict[str, Any] | None:
        """The adjustment carrying our reference. Zoho documents no list filter for it (only
        page and per_page), so every page is read and the reference matched exactly here."""
        return self._find(self.adjustments_path, "inventory_adjustments", {},
                          lambda adjustment: adjustment.get("reference_number")
                          == reference_number)

    # -- organization (read only, for `kn-zoho doctor`) -------------------------------------

    def list_organizations(self) -> list[dict[str, Any]]:
        """The organizations the token can see (``GET /organizations``, which needs no
        organization_id: it is sent anyway so the call counts against this organization's
        rate limit). https://www.zoho.com/books/api/v3/introduction/#organization-id"""
        body = self.call("GET", "/organizations")
        return list(body.get("organizations") or [])

    def get_organization(self) -> dict[str, Any]:
        """This organization's profile, with its address (``GET /organizations/{id}``)."""
        body = self.call("GET", "/organizations/{organization_id}",
                         path_params={"organization_id": self.organization_id})
        return dict(body.get("organization") or {})
