from __future__ import annotations

import pickle
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from kn_zoho.mapping import validation as v
from kn_zoho.mapping.errors import MappingError
from kn_zoho_tests.mapping.factories import make_gstin, with_wrong_check_character

RECORD = "user 3f2a"


def test_mapping_error_names_record_field_and_reason() -> None:
    reason = "'XX' is not an Indian state code"
    error = MappingError("order KN-2026-000017", "shipping_state", reason)
    assert str(error) == (
        "order KN-2026-000017: field 'shipping_state': 'XX' is not an Indian state code. "
        "Correct shipping_state of order KN-2026-000017 in the storefront; saving the change "
        "syncs it again."
    )
    assert isinstance(error, ValueError)
    copy = pickle.loads(pickle.dumps(error))  # noqa: S301 (our own bytes, as Dagster pickles)
    assert (copy.record, copy.field, copy.reason, copy.action) == (
        error.record, error.field, error.reason, error.action)
    custom = MappingError("r", "f", "bad", "Fix it in Books")
    assert str(custom) == "r: field 'f': bad. Fix it in Books."


def test_state_code_error_message() -> None:
    with pytest.raises(MappingError) as caught:
        v.state("XX", "order KN-2026-000017", "shipping_state")
    assert str(caught.value).startswith(
        "order KN-2026-000017: field 'shipping_state': 'XX' is not an Indian state code. "
    )


@pytest.mark.parametrize(("raw", "code"), [("KA", "KA"), (" tn ", "TN"), ("la", "LA")])
def test_state_codes_are_case_insensitive(raw: str, code: str) -> None:
    found = v.state(raw, RECORD, "billing_state")
    assert found is not None and found.code == code


@pytest.mark.parametrize("raw", [None, "", "   "])
def test_empty_state_is_none_unless_required(raw: str | None) -> None:
    assert v.state(raw, RECORD, "billing_state") is None
    with pytest.raises(MappingError, match="'shipping_state': state code is missing"):
        v.required_state(raw, RECORD, "shipping_state")


@pytest.mark.parametrize(
    ("raw", "normalized"),
    [
        ("Ravi.Kumar@Example.COM", "Ravi.Kumar@example.com"),
        ("  a@b.co  ", "a@b.co"),
    ],
)
def test_email_is_normalised_with_lower_case_domain(raw: str, normalized: str) -> None:
    assert v.email(raw, RECORD) == normalized


@pytest.mark.parametrize("raw", ["not-an-email", "a@b", "a b@example.com", "ravi@@example.com"])
def test_bad_email_fails_naming_the_field(raw: str) -> None:
    with pytest.raises(MappingError) as caught:
        v.email(raw, RECORD)
    assert caught.value.field == "email"
    assert caught.value.record == RECORD


def test_missing_or_too_long_email_fails() -> None:
    with pytest.raises(MappingError, match="missing"):
        v.email(None, RECORD)
    with pytest.raises(MappingError, match="100 characters"):
        v.email("a" * 60 + "@" + "b" * 40 + ".com", RECORD)


@pytest.mark.parametrize(
    "raw", ["98450 12345", "+91 98450-12345", "09845012345", "919845012345", "(+91) 9845012345"]
)
def test_phone_goes_to_e164_with_india_default(raw: str) -> None:
    assert v.phone(raw, RECORD) == "+919845012345"


def test_foreign_phone_keeps_its_country() -> None:
    assert v.phone("+1 650-253-0000", RECORD) == "+16502530000"


@pytest.mark.parametrize("raw", [None, "", "   "])
def test_missing_phone_is_none(raw: str | None) -> None:
    assert v.phone(raw, RECORD) is None


@pytest.mark.parametrize("raw", ["12345", "call me", "+91 12345 67890 12345"])
def test_invalid_phone_fails(raw: str) -> None:
    with pytest.raises(MappingError) as caught:
        v.phone(raw, RECORD)
    assert caught.value.field == "phone"


def test_gstin_is_upper_cased_and_stripped() -> None:
    gstin = make_gstin()
    assert v.gstin(f"  {gstin.lower()} ", RECORD) == gstin
    assert v.gstin(f"{gstin[:2]} {gstin[2:12]}-{gstin[12:]}", RECORD) == gstin


@pytest.mark.parametrize("state_digits", ["01", "07", "27", "29", "33", "37", "38", "97"])
def test_gstin_of_every_kind_of_state_is_accepted(state_digits: str) -> None:
    # 38 (Ladakh) and 97 (Other Territory) are valid although stdnum only knows 01-37.
    gstin = make_gstin(state_digits)
    assert v.gstin(gstin, RECORD) == gstin
    assert v.gstin_state(gstin).gst_number == state_digits


@pytest.mark.parametrize("raw", [None, "", "  "])
def test_missing_gstin_is_none(raw: str | None) -> None:
    assert v.gstin(raw, RECORD) is None


