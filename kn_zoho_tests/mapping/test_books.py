from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from kn_zoho.mapping.books import (
    PAYMENT_MODES,
    TaxTable,
    customer_email,
    customer_from_user,
    expected_invoice_total,
    invoice_from_order,
    item_from_product,
    payment_from_order,
    sku_placeholders,
    tax_table_from_zoho,
    with_zoho_ids,
)
from kn_zoho.mapping.books_estimates import estimate_from_quote
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


def invoice(order_row: dict[str, Any] | None = None, **kwargs: Any) -> dict[str, Any]:
    arguments: dict[str, Any] = {
        "customer_id": "cust-1",
        "item_ids": item_ids(),
        "taxes": TAXES,
        "seller_state": SELLER_STATE,
    } | kwargs
    lines = arguments.pop("lines", order_lines())
    return invoice_from_order(order_row or order(), lines, **arguments)


@pytest.mark.parametrize("rate", ["0", "5", "12", "18", "28"])
def test_tax_table_maps_each_rate_to_group_and_igst(rate: str) -> None:
    assert TAXES.tax_id(Decimal(rate), "intra") == f"gst{rate}"
    assert TAXES.tax_id(Decimal(f"{rate}.00"), "inter") == f"igst{rate}"


def test_tax_table_prefers_zoho_default_names_and_ignores_other_taxes() -> None:
    taxes = [
        {"tax_id": "old", "tax_name": "GST 18 old", "tax_percentage": 18, "tax_type": "tax_group"},
        {"tax_id": "std", "tax_name": "GST18", "tax_percentage": 18.0, "tax_type": "tax_group"},
        {
            "tax_id": "cess",
            "tax_name": "Cess12",
            "tax_percentage": 12,
            "tax_type": "tax",
            "tax_specific_type": "cess",
        },
        {"tax_id": "i18", "tax_name": "IGST18", "tax_percentage": 18, "tax_type": "tax"},
    ]
    table = tax_table_from_zoho(taxes)
    assert table == TaxTable(intra={Decimal(18): "std"}, inter={Decimal(18): "i18"})


def test_missing_tax_is_a_clear_error() -> None:
    table = tax_table_from_zoho([t for t in zoho_taxes() if t["tax_id"] != "igst12"])
    with pytest.raises(ValueError, match="no inter-state IGST tax at 12%"):
        table.tax_id(Decimal("12.00"), "inter")
    with pytest.raises(ValueError, match="no GST tax groups or IGST taxes"):
        tax_table_from_zoho([])


def test_item_from_product() -> None:
    assert item_from_product(product(), TAXES) == {
        "name": "Trichoderma viride 1 kg",
        "sku": "KN-BIO-001",
        "rate": 1180.0,
        "description": "Bio-fungicide for soil treatment.",
        "product_type": "goods",
        "item_type": "inventory",
        "hsn_or_sac": "38089199",
        "unit": "pcs",
        "item_tax_preferences": [
            {"tax_id": "gst18", "tax_specification": "intra"},
            {"tax_id": "igst18", "tax_specification": "inter"},
        ],
    }


def test_long_product_name_is_truncated_and_kept_in_description() -> None:
    name = "Trichoderma viride bio-fungicide wettable powder " * 3
    item = item_from_product(product(name=name, description=None), TAXES)
    assert len(item["name"]) <= 100 and item["name"].endswith("…")
    assert item["description"] == name.strip()


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"hsn_code": "38089"}, "hsn_code"),
        ({"hsn_code": None}, "hsn_code"),
        ({"gst_rate": Decimal("17")}, "gst_rate"),
        ({"price": Decimal("-1")}, "price"),
        ({"name": " "}, "name"),
    ],
)
def test_bad_product_fails_naming_the_column(changes: dict[str, Any], field: str) -> None:
    with pytest.raises(MappingError) as caught:
        item_from_product(product(**changes), TAXES)
    assert caught.value.field == field
    assert caught.value.record == "product KN-BIO-001"


