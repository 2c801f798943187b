"""Does the total Zoho Books computes reproduce the storefront's? (invoices and estimates)

Books computes a document's total from its lines (see ``gst``); the storefront stored its own.
They must agree, or the document would record a sale the customer did not make. An invoice
may carry a small rounding difference as Books' documented ``adjustment`` with an
``adjustment_description`` (https://www.zoho.com/books/api/v3/invoices/#create-an-invoice),
shown on the invoice; anything larger is refused with both figures.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from decimal import Decimal, InvalidOperation

from kn_zoho.mapping.errors import MappingError
from kn_zoho.mapping.gst import SupplyType, TaxLine, Totals, document_totals

# A storefront total that differs from Books' by rounding (a percentage discount rounded
# per order, a total rounded to the rupee) is carried as a visible adjustment up to this:
# half a rupee, what rounding a total to the nearest rupee can move it, as Indian invoices
# customarily do ("round off"). Any larger difference is a pricing error, never papered over.
TOLERANCE_ENV = "KN_ZOHO_BOOKS_TOTAL_TOLERANCE"
DEFAULT_TOLERANCE = Decimal("0.50")
ADJUSTMENT_DESCRIPTION = "Rounding to the storefront order total"


def total_tolerance(environ: Mapping[str, str] | None = None) -> Decimal:
    """Largest difference to the storefront's grand total carried as an invoice adjustment
    (``KN_ZOHO_BOOKS_TOTAL_TOLERANCE``, rupees, default 0.50; 0 refuses every difference)."""
    raw = (os.environ if environ is None else environ).get(TOLERANCE_ENV, "").strip()
    if not raw:
        return DEFAULT_TOLERANCE
    try:
        value = Decimal(raw)
    except InvalidOperation:
        raise ValueError(f"{TOLERANCE_ENV} must be an amount in rupees, got '{raw}'") from None
    if not value.is_finite() or value < 0 or value != value.quantize(Decimal("0.01")):
        raise ValueError(f"{TOLERANCE_ENV} must be an amount in rupees, got '{raw}'")
    return value


def adjustment(record: str, grand_total: Decimal, totals: Totals, tolerance: Decimal
               ) -> Decimal:
    """What to add to Books' total to reach the storefront's, within ``tolerance``."""
    difference = grand_total - totals.total
    if abs(difference) <= tolerance:
        return difference
    raise MappingError(
        record, "grand_total",
        f"storefront grand total {grand_total} differs by {difference} from {totals.total} "
        f"that Zoho Books computes from the lines (sub total {totals.sub_total}, shipping "
        f"{totals.shipping_charge}, GST {totals.tax_total} included), more than the "
        f"{tolerance} carried as a rounding adjustment",
        "Correct the order's lines, shipping_charge or grand_total in the storefront (or "
        f"raise {TOLERANCE_ENV} if such differences are expected); saving the change syncs it "
        "again")


def inclusive_reading(
    record: str, lines: Sequence[TaxLine], grand_total: Decimal, supply: SupplyType
) -> bool:
    """Whether the quote's prices include GST: the reading whose total is its grand total."""
    computed = {}
    for inclusive in (True, False):
        totals = document_totals(lines, 0, inclusive=inclusive, supply=supply)
        if totals.total == grand_total:
            return inclusive
        computed[inclusive] = totals.total
    raise MappingError(
        record,
        "grand_total",
        f"storefront grand total {grand_total} differs from both totals Zoho Books computes "
        f"from the lines: {computed[True]} with GST included in prices, {computed[False]} "
        "with GST added",
    )
