"""What an edit after the first sync sends to Books: the contact's update, what its hash covers,
and the status a quote's estimate should reach.

A contact's update is split in two: the contact's own fields (name, company, GST treatment and
GSTIN, place of contact) and its primary contact person (name, email, phone), because Books
keeps email and phone on the persons (https://www.zoho.com/books/api/v3/contacts/): a change of
the contact's own fields is one ``PUT /contacts/{id}`` without ``contact_persons``; a change of
the person needs that person's id, read with the contact first.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kn_zoho.mapping.books import customer_from_user
from kn_zoho.mapping.crm import payload_hash

# The contact's own fields a storefront edit can change (contact_type never changes).
CONTACT_FIELDS = ("contact_name", "company_name", "customer_sub_type", "gst_treatment", "gst_no",
                  "place_of_contact")
PERSON_FIELDS = ("first_name", "last_name", "email", "phone")
# Estimate statuses Books lets no one edit (accepted by the customer, or already invoiced).
FINAL_ESTIMATE_STATUSES = frozenset({"accepted", "invoiced"})
INACTIVE_SUFFIX = ":inactive"


@dataclass(frozen=True)
class ContactUpdate:
    """A user's Books contact as the storefront has it now, in the two parts Books updates."""

    contact: dict[str, Any]
    person: dict[str, Any]

    @property
    def digest(self) -> str:
        """``<contact hash>:<person hash>``: which part changed decides the calls."""
        return f"{payload_hash(self.contact)}:{payload_hash(self.person)}"


def contact_update_from_user(user: Mapping[str, Any]) -> ContactUpdate:
    """The update for the user's contact. A field the user cleared is sent empty, so Books
    drops it too (a consumer's old GSTIN must not stay on the contact). MappingError on bad
    data, naming the user and field. A user with no state at all keeps the contact's place."""
    created = customer_from_user(user)
    contact = {name: created.get(name, "") for name in CONTACT_FIELDS}
    if not contact["place_of_contact"]:  # no state known: Books keeps the one it has
        del contact["place_of_contact"]
    [person] = [p for p in created["contact_persons"] if p.get("is_primary_contact")]
    return ContactUpdate(contact, {name: person.get(name, "") for name in PERSON_FIELDS})


def split_digest(digest: str | None) -> tuple[str | None, str | None]:
    """The two halves of a stored contact digest (None for a digest not of this shape)."""
    if not digest or ":" not in digest:
        return None, None
    contact, _, person = digest.partition(":")
    return contact, person


def item_digest(payload_digest: str, *, inactive: bool) -> str:
    """An item's stored digest: its payload hash, marked when Books has the item inactive."""
    return payload_digest + (INACTIVE_SUFFIX if inactive else "")


def item_digest_parts(stored: str | None) -> tuple[str | None, bool]:
    """(payload hash, whether Books has the item inactive) from a stored item digest."""
    if not stored:
        return None, False
    if stored.endswith(INACTIVE_SUFFIX):
        return stored[: -len(INACTIVE_SUFFIX)], True
    return stored, False
