"""Storefront rows -> Zoho CRM v8 record payloads (Contacts and Leads).

Length limits are Zoho's defaults for the standard fields. Display text (names, company) that is
too long is shortened with '…' so the record still syncs, and the full text goes to Description
where nothing is lost. Identity values (email, GSTIN) are never shortened: a changed identity
would dedupe against the wrong record, so those fail with MappingError instead.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from kn_zoho.mapping import validation as v

FIRST_NAME_MAX = 40
LAST_NAME_MAX = 80
EMAIL_MAX = v.EMAIL_MAX  # enforced by validation.email: identities are never shortened
PHONE_MAX = 30
COMPANY_MAX = 200
DESCRIPTION_MAX = 32000

# Lead_Source picklist values. "Online Store" is in Zoho's default list; the two lead values
# must be added to the Lead Source picklist in CRM setup so reports can filter on them.
CONTACT_LEAD_SOURCE = "Online Store"
INQUIRY_LEAD_SOURCE = "Contact Us Form"
QUOTE_LEAD_SOURCE = "B2B Quote Request"
# Leads' Company is mandatory in Zoho's standard Leads layout (lead conversion turns it into the
# Account), so a lead without one would be refused with MANDATORY_NOT_FOUND.
NO_COMPANY = "Not provided"

# Custom field API names. Zoho's rule (https://www.zoho.com/crm/help/api-names.html): only
# letters, digits and underscores, starting with a letter, no two consecutive underscores and
# no trailing underscore. Each default is the name Zoho generates from the field label an admin
# types in Setup (label "GSTIN" -> GSTIN, "Company Name" -> Company_Name, "KN User ID" ->
# KN_User_ID, "KN Reference" -> KN_Reference); README lists them with type and uniqueness.
DEFAULT_GSTIN_FIELD = "GSTIN"
DEFAULT_CONTACT_COMPANY_FIELD = "Company_Name"
DEFAULT_CONTACT_KEY_FIELD = "KN_User_ID"
DEFAULT_LEAD_REFERENCE_FIELD = "KN_Reference"
GSTIN_FIELD_ENV = "KN_ZOHO_CRM_GSTIN_FIELD"
CONTACT_COMPANY_FIELD_ENV = "KN_ZOHO_CRM_CONTACT_COMPANY_FIELD"
CONTACT_KEY_FIELD_ENV = "KN_ZOHO_CRM_CONTACT_KEY_FIELD"
LEAD_REFERENCE_FIELD_ENV = "KN_ZOHO_CRM_LEAD_REFERENCE_FIELD"
_API_NAME = re.compile(r"^[A-Za-z](?:[A-Za-z0-9]|_(?!_))*(?<!_)$")

Row = Mapping[str, Any]


def is_api_name(name: str) -> bool:
    """True when ``name`` follows Zoho CRM's API name rule (see the link above)."""
    return bool(_API_NAME.match(name))


@dataclass(frozen=True)
class CrmFieldConfig:
    """API names of the custom CRM fields this org uses.

    ``gstin_field`` / ``contact_company_field``: None leaves the value in Description.
    Contacts have no standard Company text field (``Account_Name`` is a lookup that needs an
    Accounts record id). Creating and deduplicating Accounts would turn one idempotent upsert
    into a multi-step, race-prone flow for a value that is only shown to sales, so the company
    goes to a single-line custom text field instead; sales can still link an Account by hand.

    ``contact_key_field``: a unique ("Do not allow duplicate values") single-line Contacts field
    holding the storefront user id, the Contact's key that never changes (an email does).
    ``lead_reference_field``: a unique single-line Leads field holding our record key
    (``inquiry-<id>`` / ``quote-<number>``). Both are required: without them a retry could
    make a second record.
    """

    gstin_field: str | None = DEFAULT_GSTIN_FIELD
    contact_company_field: str | None = DEFAULT_CONTACT_COMPANY_FIELD
    contact_key_field: str = DEFAULT_CONTACT_KEY_FIELD
    lead_reference_field: str = DEFAULT_LEAD_REFERENCE_FIELD

    def __post_init__(self) -> None:
        for name in (self.gstin_field, self.contact_company_field, self.contact_key_field,
                     self.lead_reference_field):
            if name is not None and not is_api_name(name):
                raise ValueError(
                    f"{name!r} is not a Zoho CRM field API name (letters, digits and single "
                    "underscores, starting with a letter, not ending with an underscore)")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> CrmFieldConfig:
        """Read the field names from the environment; unset keeps the default, empty disables
        an optional field (the two key fields cannot be disabled)."""
        env = os.environ if environ is None else environ
        return cls(
            gstin_field=_env_field(env, GSTIN_FIELD_ENV, DEFAULT_GSTIN_FIELD),
            contact_company_field=_env_field(
                env, CONTACT_COMPANY_FIELD_ENV, DEFAULT_CONTACT_COMPANY_FIELD
            ),
            contact_key_field=_required_field(env, CONTACT_KEY_FIELD_ENV,
                                              DEFAULT_CONTACT_KEY_FIELD),
            lead_reference_field=_required_field(env, LEAD_REFERENCE_FIELD_ENV,
                                                 DEFAULT_LEAD_REFERENCE_FIELD),
        )


