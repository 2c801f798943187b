"""Books locations (warehouses): per-location stock of inventory items.

An organization may enable Locations (Settings > Locations > Enable Locations; the
organization's existing stock becomes its primary location's,
https://www.zoho.com/es-mx/books/help/locations/basic-functions.md). Each inventory item then
carries ``locations[]`` with ``location_id``, ``location_name``, ``is_primary``,
``location_stock_on_hand``, ``location_available_stock`` and
``location_actual_available_stock`` (Zoho Inventory's Items API,
https://www.zoho.com/inventory/api/v1/items/), and every stock movement (a sent or voided
invoice, an adjustment line, a credit note) lands in one location and in the organization's
totals. A transaction without ``location_id`` uses the primary location, as Books' UI does.

Where the docs are silent the stricter reading is served: a ``location_id`` sent to an
organization without locations, or naming no location of it, is refused
("Invalid value passed for location_id"); the item list does not carry ``locations[]`` (only
the item details replies, ``GET /items/{id}`` and ``GET /itemdetails``, do).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from kn_zoho.sandbox.books.common import invalid, money
from kn_zoho.sandbox.state import SandboxState

LOCATION_FIELDS = ("location_stock_on_hand", "location_available_stock",
                   "location_actual_available_stock")


def locations(state: SandboxState) -> dict[str, dict[str, Any]]:
    """The organization's locations by id (empty: Locations not enabled)."""
    return state.data["books"].setdefault("locations", {})


def primary_location(state: SandboxState) -> str | None:
    return next((loc["location_id"] for loc in locations(state).values() if loc["is_primary"]),
                None)


def resolve_location(state: SandboxState, value: Any, field: str = "location_id") -> str | None:
    """The location a transaction moves stock at: the given one (checked), else the primary
    one, else None (no locations). Hold the state lock."""
    if value is None or value == "":
        return primary_location(state)
    if not isinstance(value, str | int) or str(value) not in locations(state):
        raise invalid(field)
    return str(value)


def _entry(item: dict[str, Any], location: dict[str, Any]) -> dict[str, Any]:
    entries = item.setdefault("locations", [])
    for entry in entries:
        if entry["location_id"] == location["location_id"]:
            return entry
    entry = {"location_id": location["location_id"], "location_name": location["location_name"],
             "status": "active", "is_primary": location["is_primary"],
             **dict.fromkeys(LOCATION_FIELDS, 0.0)}
    entries.append(entry)
    return entry


def move_location_stock(state: SandboxState, item: dict[str, Any], location_id: str | None,
                        delta: Decimal) -> None:
    """Add ``delta`` to the item's stock at ``location_id`` (None: no locations)."""
    if location_id is None:
        return
    entry = _entry(item, locations(state)[location_id])
    for field in LOCATION_FIELDS:
        entry[field] = money(Decimal(str(entry[field])) + delta)


def new_location(state: SandboxState, name: Any) -> dict[str, Any]:
    """Create a location (the first one enables Locations and takes the organization's
    stock as its primary location); every inventory item gets an entry for it."""
    if not isinstance(name, str) or not name.strip() or len(name) > 100:
        raise invalid("location_name")
    known = locations(state)
    if any(loc["location_name"].casefold() == name.strip().casefold() for loc in known.values()):
        raise invalid("location_name")
    location = {"location_id": state.new_id("books"), "location_name": name.strip(),
                "type": "warehouse", "status": "active", "is_primary": not known}
    known[location["location_id"]] = location
    for item in state.collection("books", "items").values():
        if item.get("item_type") == "inventory":
            entry = _entry(item, location)
            if location["is_primary"]:
                for field, total in zip(LOCATION_FIELDS, ("stock_on_hand", "available_stock",
                                                          "actual_available_stock"), strict=True):
                    entry[field] = item[total]
    return location


def ensure_entries(state: SandboxState, item: dict[str, Any]) -> None:
    """An inventory item lists every location of the organization (zero where none)."""
    for location in locations(state).values():
        _entry(item, location)
