"""Approved B2B quotes -> Zoho Books v3 estimates (the lines and GST rules are the invoices',
in ``books``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from kn_zoho.mapping import totals as t
from kn_zoho.mapping import validation as v
from kn_zoho.mapping.books import (
    NOTES_MAX,
    Row,
    TaxTable,
    _gst_treatment,
    _line_items,
    _lines,
)
from kn_zoho.mapping.errors import MappingError
from kn_zoho.mapping.gst import supply_type


def estimate_from_quote(
    quote: Row,
    lines: Sequence[Row],
    *,
    customer_id: str,
    item_ids: Mapping[str, str],
    taxes: TaxTable,
    seller_state: str,
    user: Row | None = None,
) -> dict[str, Any]:
    """A Books estimate for an approved B2B quote.

    The place of supply is the quote's shipping state, else the user's shipping or billing
    state. The schema does not say whether quote prices include GST, so the estimate takes
    whichever reading reproduces the quote's grand_total, and is refused if neither does.
    """
    record = f"quote {quote['quote_number']}"
    # Books documents no rule for estimate numbers; the GST serial rule is the stricter one,
    # and keeps the number valid should the estimate become an invoice.
    v.document_number(quote.get("quote_number"), record, "quote_number")
    v.currency(quote.get("currency"), record)
    place = v.state(quote.get("shipping_state"), record, "shipping_state")
    if place is None and user is not None:
        place = v.state(user.get("shipping_state"), record, "shipping_state") or v.state(
            user.get("billing_state"), record, "billing_state"
        )
    if place is None:
        raise MappingError(record, "shipping_state", "no ship-to state on the quote or the user")
    supply = supply_type(seller_state, place.code)
    checked = _lines(lines, record, "b2b_quote_items")
    grand_total = v.money(quote.get("grand_total"), record, "grand_total")
    inclusive = t.inclusive_reading(record, [line.tax_line for line in checked], grand_total,
                                    supply)
    payload: dict[str, Any] = {
        "customer_id": customer_id,
        "reference_number": quote["quote_number"],
        "place_of_supply": place.code,
        "is_inclusive_tax": inclusive,
        "discount_type": "item_level",
        "line_items": _line_items(checked, item_ids, taxes, supply),
    }
    if quote.get("approved_at"):
        payload["date"] = v.ist_date(quote["approved_at"], record, "approved_at")
    if quote.get("valid_until"):
        payload["expiry_date"] = v.calendar_date(quote["valid_until"], record, "valid_until")
    if v.text(quote.get("notes")):
        payload["notes"] = v.truncate(str(v.text(quote.get("notes"))), NOTES_MAX)
    if user is not None:
        payload.update(_gst_treatment(user, record))
    return payload
