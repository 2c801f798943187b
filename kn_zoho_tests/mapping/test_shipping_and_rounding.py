"""Shipping is GST-taxed at the principal supply's rate; a small rounding difference to the
storefront's grand total becomes a visible invoice adjustment, a larger one is refused."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from kn_zoho.mapping.books import invoice_from_order, tax_table_from_zoho
from kn_zoho.mapping.errors import MappingError
from kn_zoho.mapping.gst import TaxLine, document_totals, principal_rate
from kn_zoho.mapping.totals import DEFAULT_TOLERANCE, total_tolerance
from kn_zoho_tests.mapping.factories import SELLER_STATE, item_ids, order, order_lines, zoho_taxes

TAXES = tax_table_from_zoho(zoho_taxes())


def _invoice(order_row: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    return invoice_from_order(order_row, order_lines(), customer_id="c", item_ids=item_ids(),
                              taxes=TAXES, seller_state=SELLER_STATE, **kwargs)


@pytest.mark.parametrize(("lines", "rate"), [
    ([TaxLine("1180.00", 2, 18, "100.00"), TaxLine("525.00", 1, 5)], Decimal(18)),
    ([TaxLine("99.00", 1, 18), TaxLine("1050.00", 1, 5)], Decimal(5)),   # cheap 18% line
    ([TaxLine("500.00", 1, 12), TaxLine("250.00", 2, 28)], Decimal(28)),  # equal: higher
    ([TaxLine("400.00", 1, 0), TaxLine("100.00", 3, 5, "50%")], Decimal(0)),
])
def test_principal_supply_is_the_line_of_the_highest_taxable_value(
        lines: list[TaxLine], rate: Decimal) -> None:
    assert principal_rate(lines) == rate


@pytest.mark.parametrize(("supply", "cgst", "sgst", "igst"), [
    ("intra", Decimal("3.82"), Decimal("3.81"), Decimal("0.00")),
    ("inter", Decimal("0.00"), Decimal("0.00"), Decimal("7.63")),
])
def test_inclusive_shipping_carries_gst_without_changing_the_total(
        supply: str, cgst: Decimal, sgst: Decimal, igst: Decimal) -> None:
    lines = [TaxLine("1180.00", 2, 18, "100.00"), TaxLine("525.00", 1, 5)]
    untaxed = document_totals(lines, "50.00", True, supply=supply)
    taxed = document_totals(lines, "50.00", True, supply=supply, shipping_tax_percentage=18)
    assert taxed.total == untaxed.total == Decimal("2835.00")
    assert taxed.shipping_tax == Decimal("7.63")  # 50 x 18 / 118
    assert taxed.tax_total == untaxed.tax_total + Decimal("7.63")
    assert (taxed.cgst - untaxed.cgst, taxed.sgst - untaxed.sgst,
            taxed.igst - untaxed.igst) == (cgst, sgst, igst)


@pytest.mark.parametrize(("ship_to", "tax_id"), [("KA", "gst18"), ("TN", "igst18"),
                                                 ("ka", "gst18")])
def test_invoice_taxes_shipping_with_the_principal_rate_of_its_supply(
        ship_to: str, tax_id: str) -> None:
    assert _invoice(order(shipping_state=ship_to))["shipping_charge_tax_id"] == tax_id


def test_free_shipping_carries_no_shipping_tax() -> None:
    payload = _invoice(order(shipping_charge=Decimal("0.00"), grand_total=Decimal("2785.00")))
    assert "shipping_charge_tax_id" not in payload


@pytest.mark.parametrize("difference", ["0.01", "-0.01", "0.50", "-0.50"])
def test_a_rounding_difference_becomes_a_visible_adjustment(difference: str) -> None:
    grand_total = Decimal("2835.00") + Decimal(difference)
    payload = _invoice(order(grand_total=grand_total))
    assert payload["adjustment"] == float(difference)
    assert payload["adjustment_description"] == "Rounding to the storefront order total"


@pytest.mark.parametrize(("grand_total", "tolerance"), [
    ("2835.51", None), ("2834.49", None), ("2835.01", Decimal("0")), ("2836.00", Decimal("0.99")),
])
def test_a_larger_difference_is_refused_with_both_figures(
        grand_total: str, tolerance: Decimal | None) -> None:
    with pytest.raises(MappingError) as caught:
        _invoice(order(grand_total=Decimal(grand_total)), tolerance=tolerance)
    assert caught.value.field == "grand_total"
    assert grand_total in str(caught.value) and "2835.00" in str(caught.value)


def test_exact_totals_carry_no_adjustment() -> None:
    assert "adjustment" not in _invoice(order())


@pytest.mark.parametrize(("raw", "value"), [(None, DEFAULT_TOLERANCE), ("", DEFAULT_TOLERANCE),
                                            ("0", Decimal(0)), ("1.00", Decimal("1.00"))])
def test_tolerance_comes_from_the_environment(raw: str | None, value: Decimal) -> None:
    env = {} if raw is None else {"KN_ZOHO_BOOKS_TOTAL_TOLERANCE": raw}
    assert total_tolerance(env) == value


@pytest.mark.parametrize("raw", ["-1", "half", "0.001"])
def test_a_bad_tolerance_is_refused(raw: str) -> None:
    with pytest.raises(ValueError, match="KN_ZOHO_BOOKS_TOTAL_TOLERANCE"):
        total_tolerance({"KN_ZOHO_BOOKS_TOTAL_TOLERANCE": raw})
