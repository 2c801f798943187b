"""Books contacts (customers) with India GST details: create, get, list.

Books keeps contact names unique in an organization, so a second customer with the same
display name is refused; a business registered for GST must give a valid GSTIN, whose state
is the contact's place when none is given.
"""

from __future__ import annotations

import re
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from stdnum import luhn

from kn_zoho.mapping.states import BY_CODE, BY_GST_NUMBER
from kn_zoho.sandbox.books.common import (
    SERVICE,
    books_error,
    copy,
    create_endpoint,
    find_by,
    get_endpoint,
    invalid,
    list_reply,
    missing,
    optional_text,
    required_text,
)
from kn_zoho.sandbox.emails import looks_like_email
from kn_zoho.sandbox.pipeline import zoho_endpoint
from kn_zoho.sandbox.state import SandboxState

GST_TREATMENTS = frozenset({
    "business_gst", "business_none", "consumer", "overseas", "business_sez",
    "sez_developer", "deemed_export", "tax_deductor",
})
# Treatments of GST-registered buyers: they need a GSTIN.
REGISTERED_TREATMENTS = frozenset(GST_TREATMENTS - {"business_none", "consumer", "overseas"})
_GSTIN_SHAPE = re.compile(r"^\d{2}[A-Z]{5}\d{4}[A-Z][1-9A-Z]Z[0-9A-Z]$")
_GSTIN_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def valid_gstin(value: str) -> bool:
    """15 characters: state number, PAN, entity, 'Z', and a mod-36 Luhn check character."""
    return bool(_GSTIN_SHAPE.match(value)) and value[:2] in BY_GST_NUMBER and luhn.is_valid(
        value, _GSTIN_ALPHABET)


def gst_details(payload: dict[str, Any], defaults: dict[str, Any]) -> dict[str, str]:
    """gst_treatment and gst_no from payload, falling back to defaults (e.g. the customer's)."""
    treatment = payload.get("gst_treatment") or defaults.get("gst_treatment") or ""
    if treatment and treatment not in GST_TREATMENTS:
        raise invalid("gst_treatment")
    gst_no = payload.get("gst_no") or defaults.get("gst_no") or ""
    if not isinstance(gst_no, str):
        raise invalid("gst_no")
    gst_no = gst_no.strip().upper()
    if treatment in REGISTERED_TREATMENTS and not gst_no:
        raise missing("gst_no")
    if gst_no and not valid_gstin(gst_no):
        raise invalid("gst_no")
    return {"gst_treatment": treatment, "gst_no": gst_no}


def state_code(value: Any, field: str, default: str = "") -> str:
    """A Books state code such as TS or KA; ``default`` when absent."""
    if value in (None, ""):
        return default
    if not isinstance(value, str) or value.strip().upper() not in BY_CODE:
        raise invalid(field)
    return value.strip().upper()


def new_contact(state: SandboxState, payload: dict[str, Any]) -> dict[str, Any]:
    """Validate and store a contact; call with the state lock held."""
    contacts = state.collection("books", "contacts")
    name = required_text(payload, "contact_name", 200)
    if find_by(contacts.values(), "contact_name", name):
        raise books_error(400, 3062, f'The customer "{name}" already exists. Please specify '
                                     "a different name.")
    persons = payload.get("contact_persons") or []
    if not isinstance(persons, list) or not all(isinstance(p, dict) for p in persons):
        raise invalid("contact_persons")
    primary = next((p for p in persons if p.get("is_primary_contact")), persons[0] if persons
                   else {})
    email = optional_text(payload, "email", 100) or optional_text(primary, "email", 100)
    if email and not looks_like_email(email):
        raise invalid("email")
    contact_type = payload.get("contact_type") or "customer"
    if contact_type not in ("customer", "vendor"):
        raise invalid("contact_type")
    sub_type = payload.get("customer_sub_type") or "business"
    if sub_type not in ("business", "individual"):
        raise invalid("customer_sub_type")
    gst = gst_details(payload, {})
    home = BY_GST_NUMBER[gst["gst_no"][:2]].code if gst["gst_no"] else ""
    now = state.books_timestamp()
    contact = {
        "contact_id": state.new_id("books"),
        "contact_name": name,
        "company_name": optional_text(payload, "company_name", 200),
        "contact_type": contact_type,
        "customer_sub_type": sub_type,
        "status": "active",
        "email": email,
        "phone": optional_text(payload, "phone", 50) or optional_text(primary, "phone", 50),
        **gst,
        "place_of_contact": state_code(payload.get("place_of_contact"), "place_of_contact",
                                       home),
        "contact_persons": copy(persons),
        "currency_code": "INR",
        "created_time": now,
        "last_modified_time": now,
    }
    contacts[contact["contact_id"]] = contact
    return contact


async def list_contacts(request: Request, state: SandboxState) -> Response:
    with state.lock:
        records = list(state.collection("books", "contacts").values())
        return list_reply(request, records, "contacts", "Contacts",
                          filters=("contact_name", "company_name", "email", "phone"),
                          search_fields=("contact_name", "company_name", "email"))


def contact_routes() -> list[Route]:
    return [
        Route("/books/v3/contacts", zoho_endpoint(SERVICE, create_endpoint(
            new_contact, "The contact has been added.", "contact")), methods=["POST"]),
        Route("/books/v3/contacts", zoho_endpoint(SERVICE, list_contacts), methods=["GET"]),
        Route("/books/v3/contacts/{contact_id}", zoho_endpoint(SERVICE, get_endpoint(
            "contacts", "contact_id", "Contact", "contact")),
              methods=["GET"]),
    ]
