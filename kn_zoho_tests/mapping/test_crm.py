from __future__ import annotations

from decimal import Decimal

import pytest

from kn_zoho.mapping.crm import (
    NO_COMPANY,
    CrmFieldConfig,
    contact_from_user,
    lead_from_inquiry,
    lead_from_quote,
    payload_hash,
)
from kn_zoho.mapping.errors import MappingError
from kn_zoho_tests.mapping.factories import make_gstin, quote, user, with_wrong_check_character

LONG_COMPANY = ("Krishna Narayana Biosciences and Agro Inputs Private Limited " * 6)[:300]


def test_contact_from_user() -> None:
    gstin = make_gstin()
    contact = contact_from_user(
        user(company="KN Agro Pvt Ltd", gstin=gstin, customer_type="b2b"), CrmFieldConfig()
    )
    assert contact == {
        "KN_User_ID": "3f2a9c1e-0000-4000-8000-000000000001",
        "Email": "ravi.kumar@example.com",
        "First_Name": "Ravi",
        "Last_Name": "Kumar",
        "Phone": "+919845012345",
        "Mailing_State": "Karnataka",
        "Mailing_Country": "India",
        "Lead_Source": "Online Store",
        "Company_Name": "KN Agro Pvt Ltd",
        "GSTIN": gstin,
    }


def test_contact_sends_nulls_so_cleared_values_clear_in_crm() -> None:
    contact = contact_from_user(user(phone=None, billing_state=None, full_name="Ravi"))
    assert contact["Phone"] is None
    assert contact["First_Name"] is None
    assert contact["Mailing_State"] is None
    assert contact["Company_Name"] is None and contact["GSTIN"] is None
    assert "Description" not in contact  # nothing overflowed: sales notes stay untouched


@pytest.mark.parametrize(
    ("full_name", "first", "last"),
    [
        ("Madonna", None, "Madonna"),
        ("  Ravi   Kumar  Sharma ", "Ravi Kumar", "Sharma"),
        ("José Müller", "José", "Müller"),
        ("अनिल कुमार", "अनिल", "कुमार"),
        ("李小龙", None, "李小龙"),
        (None, None, "ravi.kumar"),
        ("   ", None, "ravi.kumar"),
    ],
)
def test_name_split(full_name: str | None, first: str | None, last: str) -> None:
    contact = contact_from_user(user(full_name=full_name))
    assert (contact["First_Name"], contact["Last_Name"]) == (first, last)


def test_long_names_are_split_to_survive_whole() -> None:
    full_name = "Venkata Subrahmanya Lakshmi Narasimha Srinivasa Raghavendra Rao"
    contact = contact_from_user(user(full_name=full_name))
    assert contact["First_Name"] == "Venkata Subrahmanya Lakshmi Narasimha"
    assert contact["Last_Name"] == "Srinivasa Raghavendra Rao"
    assert "Description" not in contact


def test_300_character_company_still_syncs() -> None:
    contact = contact_from_user(user(company=LONG_COMPANY))
    assert len(contact["Company_Name"]) <= 200
    assert contact["Company_Name"].endswith("…")
    assert LONG_COMPANY.strip() in contact["Description"]


def test_lowercase_gstin_is_normalised() -> None:
    gstin = make_gstin("27")
    contact = contact_from_user(user(gstin=f" {gstin.lower()} "))
    assert contact["GSTIN"] == gstin


def test_bad_checksum_gstin_fails_naming_field_gstin() -> None:
    bad = with_wrong_check_character(make_gstin())
    with pytest.raises(MappingError) as caught:
        contact_from_user(user(gstin=bad))
    assert caught.value.field == "gstin"
    assert caught.value.record == f"user {user()['id']}"
    assert "field 'gstin'" in str(caught.value)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"email": "ravi.example.com"}, "email"),
        ({"email": None}, "email"),
        ({"email": "r" * 95 + "@example.com"}, "email"),  # identities are never shortened
        ({"billing_state": "XX"}, "billing_state"),
        ({"gstin": "29AAPFU0939F1Z"}, "gstin"),
    ],
)
def test_invalid_user_data_fails_naming_the_column(changes: dict, field: str) -> None:
    with pytest.raises(MappingError) as caught:
        contact_from_user(user(**changes))
    assert caught.value.field == field


