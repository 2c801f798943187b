"""GST arithmetic for invoices and estimates, exactly as Zoho Books (and the sandbox) do it.

Every figure is a Decimal rounded half-up to the paisa at the step the rule names, so the totals
computed here equal the ones Zoho computes from the same line items. That lets the mapping refuse
a storefront order whose grand total Zoho would not reproduce, before anything is sent.

The rule, per line: gross = round(rate * quantity); discount = the amount, or for "N%"
round(gross * N / 100); item_total = gross - discount; line tax = round(item_total * r / (100 + r))
when prices include tax, else round(item_total * r / 100). Intra-state supply splits the line tax
into CGST = round(tax / 2) and SGST (UTGST in union territories) = tax - CGST; inter-state supply
is all IGST. Totals add the rounded line figures.

Shipping: delivery charged together with the goods is part of a composite supply, taxed at the
rate of the principal supply (CGST Act s.8(a)). The principal supply of an order mixing rates
is taken to be its line of the highest taxable value (item total after discount; of equal
ones, the higher rate): that line is what the customer is buying, the rest comes with it.
Books taxes the shipping charge with ``shipping_charge_tax_id`` like one more line, read as
tax inclusive when the document is (storefront shipping, like its prices, includes GST), so
the shipping's GST is extracted from it and the total does not change. An ``adjustment``
(rounding to the storefront's grand total) is added outside tax.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Literal, NamedTuple

from kn_zoho.mapping.states import state_for_code

SupplyType = Literal["intra", "inter"]
Number = Decimal | int | str

PAISA = Decimal("0.01")
HUNDRED = Decimal(100)
ZERO = Decimal("0.00")


def round_paisa(amount: Decimal) -> Decimal:
    """Round half-up to two decimals, the way Zoho Books rounds line figures."""
    return amount.quantize(PAISA, rounding=ROUND_HALF_UP)


def supply_type(seller_state: str, place_of_supply: str, *, sez: bool = False) -> SupplyType:
    """'intra' when the goods stay in the seller's state, else 'inter' (always for an SEZ)."""
    seller = state_for_code(seller_state)
    place = state_for_code(place_of_supply)
    if seller is None:
        raise ValueError(f"seller state {seller_state!r} is not an Indian state code")
    if place is None:
        raise ValueError(f"place of supply {place_of_supply!r} is not an Indian state code")
    return "inter" if sez or seller.code != place.code else "intra"


class TaxLine(NamedTuple):
    """One document line as Zoho sees it: unit rate, quantity, GST %, discount (amount or 'N%')."""

    rate: Number
    quantity: Number
    tax_percentage: Number
    discount: Number = 0


@dataclass(frozen=True)
class LineAmounts:
    gross: Decimal
    discount: Decimal
    item_total: Decimal
    tax: Decimal
    cgst: Decimal
    sgst: Decimal  # SGST, or UTGST in a union territory: the same half
    igst: Decimal


@dataclass(frozen=True)
class Totals:
    lines: tuple[LineAmounts, ...]
    sub_total: Decimal  # sum of item totals (tax included when prices include tax)
    discount_total: Decimal
    tax_total: Decimal  # the lines' GST and the shipping's
    cgst: Decimal
    sgst: Decimal
    igst: Decimal
    shipping_charge: Decimal
    shipping_tax: Decimal
    adjustment: Decimal
    total: Decimal


def line_amounts(
    rate: Number,
    quantity: Number,
    tax_percentage: Number,
    discount: Number = 0,
    *,
    inclusive: bool,
    supply: SupplyType,
) -> LineAmounts:
    """Amounts of one line; ValueError for a discount that is negative or exceeds the line."""
    tax_rate = Decimal(str(tax_percentage))
    gross = round_paisa(Decimal(str(rate)) * Decimal(str(quantity)))
    line_discount = _discount(gross, discount)
    item_total = gross - line_discount
    divisor = HUNDRED + tax_rate if inclusive else HUNDRED
    tax = round_paisa(item_total * tax_rate / divisor)
    if supply == "intra":
        cgst = round_paisa(tax / 2)
        sgst, igst = tax - cgst, ZERO
    else:
        cgst = sgst = ZERO
        igst = tax
    return LineAmounts(gross, line_discount, item_total, tax, cgst, sgst, igst)


def principal_rate(lines: Iterable[TaxLine]) -> Decimal:
    """GST rate of the principal supply: the line of the highest taxable value (ties: the
    higher rate). The rate shipping is taxed at; ValueError for a document without lines."""
    amounts = [(line_amounts(*line, inclusive=True, supply="inter").item_total,
                Decimal(str(line.tax_percentage))) for line in lines]
    if not amounts:
        raise ValueError("a document without lines has no principal supply")
    return max(amounts)[1]


def document_totals(
    lines: Iterable[TaxLine],
    shipping_charge: Number,
    inclusive: bool,
    *,
    supply: SupplyType,
    shipping_tax_percentage: Number | None = None,
    adjustment: Number = 0,
) -> Totals:
    """Totals of an invoice or estimate: rounded line figures added up, plus shipping (taxed
    at ``shipping_tax_percentage`` when given, like one more line) and ``adjustment``."""
    amounts = tuple(line_amounts(*line, inclusive=inclusive, supply=supply) for line in lines)
    shipping = Decimal(str(shipping_charge))
    shipping_line = line_amounts(shipping, 1, shipping_tax_percentage or 0,
                                 inclusive=inclusive, supply=supply)
    everything = (*amounts, shipping_line)
    sub_total = sum((line.item_total for line in amounts), ZERO)
    tax_total = sum((line.tax for line in everything), ZERO)
    extra = Decimal(str(adjustment))
    return Totals(
        lines=amounts,
        sub_total=sub_total,
        discount_total=sum((line.discount for line in amounts), ZERO),
        tax_total=tax_total,
        cgst=sum((line.cgst for line in everything), ZERO),
        sgst=sum((line.sgst for line in everything), ZERO),
        igst=sum((line.igst for line in everything), ZERO),
        shipping_charge=shipping,
        shipping_tax=shipping_line.tax,
        adjustment=extra,
        total=sub_total + shipping + extra + (ZERO if inclusive else tax_total),
    )


def _discount(gross: Decimal, discount: Number) -> Decimal:
    raw = str(discount).strip()
    if raw.endswith("%"):
        amount = round_paisa(gross * Decimal(raw[:-1].strip()) / HUNDRED)
    else:
        amount = Decimal(raw)
    if amount < 0 or amount > gross:
        raise ValueError(f"discount {raw} is not between 0 and the line amount {gross}")
    return amount
