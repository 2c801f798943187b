"""Storefront refunds -> Zoho Books credit notes and the refunds recorded against them (pure).

A refund's credit note reverses part of the order's invoice, so it is built the way the invoice
was (``books.invoice_from_order``): the same place of supply (the order's ship-to state), so the
same intra/inter-state split (CGST+SGST or IGST), tax-inclusive prices, each refunded line at the
invoice's unit rate with the amount kept back as an item-level discount, so Books' line total
is exactly the storefront's refunded amount and its GST is extracted from it the same way.
Refunded shipping is taxed at the rate the invoice taxed shipping at (the order's principal
supply). The order's own rounding adjustment rides on its last refund (baseline_refunds.sql),
so the credit notes of an order add up to what the invoice charged.

Stock: a line put back on the shelf names its Books item, so the credit note returns it to
stock; a line not restocked goes without ``item_id`` (its name, HSN code, rate and tax only),
which moves no stock in Books, as the storefront did not take it back either.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from kn_zoho.mapping import validation as v
from kn_zoho.mapping.books import (
    DEFAULT_PAYMENT_MODE,
    PAYMENT_MODES,
    REFERENCE_MAX,
    TaxTable,
    _lines,
    _tax_id,
    gst_sale_payload,
)
from kn_zoho.mapping.errors import MappingError
from kn_zoho.mapping.gst import TaxLine, document_totals, principal_rate, round_paisa, supply_type

Row = Mapping[str, Any]
NAME_MAX = 100
NOT_RETURNED = "not returned to stock"


def _refund_record(refund: Row) -> str:
    return f"refund {refund.get('refund_number')}"


def credit_note_from_refund(
    refund: Row,
    refund_lines: Sequence[Row],
    order: Row,
    order_lines: Sequence[Row],
    *,
    customer_id: str,
    item_ids: Mapping[str, str],
    taxes: TaxTable,
    seller_state: str,
    user: Row | None = None,
) -> dict[str, Any]:
    """The GST credit note for one storefront refund, refused if Books' total would differ
    from the refunded amount.

    ``refund_lines`` are order_refund_items joined with their order line (``unit_price``,
    ``gst_rate``) and product (``sku``, ``product_name``, ``hsn_code``); ``order_lines`` are the
    order's lines as the invoice mapping takes them (for the shipping's tax rate).
    """
    record = _refund_record(refund)
    number = v.document_number(refund.get("refund_number"), record, "refund_number")
    place = v.required_state(order.get("shipping_state"), f"order {order['order_number']}",
                             "shipping_state")
    supply = supply_type(seller_state, place.code)
    line_items, tax_lines = [], []
    for index, line in enumerate(refund_lines, start=1):
        item, tax_line = _credit_line(line, f"{record} line {index}", item_ids, taxes, supply)
        line_items.append(item)
        tax_lines.append(tax_line)
    shipping = v.money(refund.get("shipping_amount") or 0, record, "shipping_amount")
    if not line_items and not shipping:
        raise MappingError(record, "order_refund_items", "the refund has no lines and no "
                           "shipping: nothing to credit")
    order_tax_lines = [line.tax_line for line in _lines(
        order_lines, f"order {order['order_number']}", "order_items")]
    shipping_rate = principal_rate(order_tax_lines) if shipping else None
    adjustment = _signed_amount(refund.get("adjustment") or 0, record, "adjustment")
    totals = document_totals(tax_lines, shipping, inclusive=True, supply=supply,
                             shipping_tax_percentage=shipping_rate, adjustment=adjustment)
    amount = v.money(refund.get("amount"), record, "amount")
    if totals.total != amount:
        raise MappingError(record, "amount", f"refunded amount {amount} differs from "
                           f"{totals.total} that Zoho Books computes from the refunded lines, "
                           f"shipping {shipping} and adjustment {adjustment}")
    payload = gst_sale_payload(
        record, customer_id=customer_id, reference=order["order_number"],
        issued_on=v.ist_date(refund.get("refunded_at"), record, "refunded_at"),
        place=place.code, line_items=line_items, shipping=shipping,
        shipping_rate=shipping_rate, adjustment=adjustment, taxes=taxes, supply=supply,
        user=user)
    return {"creditnote_number": number, **payload}


def _signed_amount(value: Any, record: str, field: str) -> Decimal:
    """An amount that may be negative (a rounding adjustment), to the paisa."""
    number = Decimal(str(value))
    return -v.money(-number, record, field) if number < 0 else v.money(number, record, field)


def _credit_line(line: Row, record: str, item_ids: Mapping[str, str], taxes: TaxTable,
                 supply: str) -> tuple[dict[str, Any], TaxLine]:
    sku = v.text(line.get("sku"))
    if sku is None:
        raise MappingError(record, "sku", "SKU is missing")
    record = f"{record} ({sku})"
    quantity = v.quantity(line.get("quantity"), record)
    rate = v.money(line.get("unit_price"), record, "unit_price")
    amount = v.money(line.get("amount"), record, "amount")
    gross = round_paisa(rate * quantity)
    if amount > gross:
        raise MappingError(record, "amount", f"refunds {amount} for {quantity} units at "
                           f"{rate}, more than their price {gross}")
    gst_rate = v.gst_rate(line.get("gst_rate"), record)
    item: dict[str, Any] = {
        "quantity": quantity,
        "rate": float(rate),
        "discount": float(gross - amount),
        "tax_id": _tax_id(taxes, gst_rate, supply, record),  # type: ignore[arg-type]
        "hsn_or_sac": v.hsn_code(line.get("hsn_code"), record),
    }
    if line.get("restocked"):
        item_id = item_ids.get(sku)
        if item_id is None:
            raise MappingError(record, "sku", f"no Zoho Books item for SKU {v.shown(sku)}")
        item["item_id"] = item_id
    else:
        name = v.display(line.get("product_name")) or sku
        item["name"] = v.truncate(name, NAME_MAX)
        item["description"] = f"{sku}: {NOT_RETURNED}"
    return item, TaxLine(rate, quantity, gst_rate, gross - amount)


def refund_payload(refund: Row, *, from_account_id: str,
                   refund_mode: str = DEFAULT_PAYMENT_MODE) -> dict[str, Any]:
    """The refund recorded against the credit note: the whole refunded amount, paid back out
    of ``from_account_id``, with the gateway's refund id as its reference (its natural key)."""
    record = _refund_record(refund)
    if refund_mode not in PAYMENT_MODES:
        raise ValueError(f"refund_mode {refund_mode!r}: Zoho Books accepts only "
                         f"{', '.join(PAYMENT_MODES)}")
    reference = v.text(refund.get("gateway_refund_id"))
    if reference is None:
        raise MappingError(record, "gateway_refund_id", "the gateway refund id is missing")
    if len(reference) > REFERENCE_MAX:
        raise MappingError(record, "gateway_refund_id",
                           f"longer than Zoho's {REFERENCE_MAX} characters")
    return {
        "date": v.ist_date(refund.get("refunded_at"), record, "refunded_at"),
        "amount": float(v.money(refund.get("amount"), record, "amount")),
        "refund_mode": refund_mode,
        "reference_number": reference,
        "from_account_id": from_account_id,
        "description": f"Storefront refund {refund.get('refund_number')}",
    }
