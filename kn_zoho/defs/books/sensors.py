"""Books sensors: react to new and due records in the queue."""

from kn_zoho.defs.books.assets import (
    books_contact_partitions,
    books_contacts,
    books_credit_note_partitions,
    books_credit_notes,
    books_estimate_partitions,
    books_estimates,
    books_invoice_partitions,
    books_invoices,
    books_item_partitions,
    books_items,
)
from kn_zoho.defs.queue_sensor import queue_sensor

books_items_sensor = queue_sensor(asset_def=books_items, entity="books_item",
                                  partitions_def=books_item_partitions, product="books")
books_invoices_sensor = queue_sensor(asset_def=books_invoices, entity="books_invoice",
                                     partitions_def=books_invoice_partitions, product="books")
books_estimates_sensor = queue_sensor(asset_def=books_estimates, entity="books_estimate",
                                      partitions_def=books_estimate_partitions, product="books")
books_credit_notes_sensor = queue_sensor(asset_def=books_credit_notes,
                                         entity="books_credit_note",
                                         partitions_def=books_credit_note_partitions,
                                         product="books")
books_contacts_sensor = queue_sensor(asset_def=books_contacts, entity="books_contact",
                                     partitions_def=books_contact_partitions, product="books")
