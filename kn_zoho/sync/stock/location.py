"""Per-location stock: the one Books location the storefront sells from.

``KN_ZOHO_BOOKS_LOCATION_ID`` unset: Books' organization-wide ``stock_on_hand`` is the
storefront's stock, and adjustments and invoices name no location (an organization without
Locations). Set: the pull reads that location's ``location_stock_on_hand``, the push's
adjustment lines carry it (``line_items[].location_id``,
https://www.zoho.com/inventory/api/v1/inventoryadjustments/) and invoices carry it
(``location_id``, https://www.zoho.com/books/api/v3/invoices/) so sales move that location's
stock; movements at other locations never reach the storefront.

Per-location stock is documented under the item's ``locations[]``
(https://www.zoho.com/inventory/api/v1/items/); the docs do not say the item list carries it,
so (the stricter reading) it is read from ``GET /itemdetails?item_ids=`` in batches of
ITEM_DETAILS_BATCH: a pull costs ceil(items/200) + ceil(inventory items/25) calls.
"""

from __future__ import annotations

import os
from decimal import Decimal
from typing import Any

from kn_zoho.zoho.books import ITEM_DETAILS_BATCH, BooksClient

LOCATION_ENV = "KN_ZOHO_BOOKS_LOCATION_ID"


def books_location_id() -> str | None:
    """``KN_ZOHO_BOOKS_LOCATION_ID`` (None: organization-wide stock). Books ids are digits:
    anything else is a ValueError naming the variable, raised before any call."""
    value = os.environ.get(LOCATION_ENV, "").strip()
    if not value:
        return None
    if not value.isdigit():
        raise ValueError(f"{LOCATION_ENV}={value!r}: a Zoho Books location_id is a number "
                         "(Books: Settings > Locations); unset it for "
                         "organization-wide stock")
    return value


def add_location_stock(books: BooksClient, items: dict[str, dict[str, Any]],
                       location_id: str) -> None:
    """Give each inventory item its ``locations[]`` from the item details (one call per
    ITEM_DETAILS_BATCH items). A ValueError if no item knows the location: a mis-set
    variable stops the pull before the storefront is touched."""
    ids = [item_id for item_id, item in items.items() if item.get("item_type") == "inventory"]
    for start in range(0, len(ids), ITEM_DETAILS_BATCH):
        for detail in books.get_item_details(ids[start:start + ITEM_DETAILS_BATCH]):
            item_id = str(detail.get("item_id"))
            if item_id in items:
                items[item_id] = {**items[item_id], "locations": detail.get("locations") or []}
    if ids and not any(_entry(items[item_id], location_id) for item_id in ids):
        raise ValueError(f"{LOCATION_ENV}={location_id!r}: no Books item has stock at this "
                         "location (not a location of this organization, or Locations are "
                         "not enabled)")


def _entry(item: dict[str, Any], location_id: str) -> dict[str, Any] | None:
    return next((entry for entry in item.get("locations") or []
                 if str(entry.get("location_id")) == location_id), None)


def location_units(item: dict[str, Any], location_id: str) -> Decimal | None:
    """The item's ``location_stock_on_hand`` at the location (None: not listed there)."""
    entry = _entry(item, location_id)
    if entry is None or entry.get("location_stock_on_hand") is None:
        return None
    return Decimal(str(entry["location_stock_on_hand"]))
