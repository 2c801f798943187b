"""What a profile edit sends to a Books contact, and which half of its hash an edit moves."""

from __future__ import annotations

import pytest

from kn_zoho.mapping.books_edits import (
    contact_update_from_user,
    item_digest,
    item_digest_parts,
    split_digest,
)
from kn_zoho.mapping.errors import MappingError
from kn_zoho_tests.mapping.factories import make_gstin, user


def test_a_registered_business_sends_its_gstin_and_place() -> None:
    update = contact_update_from_user(user(customer_type="b2b", gstin=make_gstin("27"),
                                           company="Kumar Agro", billing_state=None))
    assert update.contact == {
        "contact_name": "Ravi Kumar", "company_name": "Kumar Agro",
        "customer_sub_type": "business", "gst_treatment": "business_gst",
        "gst_no": make_gstin("27"), "place_of_contact": "MH"}  # the GSTIN's state
    assert update.person == {"first_name": "Ravi", "last_name": "Kumar",
                             "email": "ravi.kumar@example.com", "phone": "+919845012345"}


def test_a_consumer_clears_an_old_gstin_and_company() -> None:
    update = contact_update_from_user(user())
    assert (update.contact["gst_treatment"], update.contact["gst_no"],
            update.contact["company_name"]) == ("consumer", "", "")


def test_only_the_half_an_edit_touches_changes() -> None:
    before = split_digest(contact_update_from_user(user()).digest)
    phone = split_digest(contact_update_from_user(user(phone="99000 11111")).digest)
    moved = split_digest(contact_update_from_user(user(billing_state="TN")).digest)
    assert (phone[0], moved[1]) == (before[0], before[1])
    assert phone[1] != before[1] and moved[0] != before[0]
    assert split_digest(None) == split_digest("legacy-hash") == (None, None)


def test_bad_data_names_the_user_and_field() -> None:
    with pytest.raises(MappingError, match="gstin"):
        contact_update_from_user(user(gstin="29AAAAA0000A1Z0"))


def test_item_digest_records_whether_books_has_it_inactive() -> None:
    assert item_digest_parts(item_digest("abc", inactive=True)) == ("abc", True)
    assert item_digest_parts(item_digest("abc", inactive=False)) == ("abc", False)
    assert item_digest_parts(None) == (None, False)
