"""Storefront rows -> Zoho CRM v8 record payloads (Contacts and Leads).

Length limits are Zoho's defaults for the standard fields (First Name 40, Last Name 80:
https://www.zoho.com/crm/help/api/modules-fields.html). A long name is split between First_Name
and Last_Name so that it survives whole wherever the two fields together hold it; display text
that still does not fit is shortened with '…' as the last resort, the full text goes to
Description and a warning says so. Identity values (email, GSTIN) are never shortened: a changed
identity would dedupe against the wrong record, so those fail with MappingError instead.

A phone number is not essential to CRM: one that is not a valid number (letters, too short) is
left out, kept as typed in Description, and reported through ``warnings`` (the sync logs them
and puts them in the materialization metadata). Leads carry what is valid: Books-only checks
(GSTIN, ship-to state, line figures) flag the bad value in Description instead of stopping the
lead, so sales hears of every request; the estimate still refuses them.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, TypeVar

from kn_zoho.mapping import validation as v
from kn_zoho.mapping.errors import MappingError

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
_T = TypeVar("_T")


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


Warnings = list[str]


def contact_from_user(user: Row, config: CrmFieldConfig | None = None,
                      warnings: Warnings | None = None) -> dict[str, Any]:
    """A Contacts record for a storefront user, keyed by the user id in the key field.

    Cleared values are sent as null so an edit that removes a phone or company clears it in CRM.
    Description is only sent when it has to carry text that did not fit elsewhere, so notes
    sales wrote in Description are not overwritten on every profile edit.
    """
    config = config or CrmFieldConfig()
    warnings = [] if warnings is None else warnings
    record = user_record(user)
    person = _person(user.get("full_name"), user.get("email"), record, warnings)
    company = v.display(user.get("company"))
    gstin = v.gstin(user.get("gstin"), record)
    billing_state = v.state(user.get("billing_state"), record, "billing_state")
    notes = list(person.notes)
    payload: dict[str, Any] = {
        config.contact_key_field: str(user["id"]),
        "Email": person.email,
        "First_Name": person.first_name,
        "Last_Name": person.last_name,
        "Phone": _optional_phone(user.get("phone"), record, notes, warnings),
        "Mailing_State": billing_state.name if billing_state else None,
        "Mailing_Country": "India" if billing_state else None,
        "Lead_Source": CONTACT_LEAD_SOURCE,
    }
    if company and config.contact_company_field:
        company = _fit(company, COMPANY_MAX, "Company", notes)
    _put_custom(payload, config.contact_company_field, company, "Company", notes)
    _put_custom(payload, config.gstin_field, gstin, "GSTIN", notes)
    if notes:
        payload["Description"] = _description(notes)
    return payload


def lead_from_inquiry(submission: Row, warnings: Warnings | None = None) -> dict[str, Any]:
    """A Leads record for a "Contact us" form submission; subject and message in Description."""
    warnings = [] if warnings is None else warnings
    record = f"inquiry {submission['id']}"
    person = _person(submission.get("name"), submission.get("email"), record, warnings)
    company = v.display(submission.get("company"))
    subject = v.text(submission.get("subject"))
    message = v.text(submission.get("message"))
    lines = [f"Subject: {subject or '(none)'}", "", message or "(no message)", ""]
    if submission.get("created_at"):
        lines.append(f"Submitted: {_timestamp(submission['created_at'])}")
    phone = _optional_phone(submission.get("phone"), record, lines, warnings)
    return _lead(person, company, phone, INQUIRY_LEAD_SOURCE, lines)


def lead_from_quote(quote: Row, user: Row, items: Sequence[Row],
                    warnings: Warnings | None = None) -> dict[str, Any]:
    """A Leads record for a B2B quote request, with a readable quote summary in Description.

    ``items`` are b2b_quote_items joined with their product's ``sku`` and ``name``. The GSTIN
    goes to Description rather than the custom field: that field is set up on Contacts, and a
    Leads layout without it would refuse the whole lead. Only the email is essential: any
    other bad value is flagged in Description ("Not valid: ...") and in ``warnings``.
    """
    warnings = [] if warnings is None else warnings
    record = f"quote {quote['quote_number']}"
    person = _person(user.get("full_name"), user.get("email"), record, warnings)
    company = v.display(user.get("company"))
    flags: list[str] = []
    lines = [*_quote_summary(quote, items, record, flags), ""]
    gstin = _flagged(lambda: v.gstin(user.get("gstin"), record), flags)
    if gstin:
        lines.append(f"GSTIN: {gstin}")
    phone = _optional_phone(user.get("phone"), record, lines, warnings)
    if flags:
        lines += ["", "Not valid (to fix in the storefront before the estimate):", *flags]
        warnings += flags
    return _lead(person, company, phone, QUOTE_LEAD_SOURCE, lines)


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


def _person(full_name: Any, email: Any, record: str, warnings: Warnings) -> _Person:
    """Split a full name into First_Name and Last_Name so that it survives whole.

    Indian names have no reliable family-name position, so this is only a display split: the
    last word is Last_Name (always filled: Zoho requires it) and the rest First_Name, unless
    that does not fit Zoho's limits; then words move from First_Name to Last_Name until both
    fit. Only a name longer than both fields together (or one word longer than Last_Name) is
    shortened, with the full name in Description and a warning. A missing name falls back to
    the email's local part.
    """
    address = v.email(email, record)
    words = (v.display(full_name) or "").split()
    if not words:
        return _Person(address, None, v.truncate(address.split("@")[0], LAST_NAME_MAX), ())
    for cut in range(len(words) - 1, -1, -1):  # words in First_Name: as many as fit
        first = " ".join(words[:cut]) or None
        last = " ".join(words[cut:])
        if v.truncate(last, LAST_NAME_MAX) == last and (
                first is None or v.truncate(first, FIRST_NAME_MAX) == first):
            return _Person(address, first, last, ())
    first = " ".join(words[:-1]) or None
    short_first = v.truncate(first, FIRST_NAME_MAX) if first else None
    short_last = v.truncate(words[-1], LAST_NAME_MAX)
    full = " ".join(words)
    warnings.append(f"{record}: field 'full_name': {v.shown(full)} is longer than Zoho CRM's "
                    f"First Name ({FIRST_NAME_MAX}) and Last Name ({LAST_NAME_MAX}) fields hold; "
                    "sent shortened, the full name is in Description")
    return _Person(address, short_first, short_last, (f"Full name: {full}",))


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


def _quote_summary(quote: Row, items: Sequence[Row], record: str, flags: list[str]
                   ) -> list[str]:
    """The quote as sales reads it; a bad value is shown as typed and flagged, never fatal."""
    lines = [f"B2B quote request {quote['quote_number']}"]
    if quote.get("created_at"):
        lines.append(f"Requested: {_timestamp(quote['created_at'])}")
    if quote.get("valid_until"):
        valid = _flagged(lambda: v.calendar_date(quote["valid_until"], record, "valid_until"),
                         flags)
        lines.append(f"Valid until: {valid or quote['valid_until']}")
    ship_to = _flagged(lambda: v.state(quote.get("shipping_state"), record, "shipping_state"),
                       flags)
    if ship_to:
        lines.append(f"Ship to: {ship_to.name} ({ship_to.code})")
    elif v.text(quote.get("shipping_state")):
        lines.append(f"Ship to: {quote['shipping_state']}")
    lines += ["", "Lines:"]
    for number, item in enumerate(items, start=1):
        lines.append(f"{number}. " + _quote_line(item, f"{record} line {number}", flags))
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
            lines.append(f"{label}: {_amount(quote[column], record, column, flags)}")
    notes = v.text(quote.get("notes"))
    if notes:
        lines += ["", "Customer notes:", notes]
    return lines


def _quote_line(item: Row, line: str, flags: list[str]) -> str:
    quantity = _flagged(lambda: v.quantity(item.get("quantity"), line), flags)
    price = _amount(item.get("unit_price"), line, "unit_price", flags)
    discount = _amount(item.get("discount") or 0, line, "discount", flags)
    line_total = _amount(item.get("line_total"), line, "line_total", flags)
    rate = _flagged(lambda: v.gst_rate(item.get("gst_rate"), line), flags)
    text = f"{item.get('sku') or '?'} {item.get('name') or ''}".rstrip()
    text += f": {quantity if quantity is not None else item.get('quantity')} x {price}"
    if discount != _inr(Decimal(0)):
        text += f" - discount {discount}"
    gst = f"{rate.normalize():f}" if rate is not None else v.shown(item.get("gst_rate"))
    return f"{text} = {line_total} (GST {gst}%)"


def _amount(value: Any, record: str, column: str, flags: list[str]) -> str:
    """An amount as 'INR 1,234.00', or as typed when it is not a valid amount (flagged)."""
    amount = _flagged(lambda: v.money(value, record, column), flags)
    return _inr(amount) if amount is not None else v.shown(value)


def _flagged(check: Callable[[], _T], flags: list[str]) -> _T | None:
    """The checked value, or None with the problem added to ``flags``."""
    try:
        return check()
    except MappingError as error:
        flags.append(f"{error.record}: field '{error.field}': {error.reason}")
        return None


def _optional_phone(raw: Any, record: str, notes: list[str], warnings: Warnings) -> str | None:
    """The phone in E.164, or None when it is not a valid number: kept as typed in ``notes``
    (Description) and reported in ``warnings``; CRM takes the record without it."""
    try:
        return v.phone(raw, record)
    except MappingError as error:
        notes.append(f"Phone as entered: {v.text(raw)} (not a valid number, not sent)")
        warnings.append(f"{error.record}: field 'phone': {error.reason}; sent to Zoho CRM "
                        "without a phone (the number as typed is in Description). Correct "
                        "phone in the storefront to send it")
        return None


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
