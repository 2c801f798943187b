"""GST arithmetic: every expected figure below is worked out by hand from the rule in gst.py."""

from __future__ import annotations

from decimal import Decimal

import pytest

from kn_zoho.mapping.gst import (
    LineAmounts,
    TaxLine,
    document_totals,
    line_amounts,
    round_paisa,
    supply_type,
)

D = Decimal


@pytest.mark.parametrize(
    ("seller", "place", "sez", "expected"),
    [
        ("KA", "KA", False, "intra"),
        ("KA", "ka ", False, "intra"),
        ("KA", "TN", False, "inter"),
        ("CH", "CH", False, "intra"),  # union territory: CGST + UTGST, still intra
        ("KA", "KA", True, "inter"),  # supply to an SEZ is always inter-state
    ],
)
def test_supply_type(seller: str, place: str, sez: bool, expected: str) -> None:
    assert supply_type(seller, place, sez=sez) == expected


@pytest.mark.parametrize(("seller", "place"), [("XX", "KA"), ("KA", ""), ("KA", "Karnataka")])
def test_supply_type_rejects_unknown_states(seller: str, place: str) -> None:
    with pytest.raises(ValueError, match="not an Indian state code"):
        supply_type(seller, place)


@pytest.mark.parametrize(
    ("value", "rounded"),
    [
        ("0.005", "0.01"),
        ("0.015", "0.02"),
        ("10.935", "10.94"),
        ("2.345", "2.35"),
        ("2.3449", "2.34"),
        ("7", "7.00"),
    ],
)
def test_round_paisa_is_half_up_not_bankers(value: str, rounded: str) -> None:
    assert round_paisa(D(value)) == D(rounded)


# (rate, quantity, GST %, discount, inclusive) -> (item_total, tax, cgst, sgst)
INTRA_CASES = [
    # GST inclusive prices, as the storefront has them
    (("1180.00", 1, 18, 0, True), ("1180.00", "180.00", "90.00", "90.00")),
    (("105.00", 2, 5, 0, True), ("210.00", "10.00", "5.00", "5.00")),
    (("100.00", 3, 12, 0, True), ("300.00", "32.14", "16.07", "16.07")),  # 32.142857...
    (("99.99", 1, 28, 0, True), ("99.99", "21.87", "10.94", "10.93")),  # CGST 10.935 -> 10.94
    (("250.00", 4, 0, 0, True), ("1000.00", "0.00", "0.00", "0.00")),
    # GST added on top
    (("100.00", 1, 18, 0, False), ("100.00", "18.00", "9.00", "9.00")),
    (("10.10", 1, 5, 0, False), ("10.10", "0.51", "0.26", "0.25")),  # 0.505 -> 0.51 half-up
    (("33.33", 3, 12, 0, False), ("99.99", "12.00", "6.00", "6.00")),  # 11.9988 -> 12.00
    (("1000.00", 1, 28, 0, False), ("1000.00", "280.00", "140.00", "140.00")),
    (("1000.00", 1, 0, 0, False), ("1000.00", "0.00", "0.00", "0.00")),
    # discounts: an amount, or a percentage of the gross rounded to the paisa
    (("1180.00", 2, 18, "100.00", True), ("2260.00", "344.75", "172.38", "172.37")),
    (("999.00", 3, 18, "10%", True), ("2697.30", "411.45", "205.73", "205.72")),
    (("10.05", 1, 5, "50%", False), ("5.02", "0.25", "0.13", "0.12")),  # 5.025 discount -> 5.03
    (("100.00", 1, 18, "0%", False), ("100.00", "18.00", "9.00", "9.00")),
    (("100.00", 1, 18, "100%", True), ("0.00", "0.00", "0.00", "0.00")),
    # rate x quantity is rounded before anything else
    (("33.335", 3, 18, 0, False), ("100.01", "18.00", "9.00", "9.00")),  # 100.005 -> 100.01
]


