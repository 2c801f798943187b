"""Storefront products, paid orders and approved quotes -> Zoho Books items, invoices with
their customer payments, and estimates; Books customers are created on the way. After the
first sync, edits follow: profile edits update the contact (``contacts``), a product's
activity its item's status (``items``), a quote's edits, rejection or expiry its estimate
(``estimates``).

Exactly once without idempotency keys
    Every Books document carries a number Zoho keeps unique per organization, and we choose it:
    ``invoice_number`` = the order number (``KN-2026-000001``: at most 16 characters, as GST
    requires of an invoice serial) and ``estimate_number`` = the quote number, both sent with
    ``ignore_auto_number_generation=true``. A second create of the same document, whether from
    a retry after a lost reply, a run killed before it recorded the reply, or two overlapping
    runs, is refused by Zoho itself, and we then adopt the stored document (looked up by
    number) instead; the code Books answers with is not documented, so any permanent refusal
    of a create is followed by that lookup. A reference number would not do: Books does not
    keep those unique, so two racing creates would both succeed. A new invoice is a draft
    (no posted sale, no stock moved): it is marked sent, without email, before its payment is
    recorded, and an adopted draft likewise. The payment is keyed by the gateway's payment id in
    ``reference_number``; it is created only while the invoice still has a balance, and Zoho
    refuses a second one beyond the balance, after which the stored payment is adopted.
    Customers and items have natural keys too: Books keeps contact names and item SKUs unique,
    and we look contacts up by email and items by SKU before creating them.

Refunds
    Each storefront refund becomes a credit note against the order's invoice, numbered with the
    refund's number, and the refund recorded against it keyed by the gateway refund id (see
    ``credit_notes``); an order refunded in full before it was invoiced is never invoiced.

Call budget
    The normal path costs 3 calls per order (invoice, mark sent, payment), 2 per new customer
    (a search by the documented ``email`` filter, then the create), 1 per new item and 1 per
    estimate: a new customer's paid order costs 5 calls whatever the organization's size.
    Customers are never listed: a listing's cost grows with the organization (10 pages at
    2,000 contacts, paid by every run). Items are listed once per run by
    :class:`BooksCatalog` (``ceil(n / 200)`` calls, only when some product has no Books id
    yet; Books documents no SKU filter) and past ``prefetch_pages`` pages a miss is searched.
    Each customer and item pays its lookup once: its Books id is stored on
    ``users.zoho_books_id`` / ``products.zoho_books_id``.
"""

from kn_zoho.sync.books.catalog import BooksCatalog
from kn_zoho.sync.books.common import (
    EMAIL_INVOICES_ENV,
    ORGANIZATION_STATE_ENV,
    PAYMENT_MODE_ENV,
    Refused,
    books_api_calls,
    create_or_adopt,
    organization_state,
    payment_mode,
    refused_for_good,
)
from kn_zoho.sync.books.contacts import ContactUpdatesFlow
from kn_zoho.sync.books.credit_notes import CreditNotesFlow
from kn_zoho.sync.books.estimates import EstimatesFlow
from kn_zoho.sync.books.invoices import InvoicesFlow
from kn_zoho.sync.books.items import ItemsFlow

__all__ = [
    "EMAIL_INVOICES_ENV",
    "ORGANIZATION_STATE_ENV",
    "PAYMENT_MODE_ENV",
    "BooksCatalog",
    "ContactUpdatesFlow",
    "CreditNotesFlow",
    "EstimatesFlow",
    "InvoicesFlow",
    "ItemsFlow",
    "Refused",
    "books_api_calls",
    "create_or_adopt",
    "organization_state",
    "payment_mode",
    "refused_for_good",
]
