"""Refund -> credit note and refund payloads: the invoice's supply and rates, restocked lines
naming their item, refused bad data naming the refund, line and field."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from kn_zoho.mapping.books import tax_table_from_zoho
from kn_zoho.mapping.credit_notes import credit_note_from_refund, refund_payload
from kn_zoho.mapping.errors import MappingError
from kn_zoho_tests.mapping import factories as f

TAXES = tax_table_from_zoho(f.zoho_taxes())


def refund(**changes: Any) -> dict[str, Any]:
    return {"id": "r1", "refund_number": "RF-2026-000004", "gateway_refund_id": "rfnd_Q9",
            "amount": Decimal("1130.00"), "shipping_amount": Decimal("0"),
            "adjustment": Decimal("0"), "refunded_at": f.order()["paid_at"]} | changes


def refund_lines(**changes: Any) -> list[dict[str, Any]]:
    # one of the two 1180.00 units (the line's 100.00 discount halved): 1130.00 back
    line = {"sku": "KN-BIO-001", "product_name": "Trichoderma viride 1 kg",
            "hsn_code": "38089199", "quantity": 1, "unit_price": Decimal("1180.00"),
            "gst_rate": Decimal("18.00"), "amount": Decimal("1130.00"), "restocked": True}
    return [line | changes]


def note(**kwargs: Any) -> dict[str, Any]:
    order = kwargs.pop("order", f.order())
    return credit_note_from_refund(
        kwargs.pop("refund", refund()), kwargs.pop("lines", refund_lines()), order,
        f.order_lines(), customer_id="c1", item_ids=f.item_ids(), taxes=TAXES,
        seller_state=f.SELLER_STATE, user=f.user())


def test_a_refunded_line_keeps_the_invoices_rate_and_supply() -> None:
    payload = note()
    line = payload["line_items"][0]
    assert (payload["creditnote_number"], payload["reference_number"]) == (
        "RF-2026-000004", "KN-2026-000017")
    assert (payload["place_of_supply"], payload["is_inclusive_tax"]) == ("KA", True)
    assert (line["item_id"], line["rate"], line["discount"]) == (
        f.item_ids()["KN-BIO-001"], 1180.0, 50.0)
    assert line["tax_id"] == TAXES.tax_id(Decimal(18), "intra")
    inter = note(order=f.order(shipping_state="TN"))
    assert inter["line_items"][0]["tax_id"] == TAXES.tax_id(Decimal(18), "inter")


def test_a_line_not_restocked_names_no_item_so_books_returns_no_stock() -> None:
    line = note(lines=refund_lines(restocked=False))["line_items"][0]
    assert "item_id" not in line
    assert line["name"] == "Trichoderma viride 1 kg" and "not returned" in line["description"]


def test_refunded_shipping_is_taxed_at_the_invoices_shipping_rate() -> None:
    payload = note(refund=refund(shipping_amount=Decimal("50.00"), amount=Decimal("1180.00")))
    assert payload["shipping_charge"] == 50.0
    assert payload["shipping_charge_tax_id"] == TAXES.tax_id(Decimal(18), "intra")


@pytest.mark.parametrize(("changes", "line_changes", "field"), [
    ({"amount": Decimal("1000.00")}, {}, "amount"),
    ({}, {"amount": Decimal("1180.01")}, "amount"),
    ({}, {"hsn_code": "12"}, "hsn_code"),
    ({"refund_number": "RF-2026-0000000001"}, {}, "refund_number"),
])
def test_bad_data_names_the_refund_and_field(changes: dict[str, Any],
                                             line_changes: dict[str, Any], field: str) -> None:
    with pytest.raises(MappingError) as error:
        note(refund=refund(**changes), lines=refund_lines(**line_changes))
    assert error.value.field == field
    assert "refund RF-2026-" in error.value.record


def test_the_refund_carries_the_gateway_refund_id() -> None:
    payload = refund_payload(refund(), from_account_id="acc")
    assert (payload["reference_number"], payload["amount"], payload["from_account_id"]) == (
        "rfnd_Q9", 1130.0, "acc")
    with pytest.raises(MappingError, match="gateway_refund_id"):
        refund_payload(refund(gateway_refund_id=" "), from_account_id="acc")