def user_record(user: Row) -> str:
    return f"user {user['id']}"


def contact_from_user(user: Row, config: CrmFieldConfig | None = None) -> dict[str, Any]:
    """A Contacts record for a storefront user, keyed by the user id in the key field.

    Cleared values are sent as null so an edit that removes a phone or company clears it in CRM.
    Description is only sent when it has to carry text that did not fit elsewhere, so notes
    sales wrote in Description are not overwritten on every profile edit.
    """
    config = config or CrmFieldConfig()
    record = user_record(user)
    person = _person(user.get("full_name"), user.get("email"), record)
    company = v.display(user.get("company"))
    gstin = v.gstin(user.get("gstin"), record)
    billing_state = v.state(user.get("billing_state"), record, "billing_state")
    payload: dict[str, Any] = {
        config.contact_key_field: str(user["id"]),
        "Email": person.email,
        "First_Name": person.first_name,
        "Last_Name": person.last_name,
        "Phone": v.phone(user.get("phone"), record),
        "Mailing_State": billing_state.name if billing_state else None,
        "Mailing_Country": "India" if billing_state else None,
        "Lead_Source": CONTACT_LEAD_SOURCE,
    }
    notes = list(person.notes)
    if company and config.contact_company_field:
        company = _fit(company, COMPANY_MAX, "Company", notes)
    _put_custom(payload, config.contact_company_field, company, "Company", notes)
    _put_custom(payload, config.gstin_field, gstin, "GSTIN", notes)
    if notes:
        payload["Description"] = _description(notes)
    return payload


def lead_from_inquiry(submission: Row) -> dict[str, Any]:
    """A Leads record for a "Contact us" form submission; subject and message in Description."""
    record = f"inquiry {submission['id']}"
    person = _person(submission.get("name"), submission.get("email"), record)
    company = v.display(submission.get("company"))
    subject = v.text(submission.get("subject"))
    message = v.text(submission.get("message"))
    lines = [f"Subject: {subject or '(none)'}", "", message or "(no message)", ""]
    if submission.get("created_at"):
        lines.append(f"Submitted: {_timestamp(submission['created_at'])}")
    return _lead(person, company, v.phone(submission.get("phone"), record),
                 INQUIRY_LEAD_SOURCE, lines)


def lead_from_quote(quote: Row, user: Row, items: Sequence[Row]) -> dict[str, Any]:
    """A Leads record for a B2B quote request, with a readable quote summary in Description.

    ``items`` are b2b_quote_items joined with their product's ``sku`` and ``name``. The GSTIN
    goes to Description rather than the custom field: that field is set up on Contacts, and a
    Leads layout without it would refuse the whole lead.
    """
    record = f"quote {quote['quote_number']}"
    person = _person(user.get("full_name"), user.get("email"), record)
    company = v.display(user.get("company"))
    gstin = v.gstin(user.get("gstin"), record)
    lines = [*_quote_summary(quote, items, record), ""]
    if gstin:
        lines.append(f"GSTIN: {gstin}")
    return _lead(person, company, v.phone(user.get("phone"), record), QUOTE_LEAD_SOURCE, lines)


def _lead(person: _Person, company: str | None, phone: str | None, source: str,
          lines: list[str]) -> dict[str, Any]:
    """The Leads payload both lead kinds share; ``lines`` become the Description."""
    lines += person.notes
    lead_company = _fit(company, COMPANY_MAX, "Company", lines) if company else NO_COMPANY
    return _without_nulls({
        "First_Name": person.first_name,
        "Last_Name": person.last_name,
        "Email": person.email,
        "Phone": phone,
        "Company": lead_company,
        "Lead_Source": source,
        "Description": _description(lines),
    })


