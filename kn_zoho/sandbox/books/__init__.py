"""Zoho Books v3 for one India (GST) organization: contacts, items, taxes, invoices,
estimates, customer payments and inventory adjustments."""

from __future__ import annotations

from starlette.routing import Route

from kn_zoho.sandbox.books.contacts import contact_routes
from kn_zoho.sandbox.books.credit_notes import credit_note_routes
from kn_zoho.sandbox.books.estimates import estimate_routes
from kn_zoho.sandbox.books.inventory import inventory_routes
from kn_zoho.sandbox.books.invoice_create import invoice_create_routes
from kn_zoho.sandbox.books.payments import payment_routes
from kn_zoho.sandbox.books.sales import sales_routes
from kn_zoho.sandbox.books.taxes import tax_routes


def books_routes() -> list[Route]:
    return [*contact_routes(), *inventory_routes(), *tax_routes(), *invoice_create_routes(),
            *sales_routes(),
            *estimate_routes(), *payment_routes(), *credit_note_routes()]
