"""Awkward storefront data in the mapping: refused with a message an admin can act on, or
sent with what is valid and a warning; never silently changed into something else."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

import pytest

from kn_zoho.mapping import validation as v
from kn_zoho.mapping.books import (
    customer_from_user,
    invoice_from_order,
    item_from_product,
    tax_table_from_zoho,
)
from kn_zoho.mapping.books_estimates import estimate_from_quote
from kn_zoho.mapping.crm import contact_from_user, lead_from_inquiry, lead_from_quote
from kn_zoho.mapping.errors import MappingError
from kn_zoho_tests.mapping.factories import (
    SELLER_STATE,
    item_ids,
    make_gstin,
    order,
    order_lines,
    product,
    quote,
    user,
    zoho_taxes,
)

TAXES = tax_table_from_zoho(zoho_taxes())
LETTERED_PHONES = ["98450ABCDE", "98450-KISAN", "+91 98450 KISAN", "९८४५०१२३४५ ext"]


def _invoice(order_row: dict[str, Any], lines: list[dict[str, Any]] | None = None
             ) -> dict[str, Any]:
    return invoice_from_order(order_row, lines or order_lines(), customer_id="c",
                              item_ids=item_ids(), taxes=TAXES, seller_state=SELLER_STATE)


def _estimate(quote_row: dict[str, Any], lines: list[dict[str, Any]] | None = None,
              **user_changes: Any) -> dict[str, Any]:
    return estimate_from_quote(quote_row, lines or order_lines(), customer_id="c",
                               item_ids=item_ids(), taxes=TAXES, seller_state=SELLER_STATE,
                               user=user(**user_changes))


# --- 3. phone numbers with letters ---------------------------------------------------------

@pytest.mark.parametrize("phone", LETTERED_PHONES)
def test_books_customer_with_a_lettered_phone_is_refused_naming_phone(phone: str) -> None:
    with pytest.raises(MappingError) as caught:
        customer_from_user(user(phone=phone))
    assert caught.value.field == "phone"
    assert f"'{phone}' contains letters" in str(caught.value)


@pytest.mark.parametrize("phone", LETTERED_PHONES)
def test_crm_contact_with_a_lettered_phone_goes_without_it_and_says_so(phone: str) -> None:
    warnings: list[str] = []
    contact = contact_from_user(user(phone=phone), warnings=warnings)
    assert contact["Phone"] is None
    assert f"Phone as entered: {phone}" in contact["Description"]
    [warning] = warnings
    assert "field 'phone'" in warning and "without a phone" in warning


# --- 7. invoice and estimate numbers -------------------------------------------------------

@pytest.mark.parametrize(("number", "bad"), [
    ("#KN1034", "'#'"), ("KN 1034", "' '"), ("KN_2026_1", "'_'"), ("KN.2026.07", "'.'"),
    ("कन-1034", "'कन'"),
])
def test_invoice_number_with_characters_gst_forbids_is_refused(number: str, bad: str) -> None:
    with pytest.raises(MappingError) as caught:
        _invoice(order(order_number=number))
    assert (caught.value.record, caught.value.field) == (f"order {number}", "order_number")
    assert f"'{number}' contains {bad}" in str(caught.value)


@pytest.mark.parametrize("number", ["KN/2026-27/0001", "kn-1034", "A1", "1234567890123456"])
def test_gst_valid_invoice_numbers_pass(number: str) -> None:
    assert _invoice(order(order_number=number))["reference_number"] == number


@pytest.mark.parametrize("number", ["Q#2026-5", "Q 2026 5", "QUOTE-2026-0000005"])
def test_quote_number_follows_the_same_rule_for_estimates(number: str) -> None:
    with pytest.raises(MappingError) as caught:
        _estimate(quote(quote_number=number, grand_total=Decimal("2785.00")))
    assert caught.value.field == "quote_number"


# --- 4. currency -----------------------------------------------------------------------------

@pytest.mark.parametrize("currency", ["USD", "AED", "usd"])
def test_order_in_another_currency_is_refused_never_relabelled(currency: str) -> None:
    with pytest.raises(MappingError) as caught:
        _invoice(order(currency=currency))
    assert caught.value.field == "currency"
    assert f"'{currency}' is not INR" in str(caught.value)


@pytest.mark.parametrize("currency", ["INR", "inr", None])
def test_inr_or_no_currency_column_is_invoiced(currency: str | None) -> None:
    assert _invoice(order(currency=currency))["line_items"]


# --- 5. long names -----------------------------------------------------------------------

TELUGU = "వేంకట సుబ్రహ్మణ్య లక్ష్మీ నరసింహ శ్రీనివాస రాఘవేంద్ర రావు గారు"  # 59 chars


@pytest.mark.parametrize("full_name", [
    TELUGU + " కొండపల్లి",                        # 68 characters, Indian script
    "Venkata Subrahmanya Lakshmi Narasimha Srinivasa Raghavendra Rao Kondapalli",
    "Chakravarthi " * 6 + "Iyer",                   # 82 characters, words of one length
])
def test_long_names_survive_whole_across_first_and_last_name(full_name: str) -> None:
    warnings: list[str] = []
    contact = contact_from_user(user(full_name=full_name), warnings=warnings)
    assert len(contact["First_Name"]) <= 40 and len(contact["Last_Name"]) <= 80
    assert f"{contact['First_Name']} {contact['Last_Name']}" == " ".join(full_name.split())
    assert warnings == [] and "Description" not in contact


@pytest.mark.parametrize("full_name", [
    "Narasimha" * 10,                                # one word longer than Last_Name
    " ".join(["Srinivasaraghavan"] * 8),             # more than both fields hold
    TELUGU + " " + TELUGU + " " + TELUGU,
])
def test_names_too_long_for_both_fields_are_shortened_and_said_so(full_name: str) -> None:
    warnings: list[str] = []
    contact = contact_from_user(user(full_name=full_name), warnings=warnings)
    assert contact["Last_Name"].endswith("…") or (contact["First_Name"] or "").endswith("…")
    assert f"Full name: {' '.join(full_name.split())}" in contact["Description"]
    assert len(warnings) == 1 and "field 'full_name'" in warnings[0]


# --- 8. leads are not blocked by Books-only problems -----------------------------------------

@pytest.mark.parametrize(("user_changes", "quote_changes", "line_changes", "flag"), [
    ({"gstin": "29ABCDE1234F1Z0"}, {}, {}, "field 'gstin'"),
    ({}, {"shipping_state": "Karnataka State"}, {}, "field 'shipping_state'"),
    ({}, {}, {"discount": Decimal("-50.00")}, "line 1: field 'discount': -50.00 is negative"),
    ({}, {}, {"gst_rate": Decimal("7.00")}, "line 1: field 'gst_rate': 7.00 is not a GST rate"),
])
def test_quote_request_with_books_only_problems_still_becomes_a_lead(
        user_changes: dict, quote_changes: dict, line_changes: dict, flag: str) -> None:
    lines = order_lines()
    lines[0].update(line_changes)
    warnings: list[str] = []
    lead = lead_from_quote(quote(**quote_changes), user(**user_changes), lines, warnings)
    assert lead["Email"] == "ravi.kumar@example.com" and lead["Last_Name"] == "Kumar"
    assert "Not valid (to fix in the storefront before the estimate):" in lead["Description"]
    assert flag in lead["Description"]
    assert any(flag in warning for warning in warnings)


def test_the_estimate_still_refuses_what_the_lead_flagged() -> None:
    with pytest.raises(MappingError) as caught:
        _estimate(quote(shipping_state="Karnataka State"))
    assert caught.value.field == "shipping_state"


def test_a_lead_still_needs_a_valid_email() -> None:
    with pytest.raises(MappingError) as caught:
        lead_from_quote(quote(), user(email="ravi@"), order_lines())
    assert caught.value.field == "email"


# --- 9. messages for admins ------------------------------------------------------------------

REPR = re.compile(r"Decimal\(|datetime\.|UUID\(|\bNone\b|\\x|\\u|<[a-z_.]+ object")


def _bad_records() -> list[tuple[str, Any]]:
    """A corpus of bad storefront records, one mapping call each."""
    gstin = make_gstin()
    bad_line = [{**order_lines()[0], "gst_rate": Decimal("7.00")}]
    return [
        ("gst rate", lambda: item_from_product(product(gst_rate=Decimal("7.00")), TAXES)),
        ("price", lambda: item_from_product(product(price=Decimal("-1.00")), TAXES)),
        ("price decimals", lambda: item_from_product(product(price=Decimal("9.999")), TAXES)),
        ("hsn", lambda: item_from_product(product(hsn_code="38-08"), TAXES)),
        ("hsn missing", lambda: item_from_product(product(hsn_code=None), TAXES)),
        ("name", lambda: item_from_product(product(name="  "), TAXES)),
        ("email", lambda: customer_from_user(user(email="ravi at example.com"))),
        ("phone", lambda: customer_from_user(user(phone="98450-KISAN"))),
        ("gstin", lambda: customer_from_user(user(gstin=gstin[:-1] + "0"))),
        ("state", lambda: customer_from_user(user(billing_state="Kar"))),
        ("line gst", lambda: _invoice(order(), bad_line)),
        ("quantity", lambda: _invoice(order(), [{**order_lines()[0], "quantity": Decimal("1.5")}])),
        ("discount", lambda: _invoice(order(), [{**order_lines()[0],
                                                "discount": Decimal("5000.00")}])),
        ("total", lambda: _invoice(order(grand_total=Decimal("2845.00")))),
        ("number", lambda: _invoice(order(order_number="#KN1034"))),
        ("currency", lambda: _invoice(order(currency="USD"))),
        ("paid at", lambda: _invoice(order(paid_at="yesterday"))),
        ("ship to", lambda: _invoice(order(shipping_state=None))),
        ("estimate total", lambda: _estimate(quote(grand_total=Decimal("1.00")))),
        ("valid until", lambda: _estimate(quote(valid_until="31/05/2026"))),
        ("lead email", lambda: lead_from_inquiry({"id": "x", "name": "A", "email": None})),
    ]


@pytest.mark.parametrize(("label", "make"), _bad_records())
def test_every_message_names_record_field_value_and_what_to_do(label: str, make: Any) -> None:
    with pytest.raises(MappingError) as caught:
        make()
    message = str(caught.value)
    assert not REPR.search(message), f"{label}: Python internals in {message!r}"
    assert message.startswith(f"{caught.value.record}: field '{caught.value.field}': ")
    assert caught.value.action and message.endswith(f"{caught.value.action}.")
    assert re.search(r"\b(Correct|Give|Merge|Add|Sync|Convert)\b", caught.value.action)


def test_shown_writes_values_as_a_person_would() -> None:
    assert [v.shown(x) for x in (Decimal("7.00"), 5, "KN#1", None, True)] == [
        "7.00", "5", "'KN#1'", "(empty)", "yes"]