def test_custom_field_names_come_from_the_environment() -> None:
    config = CrmFieldConfig.from_env(
        {"KN_ZOHO_CRM_GSTIN_FIELD": "GST_Number", "KN_ZOHO_CRM_CONTACT_COMPANY_FIELD": "Firm"}
    )
    assert config == CrmFieldConfig(gstin_field="GST_Number", contact_company_field="Firm")
    assert CrmFieldConfig.from_env({}) == CrmFieldConfig("GSTIN", "Company_Name")
    contact = contact_from_user(user(company="KN Agro", gstin=make_gstin()), config)
    assert contact["Firm"] == "KN Agro" and contact["GST_Number"] == make_gstin()


def test_empty_field_name_disables_the_field_and_keeps_the_value_in_description() -> None:
    config = CrmFieldConfig.from_env(
        {"KN_ZOHO_CRM_GSTIN_FIELD": "", "KN_ZOHO_CRM_CONTACT_COMPANY_FIELD": " "}
    )
    assert config == CrmFieldConfig(gstin_field=None, contact_company_field=None)
    contact = contact_from_user(user(company=LONG_COMPANY, gstin=make_gstin()), config)
    assert "GSTIN" not in contact and "Company_Name" not in contact
    assert f"GSTIN: {make_gstin()}" in contact["Description"]
    assert f"Company: {LONG_COMPANY.strip()}" in contact["Description"]


@pytest.mark.parametrize("name", ["GSTIN; DROP", "GSTIN__c", "KN_Reference_", "_KN", "1GSTIN",
                                  "KN__Ref"])
def test_bad_field_api_name_is_refused(name: str) -> None:
    """Zoho: letters, digits, underscores; starts with a letter; no '__'; no trailing '_'."""
    with pytest.raises(ValueError, match="API name"):
        CrmFieldConfig(gstin_field=name)


def test_defaults_are_legal_zoho_api_names_and_keys_are_configurable() -> None:
    config = CrmFieldConfig.from_env({})
    assert (config.gstin_field, config.contact_company_field, config.contact_key_field,
            config.lead_reference_field) == ("GSTIN", "Company_Name", "KN_User_ID",
                                             "KN_Reference")
    custom = CrmFieldConfig.from_env({"KN_ZOHO_CRM_CONTACT_KEY_FIELD": "Storefront_ID",
                                      "KN_ZOHO_CRM_LEAD_REFERENCE_FIELD": "Web_Ref"})
    assert (custom.contact_key_field, custom.lead_reference_field) == ("Storefront_ID",
                                                                       "Web_Ref")
    assert contact_from_user(user(), custom)["Storefront_ID"] == user()["id"]
    with pytest.raises(ValueError, match="KN_ZOHO_CRM_CONTACT_KEY_FIELD"):
        CrmFieldConfig.from_env({"KN_ZOHO_CRM_CONTACT_KEY_FIELD": ""})


def inquiry(**changes: object) -> dict:
    row = {
        "id": "c0ffee00-0000-4000-8000-000000000042",
        "name": "Meena",
        "email": "Meena@Farm.IN",
        "phone": None,
        "company": None,
        "subject": "Bulk neem cake",
        "message": "Do you deliver 2 tonnes to Madurai?",
    }
    return row | changes


def test_lead_from_inquiry() -> None:
    lead = lead_from_inquiry(inquiry())
    assert lead == {
        "Last_Name": "Meena",
        "Email": "Meena@farm.in",
        "Company": NO_COMPANY,  # mandatory in the standard Leads layout
        "Lead_Source": "Contact Us Form",
        "Description": "Subject: Bulk neem cake\n\nDo you deliver 2 tonnes to Madurai?",
    }


