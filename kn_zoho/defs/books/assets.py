"""Books assets: one dynamic partition per storefront record (SKU, order number, quote number,
refund number).

Each asset builds its own flow (and so its own catalog of what Books holds): a Dagster run
materialises one asset, and the catalog is meant to live for one run.
"""

from dagster import DynamicPartitionsDefinition

from kn_zoho.defs.queue_assets import queue_asset
from kn_zoho.sync.books import (
    ContactUpdatesFlow,
    CreditNotesFlow,
    EstimatesFlow,
    InvoicesFlow,
    ItemsFlow,
)

books_item_partitions = DynamicPartitionsDefinition(name="books_items")
books_invoice_partitions = DynamicPartitionsDefinition(name="books_invoices")
books_estimate_partitions = DynamicPartitionsDefinition(name="books_estimates")
books_contact_partitions = DynamicPartitionsDefinition(name="books_contacts")

books_items = queue_asset(
    name="books_items",
    entity="books_item",
    partitions_def=books_item_partitions,
    flow=lambda clients: ItemsFlow(clients.books),
    resource_key="zoho_books",
    product="books",
    description="Storefront products as Zoho Books inventory items (partition = SKU); a "
    "deactivated product's item is marked inactive, a re-activated one's active.",
)

books_invoices = queue_asset(
    name="books_invoices",
    entity="books_invoice",
    partitions_def=books_invoice_partitions,
    flow=lambda clients: InvoicesFlow(clients.books),
    resource_key="zoho_books",
    product="books",
    description="Paid storefront orders as Zoho Books GST invoices numbered with the order "
    "number, each with its customer payment (partition = order number).",
)

books_estimates = queue_asset(
    name="books_estimates",
    entity="books_estimate",
    partitions_def=books_estimate_partitions,
    flow=lambda clients: EstimatesFlow(clients.books),
    resource_key="zoho_books",
    product="books",
    description="Approved B2B quotes as Zoho Books estimates numbered with the quote number "
    "(partition = quote number). A quote rejected or expired later marks its estimate "
    "declined or expired; an approved quote edited before acceptance updates it.",
)

books_contacts = queue_asset(
    name="books_contacts",
    entity="books_contact",
    partitions_def=books_contact_partitions,
    flow=lambda clients: ContactUpdatesFlow(clients.books),
    resource_key="zoho_books",
    product="books",
    description="Profile edits of users already linked to a Zoho Books contact: name, "
    "company, GSTIN and GST treatment, place of contact, primary person's email and phone "
    "(partition = user id). GSTIN changes apply to documents made after them.",
)


# --- refunds -----------------------------------------------------------------------------------

books_credit_note_partitions = DynamicPartitionsDefinition(name="books_credit_notes")

books_credit_notes = queue_asset(
    name="books_credit_notes",
    entity="books_credit_note",
    partitions_def=books_credit_note_partitions,
    flow=lambda clients: CreditNotesFlow(clients.books),
    resource_key="zoho_books",
    product="books",
    description="Storefront refunds and paid cancellations as Zoho Books GST credit notes "
    "against the order's invoice, numbered with the refund number, each with its refund "
    "(reference = the gateway's refund id); metadata: totals and the CGST/SGST/IGST split "
    "(partition = refund number).",
)