def test_product_rate_without_zoho_tax_fails_permanently() -> None:
    table = tax_table_from_zoho([t for t in zoho_taxes() if t["tax_id"] != "gst28"])
    with pytest.raises(MappingError, match="field 'gst_rate': Zoho Books has no intra-state"):
        item_from_product(product(gst_rate=Decimal("28")), table)


@pytest.mark.parametrize(
    ("changes", "treatment", "gst_no"),
    [
        ({}, "consumer", None),
        ({"customer_type": "b2b"}, "business_none", None),
        ({"customer_type": "b2b", "gstin": make_gstin().lower()}, "business_gst", make_gstin()),
    ],
)
def test_customer_gst_treatment(
    changes: dict[str, Any], treatment: str, gst_no: str | None
) -> None:
    customer = customer_from_user(user(**changes))
    assert (customer["gst_treatment"], customer.get("gst_no")) == (treatment, gst_no)


def test_customer_from_user() -> None:
    customer = customer_from_user(
        user(full_name="  Ravi  Kumar ", company="KN Agro", gstin=make_gstin(), customer_type="b2b")
    )
    assert customer == {
        "contact_name": "Ravi Kumar",
        "company_name": "KN Agro",
        "contact_type": "customer",
        "customer_sub_type": "business",
        # email and phone belong to the primary contact person (Books: contact_persons)
        "contact_persons": [{"first_name": "Ravi", "last_name": "Kumar",
                             "email": "ravi.kumar@example.com", "phone": "+919845012345",
                             "is_primary_contact": True}],
        "gst_treatment": "business_gst",
        "gst_no": make_gstin(),
        "place_of_contact": "KA",
    }


def test_customer_place_of_contact_falls_back_to_gstin_then_shipping_state() -> None:
    from_gstin = customer_from_user(user(billing_state=None, gstin=make_gstin("33")))
    assert from_gstin["place_of_contact"] == "TN"
    from_shipping = customer_from_user(user(billing_state=None, shipping_state="MH"))
    assert from_shipping["place_of_contact"] == "MH"
    nowhere = customer_from_user(user(billing_state=None, shipping_state=None, phone=None))
    assert "place_of_contact" not in nowhere and "phone" not in nowhere["contact_persons"][0]


def test_customer_without_name_uses_company_then_email() -> None:
    assert customer_from_user(user(full_name=None, company="KN Agro"))["contact_name"] == "KN Agro"
    assert customer_from_user(user(full_name=None))["contact_name"] == "ravi.kumar"
    unnamed = customer_from_user(user(full_name=None))
    assert customer_email(unnamed) == "ravi.kumar@example.com"
    assert "first_name" not in unnamed["contact_persons"][0]


def test_customer_with_bad_gstin_fails() -> None:
    with pytest.raises(MappingError, match="field 'gstin'"):
        customer_from_user(user(gstin="29AAPFU0939F1ZZ"))


def test_intra_state_invoice() -> None:
    assert invoice(user=user()) == {
        "customer_id": "cust-1",
        "reference_number": "KN-2026-000017",
        "date": "2026-04-01",  # paid 20:00 UTC on 31 March = 1 April in India
        "place_of_supply": "KA",
        "is_inclusive_tax": True,
        "discount_type": "item_level",
        "line_items": [
            {
                "item_id": "item-001",
                "quantity": 2,
                "rate": 1180.0,
                "discount": 100.0,
                "tax_id": "gst18",
                "hsn_or_sac": "38089199",
            },
            {
                "item_id": "item-002",
                "quantity": 1,
                "rate": 525.0,
                "discount": 0.0,
                "tax_id": "gst5",
                "hsn_or_sac": "2306",
            },
        ],
        "shipping_charge": 50.0,
        "shipping_charge_tax_id": "gst18",  # the principal supply's rate (see test_shipping)
        "gst_treatment": "consumer",
    }


