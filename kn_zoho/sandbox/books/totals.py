"""Books' arithmetic for invoice and estimate totals (the project's mapping computes the same).

Per line: gross = round(rate * quantity); discount = the amount, or for "N%" round(gross * N
/ 100); item_total = gross - discount; tax = round(item_total * r / (100 + r)) when prices
include tax, else round(item_total * r / 100). A group's tax splits into round(tax / 2) for
its first component and the rest for the second. Totals add the rounded line figures.
Shipping is untaxed unless the document names ``shipping_charge_tax_id``; then it is taxed
like one more line at that tax, read as tax inclusive or exclusive as the document's
``is_inclusive_tax`` says (Books' replies carry ``shipping_charge_inclusive_of_tax`` and
``shipping_charge_exclusive_of_tax`` for that reason; the create-invoice docs,
https://www.zoho.com/books/api/v3/invoices/#create-an-invoice, list the shipping tax and
``adjustment`` / ``adjustment_description`` fields but do not spell the arithmetic out).
``adjustment`` is added to the total outside tax. Tax is added to the total only when prices
exclude it. All rounding is half-up to the paisa.

This deliberately does not reuse ``kn_zoho.mapping.gst``: the sandbox stands in for Zoho, so
it must compute totals on its own for tests to catch a mistake in the mapping.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from kn_zoho.sandbox.books.taxes import Tax

PAISA = Decimal("0.01")
HUNDRED = Decimal(100)
ZERO = Decimal("0.00")


def round_paisa(amount: Decimal) -> Decimal:
    return amount.quantize(PAISA, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class PricedLine:
    gross: Decimal
    discount_amount: Decimal
    item_total: Decimal
    tax: Decimal
    tax_parts: tuple[tuple[Tax, Decimal], ...]  # (component or single tax, its amount)


@dataclass(frozen=True)
class DocumentTotals:
    sub_total: Decimal
    tax_total: Decimal
    discount_total: Decimal
    total: Decimal
    taxes: tuple[tuple[str, Decimal], ...]  # tax name -> amount, in order of appearance
    shipping_tax: Decimal = ZERO


def discount_amount(gross: Decimal, discount: Any) -> Decimal:
    """The discount of a line: a number is an amount, "N%" a percentage of the gross.

    ValueError when it is not a number, is negative, or exceeds the line's gross amount.
    """
    if discount in (None, ""):
        return ZERO
    if isinstance(discount, bool) or not isinstance(discount, int | float | str):
        raise ValueError(f"discount {discount!r} is not a number")
    raw = str(discount).strip()
    try:
        if raw.endswith("%"):
            amount = round_paisa(gross * Decimal(raw[:-1].strip()) / HUNDRED)
        else:
            amount = Decimal(raw)
    except InvalidOperation:
        raise ValueError(f"discount {raw!r} is not a number") from None
    if not amount.is_finite() or amount < 0 or amount > gross:
        raise ValueError(f"discount {raw} is not between 0 and the line amount {gross}")
    return amount


def price_line(rate: Decimal, quantity: Decimal, discount: Any, tax: Tax | None,
               inclusive: bool) -> PricedLine:
    gross = round_paisa(rate * quantity)
    line_discount = discount_amount(gross, discount)
    item_total = gross - line_discount
    if tax is None:
        return PricedLine(gross, line_discount, item_total, ZERO, ())
    rate_percent = tax.tax_percentage
    divisor = HUNDRED + rate_percent if inclusive else HUNDRED
    line_tax = round_paisa(item_total * rate_percent / divisor)
    if tax.components:
        first, second = tax.components
        first_part = round_paisa(line_tax / 2)
        parts = ((first, first_part), (second, line_tax - first_part))
    else:
        parts = ((tax, line_tax),)
    return PricedLine(gross, line_discount, item_total, line_tax, parts)


def document_totals(lines: Iterable[PricedLine], shipping_charge: Decimal,
                    adjustment: Decimal, inclusive: bool,
                    shipping_tax: Tax | None = None) -> DocumentTotals:
    lines = tuple(lines)
    shipping = price_line(shipping_charge, Decimal(1), None, shipping_tax, inclusive)
    sub_total = sum((line.item_total for line in lines), ZERO)
    tax_total = sum((line.tax for line in (*lines, shipping)), ZERO)
    by_name: dict[str, Decimal] = {}
    for line in (*lines, shipping):
        for tax, amount in line.tax_parts:
            by_name[tax.tax_name] = by_name.get(tax.tax_name, ZERO) + amount
    total = sub_total + shipping_charge + adjustment + (ZERO if inclusive else tax_total)
    return DocumentTotals(
        sub_total=sub_total,
        tax_total=tax_total,
        discount_total=sum((line.discount_amount for line in lines), ZERO),
        total=total,
        taxes=tuple(by_name.items()),
        shipping_tax=shipping.tax,
    )