def test_bad_checksum_gstin_fails_naming_field_gstin() -> None:
    bad = with_wrong_check_character(make_gstin())
    with pytest.raises(MappingError) as caught:
        v.gstin(bad, RECORD)
    assert caught.value.field == "gstin"
    assert "check character" in caught.value.reason
    assert str(caught.value).startswith(f"{RECORD}: field 'gstin': ")


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (make_gstin()[:14], "is not a GSTIN"),
        (make_gstin(entity="0"), "is not a GSTIN"),
        (make_gstin("99"), "no Indian state"),
        (make_gstin("25"), "no Indian state"),  # Daman and Diu, merged into 26 in 2020
        (make_gstin(pan="AAPFU0000F"), "valid PAN"),
    ],
)
def test_malformed_gstin_fails(raw: str, reason: str) -> None:
    with pytest.raises(MappingError, match=reason) as caught:
        v.gstin(raw, RECORD)
    assert caught.value.field == "gstin"


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("3808", "3808"),
        ("380891", "380891"),
        ("38089199", "38089199"),
        ("3808.91", "380891"),
        (" 3808 91 99 ", "38089199"),
    ],
)
def test_hsn_code(raw: str, code: str) -> None:
    assert v.hsn_code(raw, "product KN-1") == code


@pytest.mark.parametrize("raw", [None, "", "380", "38089", "3808919", "380891991", "ABCD", "३८०८"])
def test_bad_hsn_code_fails(raw: str | None) -> None:
    with pytest.raises(MappingError) as caught:
        v.hsn_code(raw, "product KN-1")
    assert caught.value.field == "hsn_code"


@pytest.mark.parametrize("raw", [0, "0", 5, "12", Decimal("18.00"), "28", "0.25", "3", "40"])
def test_gst_rates_in_law_are_accepted(raw: object) -> None:
    assert v.gst_rate(raw, "product KN-1") == Decimal(str(raw))


@pytest.mark.parametrize("raw", [7, "17.5", "-5", "100", "abc", None, True])
def test_other_gst_rates_fail(raw: object) -> None:
    with pytest.raises(MappingError) as caught:
        v.gst_rate(raw, "product KN-1")
    assert caught.value.field == "gst_rate"


@pytest.mark.parametrize(("raw", "amount"), [("10.50", "10.50"), (3, "3"), (Decimal("0"), "0")])
def test_money(raw: object, amount: str) -> None:
    assert v.money(raw, RECORD, "price") == Decimal(amount)


@pytest.mark.parametrize(
    ("raw", "reason"),
    [("-1", "negative"), ("1.005", "two decimal"), ("x", "not a number"), (None, "missing")],
)
def test_bad_money_fails(raw: object, reason: str) -> None:
    with pytest.raises(MappingError, match=reason):
        v.money(raw, RECORD, "price")


@pytest.mark.parametrize("raw", [0, -1, "1.5", None])
def test_bad_quantity_fails(raw: object) -> None:
    with pytest.raises(MappingError) as caught:
        v.quantity(raw, RECORD)
    assert caught.value.field == "quantity"


@pytest.mark.parametrize(
    ("moment", "day"),
    [
        (datetime(2026, 3, 31, 20, 0, tzinfo=UTC), "2026-04-01"),
        (datetime(2026, 3, 31, 18, 29, tzinfo=UTC), "2026-03-31"),
        (datetime(2026, 3, 31, 18, 30), "2026-04-01"),  # naive: taken as UTC
        (
            datetime(2026, 4, 1, 0, 10, tzinfo=timezone(timedelta(hours=5, minutes=30))),
            "2026-04-01",
        ),
        ("2026-03-31T20:00:00Z", "2026-04-01"),
        (date(2026, 4, 1), "2026-04-01"),
    ],
)
def test_ist_date(moment: object, day: str) -> None:
    assert v.ist_date(moment, "order KN-1", "paid_at") == day


def test_missing_ist_date_fails() -> None:
    with pytest.raises(MappingError, match="'paid_at'"):
        v.ist_date(None, "order KN-1", "paid_at")


def _utf16(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


@pytest.mark.parametrize(
    ("text", "limit", "expected"),
    [
        ("short", 10, "short"),
        ("exactly10!", 10, "exactly10!"),
        ("Acme Bio Sciences", 10, "Acme Bio…"),  # trailing space dropped before the ellipsis
        ("नमस्ते दुनिया", 6, "नम…"),  # 'स्ते' is one cluster: no stray vowel sign or virama
        ("क्षत्रिय", 5, "क्ष…"),  # the conjunct 'त्र' is dropped whole, not cut after its virama
        ("ab👍🏽cd", 5, "ab…"),  # nor the halves or the skin tone of an emoji
        ("😀😀😀", 4, "😀…"),  # an emoji is two UTF-16 units, as Java counts
    ],
)
def test_truncate_cuts_cleanly(text: str, limit: int, expected: str) -> None:
    assert v.truncate(text, limit) == expected
    assert _utf16(v.truncate(text, limit)) <= limit


def test_truncate_keeps_a_300_character_company_within_200() -> None:
    company = ("KN Biosciences Agro Research Private Limited " * 7)[:300]
    short = v.truncate(company, 200)
    assert len(short) <= 200 and short.endswith("…")
    assert company.startswith(short[:-1])