def test_inter_state_invoice_uses_igst_and_the_buyers_gstin() -> None:
    gstin = make_gstin("33")
    payload = invoice(order(shipping_state="tn"), user=user(gstin=gstin, customer_type="b2b"))
    assert payload["place_of_supply"] == "TN"
    assert [line["tax_id"] for line in payload["line_items"]] == ["igst18", "igst5"]
    assert (payload["gst_treatment"], payload["gst_no"]) == ("business_gst", gstin)


@pytest.mark.parametrize("shipping_state", ["ka", "tn"])
def test_an_invoice_mapped_before_its_ids_then_given_them_is_the_invoice_mapped_with_them(
        shipping_state: str) -> None:
    """The invoice flow maps an order once, before its customer and items exist in Books,
    and sets their ids afterwards: that must be the payload mapping with the ids gives (a
    mapping that came to use an id anywhere else would break this)."""
    lines = order_lines()
    lines[1]["sku"] = lines[0]["sku"].lower() + "-b"  # SKUs that are not item-id shaped
    ids = {line["sku"]: f"item-{number}" for number, line in enumerate(lines, start=1)}
    the_order, the_user = order(shipping_state=shipping_state), user(gstin=make_gstin("33"))
    early = invoice(the_order, lines=lines, user=the_user, customer_id="",
                    item_ids=sku_placeholders(lines))
    assert with_zoho_ids(early, "cust-9", ids) == invoice(
        the_order, lines=lines, user=the_user, customer_id="cust-9", item_ids=ids)


def test_invoice_without_user_leaves_gst_treatment_to_the_customer() -> None:
    assert "gst_treatment" not in invoice()


def test_invoice_total_mismatch_names_both_figures() -> None:
    with pytest.raises(MappingError) as caught:
        invoice(order(grand_total=Decimal("2835.51")))
    assert caught.value.record == "order KN-2026-000017"
    assert caught.value.field == "grand_total"
    assert "2835.51" in str(caught.value) and "2835.00" in str(caught.value)


def test_expected_invoice_total() -> None:
    assert expected_invoice_total(order(), order_lines()) == Decimal("2835.00")
    assert expected_invoice_total(order(shipping_charge=0), order_lines()) == Decimal("2785.00")


@pytest.mark.parametrize(
    ("order_changes", "line_changes", "record", "field"),
    [
        ({"shipping_state": "XX"}, {}, "order KN-2026-000017", "shipping_state"),
        ({"shipping_state": None}, {}, "order KN-2026-000017", "shipping_state"),
        ({"paid_at": None}, {}, "order KN-2026-000017", "paid_at"),
        ({}, {"hsn_code": "12"}, "order KN-2026-000017 line 1 (KN-BIO-001)", "hsn_code"),
        ({}, {"gst_rate": "15"}, "order KN-2026-000017 line 1 (KN-BIO-001)", "gst_rate"),
        ({}, {"discount": "2360.01"}, "order KN-2026-000017 line 1 (KN-BIO-001)", "discount"),
        ({}, {"sku": "KN-UNSYNCED"}, "order KN-2026-000017 line 1 (KN-UNSYNCED)", "sku"),
        ({}, {"quantity": 0}, "order KN-2026-000017 line 1 (KN-BIO-001)", "quantity"),
    ],
)
def test_bad_order_fails_naming_record_and_column(
    order_changes: dict[str, Any], line_changes: dict[str, Any], record: str, field: str
) -> None:
    lines = order_lines()
    lines[0] |= line_changes
    with pytest.raises(MappingError) as caught:
        invoice(order(**order_changes), lines=lines)
    assert (caught.value.record, caught.value.field) == (record, field)


def test_order_without_lines_fails() -> None:
    with pytest.raises(MappingError, match="field 'order_items': the document has no lines"):
        invoice(lines=[])


def test_payment_from_order() -> None:
    assert payment_from_order(order(), "inv-1", "cust-1", Decimal("2835.00")) == {
        "customer_id": "cust-1",
        "payment_mode": "banktransfer",
        "amount": 2835.0,
        "date": "2026-04-01",
        "description": "Storefront order KN-2026-000017",
        "invoices": [{"invoice_id": "inv-1", "amount_applied": 2835.0}],
        "reference_number": "pay_Q1w2E3r4T5y6U7",
    }