def test_lead_from_inquiry_with_long_company() -> None:
    lead = lead_from_inquiry(inquiry(company=LONG_COMPANY, phone="+91 44 2345 6789"))
    assert len(lead["Company"]) <= 200
    assert lead["Phone"] == "+914423456789"
    assert f"Company: {LONG_COMPANY.strip()}" in lead["Description"]


def test_lead_from_inquiry_rejects_a_bad_email() -> None:
    with pytest.raises(MappingError, match=r"^inquiry c0ffee00-.*: field 'email'"):
        lead_from_inquiry(inquiry(email="meena at farm"))


def quote_items() -> list[dict]:
    return [
        {
            "sku": "KN-BIO-001",
            "name": "Trichoderma viride 1 kg",
            "quantity": 2,
            "unit_price": Decimal("1180.00"),
            "discount": Decimal("100.00"),
            "gst_rate": Decimal("18.00"),
            "line_total": Decimal("2260.00"),
        },
        {
            "sku": "KN-BIO-002",
            "name": "Neem cake 5 kg",
            "quantity": 1,
            "unit_price": Decimal("525.00"),
            "discount": Decimal("0"),
            "gst_rate": Decimal("5.00"),
            "line_total": Decimal("525.00"),
        },
    ]


def test_lead_from_quote() -> None:
    gstin = make_gstin("33")
    lead = lead_from_quote(quote(), user(company="KN Agro", gstin=gstin), quote_items())
    assert lead["Lead_Source"] == "B2B Quote Request"
    assert lead["Company"] == "KN Agro"
    assert (lead["First_Name"], lead["Last_Name"]) == ("Ravi", "Kumar")
    description = lead["Description"]
    for expected in (
        "B2B quote request Q-2026-000005",
        "Valid until: 2026-05-31",
        "Ship to: Tamil Nadu (TN)",
        "1. KN-BIO-001 Trichoderma viride 1 kg: 2 x INR 1,180.00 - discount INR 100.00"
        " = INR 2,260.00 (GST 18%)",
        "2. KN-BIO-002 Neem cake 5 kg: 1 x INR 525.00 = INR 525.00 (GST 5%)",
        "Grand total: INR 2,785.00",
        "Need delivery before the kharif season.",
        f"GSTIN: {gstin}",
    ):
        assert expected in description


def test_lead_from_quote_without_company_or_lines() -> None:
    lead = lead_from_quote(quote(notes=None, valid_until=None), user(), [])
    assert lead["Company"] == NO_COMPANY
    assert "(no lines)" in lead["Description"]
    assert "Valid until" not in lead["Description"]


def test_lead_from_quote_flags_the_bad_line_in_description() -> None:
    items = quote_items()
    items[1]["gst_rate"] = Decimal("17")
    warnings: list[str] = []
    lead = lead_from_quote(quote(), user(), items, warnings)
    flag = "quote Q-2026-000005 line 2: field 'gst_rate': 17 is not a GST rate"
    assert flag in lead["Description"]
    assert [w for w in warnings if w.startswith(flag)]


def test_payload_hash_is_stable_and_sensitive() -> None:
    payload = {"Email": "a@b.co", "Last_Name": "Rao", "Amount": Decimal("10.50"), "Nested": [1]}
    reordered = {"Nested": [1], "Amount": Decimal("10.50"), "Last_Name": "Rao", "Email": "a@b.co"}
    assert payload_hash(payload) == payload_hash(reordered)
    assert len(payload_hash(payload)) == 64
    assert payload_hash(payload) != payload_hash(payload | {"Last_Name": "Roa"})
    first = contact_from_user(user())
    assert payload_hash(first) == payload_hash(contact_from_user(user()))
    assert payload_hash(first) != payload_hash(contact_from_user(user(phone=None)))