@pytest.mark.parametrize(("given", "expected"), INTRA_CASES)
def test_intra_state_line(given: tuple, expected: tuple) -> None:
    rate, quantity, percent, discount, inclusive = given
    line = line_amounts(rate, quantity, percent, discount, inclusive=inclusive, supply="intra")
    assert (line.item_total, line.tax, line.cgst, line.sgst) == tuple(D(x) for x in expected)
    assert line.igst == 0
    assert line.cgst + line.sgst == line.tax
    assert line.gross - line.discount == line.item_total


@pytest.mark.parametrize(("given", "expected"), INTRA_CASES)
def test_inter_state_line_is_all_igst(given: tuple, expected: tuple) -> None:
    rate, quantity, percent, discount, inclusive = given
    line = line_amounts(rate, quantity, percent, discount, inclusive=inclusive, supply="inter")
    assert (line.item_total, line.tax) == (D(expected[0]), D(expected[1]))
    assert (line.cgst, line.sgst, line.igst) == (0, 0, D(expected[1]))


def test_line_figures() -> None:
    line = line_amounts(D("999.00"), 3, D("18"), "10 %", inclusive=True, supply="intra")
    assert line == LineAmounts(
        gross=D("2997.00"),
        discount=D("299.70"),
        item_total=D("2697.30"),
        tax=D("411.45"),
        cgst=D("205.73"),
        sgst=D("205.72"),
        igst=D("0.00"),
    )


@pytest.mark.parametrize("discount", ["-1", "100.01", "101%"])
def test_discount_outside_the_line_is_refused(discount: str) -> None:
    with pytest.raises(ValueError, match="discount"):
        line_amounts("100.00", 1, 18, discount, inclusive=True, supply="intra")


LINES = [
    TaxLine(D("1180.00"), 2, D("18"), D("100.00")),  # item 2260.00, tax 344.75
    TaxLine("525.00", 1, "5"),  # item 525.00, tax 25.00
]


@pytest.mark.parametrize(
    ("inclusive", "supply", "tax", "cgst", "sgst", "igst", "total"),
    [
        (True, "intra", "369.75", "184.88", "184.87", "0", "2835.00"),
        (True, "inter", "369.75", "0", "0", "369.75", "2835.00"),
        # exclusive: 2260 * 18% = 406.80 and 525 * 5% = 26.25 added on top
        (False, "intra", "433.05", "216.53", "216.52", "0", "3268.05"),
        (False, "inter", "433.05", "0", "0", "433.05", "3268.05"),
    ],
)
def test_document_totals(
    inclusive: bool, supply: str, tax: str, cgst: str, sgst: str, igst: str, total: str
) -> None:
    totals = document_totals(LINES, D("50.00"), inclusive, supply=supply)  # type: ignore[arg-type]
    assert totals.sub_total == D("2785.00")
    assert totals.discount_total == D("100.00")
    assert totals.shipping_charge == D("50.00")
    assert (totals.tax_total, totals.cgst, totals.sgst, totals.igst) == (
        D(tax),
        D(cgst),
        D(sgst),
        D(igst),
    )
    assert totals.total == D(total)
    assert len(totals.lines) == 2


def test_tax_is_rounded_per_line_not_on_the_sum() -> None:
    # Each 10.00 line holds 1.5254 of GST -> 1.53; the sum 20.00 would hold only 3.05.
    lines = [TaxLine("10.00", 1, 18), TaxLine("10.00", 1, 18)]
    totals = document_totals(lines, 0, True, supply="intra")
    assert totals.tax_total == D("3.06")
    assert (totals.cgst, totals.sgst) == (D("1.54"), D("1.52"))  # 0.765 -> 0.77 twice


def test_shipping_is_untaxed_and_added_to_the_total() -> None:
    lines = [TaxLine("118.00", 1, 18)]
    with_shipping = document_totals(lines, "40.00", True, supply="intra")
    without = document_totals(lines, 0, True, supply="intra")
    assert with_shipping.tax_total == without.tax_total == D("18.00")
    assert with_shipping.total - without.total == D("40.00")


def test_empty_document_totals_to_the_shipping() -> None:
    totals = document_totals([], "60.00", False, supply="inter")
    assert (totals.sub_total, totals.tax_total, totals.total) == (0, 0, D("60.00"))