@pytest.mark.parametrize("mode", PAYMENT_MODES)
def test_payment_modes_are_the_documented_ones(mode: str) -> None:
    payload = payment_from_order(order(), "inv-1", "cust-1", "1.00", payment_mode=mode)
    assert payload["payment_mode"] == mode


def test_payment_mode_outside_the_documented_list_is_refused() -> None:
    with pytest.raises(ValueError, match="'Bank Transfer': Zoho Books accepts only check"):
        payment_from_order(order(), "inv-1", "cust-1", "1.00", payment_mode="Bank Transfer")


def test_payment_needs_a_positive_amount() -> None:
    with pytest.raises(MappingError, match="positive amount"):
        payment_from_order(order(), "inv-1", "cust-1", "0.00")


def estimate(quote_row: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    arguments: dict[str, Any] = {
        "customer_id": "cust-1",
        "item_ids": item_ids(),
        "taxes": TAXES,
        "seller_state": SELLER_STATE,
    } | kwargs
    return estimate_from_quote(quote_row, order_lines(), **arguments)


def test_estimate_from_quote() -> None:
    gstin = make_gstin("33")
    payload = estimate(quote(), user=user(gstin=gstin, customer_type="b2b"))
    assert payload == {
        "customer_id": "cust-1",
        "reference_number": "Q-2026-000005",
        "notes": "Need delivery before the kharif season.",  # the quote's notes
        "place_of_supply": "TN",
        "is_inclusive_tax": True,
        "discount_type": "item_level",
        "line_items": [
            {
                "item_id": "item-001",
                "quantity": 2,
                "rate": 1180.0,
                "discount": 100.0,
                "tax_id": "igst18",
                "hsn_or_sac": "38089199",
            },
            {
                "item_id": "item-002",
                "quantity": 1,
                "rate": 525.0,
                "discount": 0.0,
                "tax_id": "igst5",
                "hsn_or_sac": "2306",
            },
        ],
        "date": "2026-04-03",
        "expiry_date": "2026-05-31",
        "gst_treatment": "business_gst",
        "gst_no": gstin,
    }


def test_an_estimate_mapped_before_its_ids_then_given_them_is_the_estimate_mapped_with_them(
        ) -> None:
    """As for invoices: the estimate flow maps a quote before its customer and items exist."""
    lines = order_lines()
    ids = {line["sku"]: f"item-{number}" for number, line in enumerate(lines, start=1)}
    the_user = user(gstin=make_gstin("33"), customer_type="b2b")
    early = estimate(quote(), user=the_user, customer_id="", item_ids=sku_placeholders(lines))
    assert with_zoho_ids(early, "cust-9", ids) == estimate(
        quote(), user=the_user, customer_id="cust-9", item_ids=ids)


def test_estimate_with_gst_added_on_top_is_exclusive() -> None:
    payload = estimate(quote(grand_total=Decimal("3218.05")))
    assert payload["is_inclusive_tax"] is False


def test_estimate_total_matching_neither_reading_names_the_figures() -> None:
    with pytest.raises(MappingError) as caught:
        estimate(quote(grand_total=Decimal("3000.00")))
    message = str(caught.value)
    assert caught.value.field == "grand_total"
    assert "3000.00" in message and "2785.00" in message and "3218.05" in message


def test_estimate_place_of_supply_falls_back_to_the_user() -> None:
    no_state = quote(shipping_state=None)
    assert estimate(no_state, user=user(shipping_state="MH"))["place_of_supply"] == "MH"
    from_billing = estimate(no_state, user=user(shipping_state=None, billing_state="KA"))
    assert from_billing["place_of_supply"] == "KA"
    assert from_billing["line_items"][0]["tax_id"] == "gst18"
    with pytest.raises(MappingError, match="field 'shipping_state'"):
        estimate(no_state)