def payload_hash(payload: Mapping[str, Any]) -> str:
    """sha256 of the payload's canonical JSON, to skip re-sending an unchanged record."""
    canonical = json.dumps(
        payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_json_value
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class _Person:
    email: str
    first_name: str | None
    last_name: str
    notes: tuple[str, ...]  # full name when it had to be shortened


def _person(full_name: Any, email: Any, record: str) -> _Person:
    """Split a full name: the last word is Last_Name (always filled), the rest First_Name.

    Indian names have no reliable family-name position, so this is only a display split; a
    single word goes to Last_Name because Zoho requires it, and a missing name falls back to
    the email's local part.
    """
    address = v.email(email, record)
    words = (v.display(full_name) or "").split()
    if not words:
        return _Person(address, None, v.truncate(address.split("@")[0], LAST_NAME_MAX), ())
    first = " ".join(words[:-1]) or None
    last = words[-1]
    short_first = v.truncate(first, FIRST_NAME_MAX) if first else None
    short_last = v.truncate(last, LAST_NAME_MAX)
    shortened = short_first != first or short_last != last
    notes = (f"Full name: {' '.join(words)}",) if shortened else ()
    return _Person(address, short_first, short_last, notes)


def _fit(value: str, limit: int, label: str, notes: list[str]) -> str:
    """``value`` shortened to ``limit``; when shortened, the full text is noted for Description."""
    short = v.truncate(value, limit)
    if short != value:
        notes.append(f"{label}: {value}")
    return short


def _put_custom(
    payload: dict[str, Any], field: str | None, value: str | None, label: str, notes: list[str]
) -> None:
    """Set a custom field (null clears it); with no field configured, note the value instead."""
    if field is not None:
        payload[field] = value
    elif value:
        notes.append(f"{label}: {value}")


def _quote_summary(quote: Row, items: Sequence[Row], record: str) -> list[str]:
    lines = [f"B2B quote request {quote['quote_number']}"]
    if quote.get("created_at"):
        lines.append(f"Requested: {_timestamp(quote['created_at'])}")
    if quote.get("valid_until"):
        lines.append(f"Valid until: {v.calendar_date(quote['valid_until'], record, 'valid_until')}")
    ship_to = v.state(quote.get("shipping_state"), record, "shipping_state")
    if ship_to:
        lines.append(f"Ship to: {ship_to.name} ({ship_to.code})")
    lines += ["", "Lines:"]
    for number, item in enumerate(items, start=1):
        line = f"{record} line {number}"
        qty = v.quantity(item.get("quantity"), line)
        price = v.money(item.get("unit_price"), line, "unit_price")
        discount = v.money(item.get("discount") or 0, line, "discount")
        line_total = v.money(item.get("line_total"), line, "line_total")
        rate = v.gst_rate(item.get("gst_rate"), line)
        text = f"{number}. {item.get('sku') or '?'} {item.get('name') or ''}".rstrip()
        text += f": {qty} x {_inr(price)}"
        if discount:
            text += f" - discount {_inr(discount)}"
        lines.append(f"{text} = {_inr(line_total)} (GST {rate.normalize():f}%)")
    if not items:
        lines.append("(no lines)")
    lines.append("")
    for label, column in (
        ("Subtotal", "subtotal"),
        ("Discount", "discount_total"),
        ("GST", "tax_total"),
        ("Grand total", "grand_total"),
    ):
        if quote.get(column) is not None:
            lines.append(f"{label}: {_inr(v.money(quote[column], record, column))}")
    notes = v.text(quote.get("notes"))
    if notes:
        lines += ["", "Customer notes:", notes]
    return lines


def _description(lines: Sequence[str]) -> str:
    return v.truncate("\n".join(lines).strip(), DESCRIPTION_MAX)


def _without_nulls(payload: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in payload.items() if value is not None}


def _inr(amount: Decimal) -> str:
    return f"INR {amount:,.2f}"


def _timestamp(value: Any) -> str:
    if isinstance(value, datetime):
        return v.to_ist(value).strftime("%Y-%m-%d %H:%M IST")
    return str(value)


def _json_value(value: Any) -> str:
    if isinstance(value, Decimal | date):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _env_field(env: Mapping[str, str], name: str, default: str) -> str | None:
    value = env.get(name)
    if value is None:
        return default
    return value.strip() or None


def _required_field(env: Mapping[str, str], name: str, default: str) -> str:
    value = _env_field(env, name, default)
    if value is None:
        raise ValueError(f"{name} must not be empty: it is the record's key in Zoho CRM")
    return value
