"""Validators and normalisers for storefront values on their way to Zoho.

Each takes the raw column value plus the record label and column name, and either returns the
value in the form Zoho wants or raises MappingError naming that column. Catching bad data here
turns what would be an opaque Zoho INVALID_DATA reply (or, worse, a wrong tax document) into a
permanent failure with a message the admin can act on.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

import phonenumbers
from email_validator import EmailNotValidError, validate_email
from stdnum import luhn
from stdnum.in_ import gstin as stdnum_gstin
from stdnum.in_ import pan as stdnum_pan

from kn_zoho.mapping.errors import MappingError
from kn_zoho.mapping.states import BY_GST_NUMBER, State, state_for_code

IST = ZoneInfo("Asia/Kolkata")
PAISA = Decimal("0.01")
ELLIPSIS = "…"

# GST rates in force for goods (IGST %): 0.1 merchant exports, 0.25 rough diamonds, 1.5 cut
# diamonds, 3 gold, 6 bricks, 5/12/18/28 the main slabs, 40 the demerit slab of GST 2.0
# (22 Sep 2025). The storefront uses 0/5/12/18/28; anything else is a typo, not a tax.
GST_RATES: frozenset[Decimal] = frozenset(
    Decimal(rate) for rate in ("0", "0.1", "0.25", "1.5", "3", "5", "6", "12", "18", "28", "40")
)

EMAIL_MAX = 100  # Zoho CRM and Books email fields
DEFAULT_PHONE_REGION = "IN"
_HSN_LENGTHS = (4, 6, 8)
# Same shape python-stdnum checks: state digits, PAN, entity number (not 0), 'Z', check char.
_GSTIN_FORMAT = re.compile(r"^[0-9]{2}[A-Z]{5}[0-9]{4}[A-Z][1-9A-Z]Z[0-9A-Z]$")
_GSTIN_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_PHONE_LETTER = re.compile(r"[^\W\d_]")  # any letter, in any script
# Rule 46(b) of the CGST Rules: a consecutive serial number of at most sixteen characters, in
# one or multiple series, containing alphabets or numerals or special characters hyphen or
# dash and slash ("-" and "/"). ASCII letters only: the GST portal takes nothing else.
_DOCUMENT_NUMBER = re.compile(r"^[A-Za-z0-9/-]+$")
DOCUMENT_NUMBER_MAX = 16
INR = "INR"


def shown(value: Any) -> str:
    """A value as a person would write it in a message: text in quotes, numbers plain.

    Never a Python repr (``Decimal('7.00')``, ``datetime.date(...)``): admins read these.
    """
    if value is None:
        return "(empty)"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, Decimal):
        return f"{value:f}"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    return f"'{value}'"


def text(value: Any) -> str | None:
    """A stripped string, or None for NULL and blank values."""
    if value is None:
        return None
    stripped = str(value).strip()
    return stripped or None


def display(value: Any) -> str | None:
    """Display text (names, company) with whitespace runs collapsed; None when blank."""
    collapsed = " ".join(str(value).split()) if value is not None else ""
    return collapsed or None


def email(value: Any, record: str, field: str = "email") -> str:
    """Syntax-checked email (no DNS lookup) with the domain lower-cased; required.

    An address is an identity (CRM dedupes on it), so one over Zoho's 100 characters fails
    rather than being shortened into someone else's address.

    ASCII local parts only (no SMTPUTF8): Zoho does not document accepting internationalised
    addresses, and one it refused would fail there with a less clear message.
    """
    raw = text(value)
    if raw is None:
        raise MappingError(record, field, "email address is missing")
    normalized, problem = _checked_email(raw)
    if problem is not None:
        raise MappingError(record, field, problem)
    return normalized


@functools.lru_cache(maxsize=4096)
def _checked_email(raw: str) -> tuple[str, str | None]:
    """(normalized address, None) or ("", why not): a pure function of the text, kept, since
    a sync maps the same user several times (customer, contact digest, contact update)."""
    try:
        result = validate_email(raw, check_deliverability=False, allow_smtputf8=False)
    except EmailNotValidError as error:
        return "", f"{shown(raw)} is not a valid email address: {error}"
    if len(result.normalized) > EMAIL_MAX:
        return "", f"{shown(raw)} is longer than Zoho's {EMAIL_MAX} characters"
    return result.normalized, None


def phone(value: Any, record: str, field: str = "phone") -> str | None:
    """E.164 phone number (India when no country code is given); None when empty.

    Letters are refused: phonenumbers would turn ``98450-KISAN`` into keypad digits, a
    plausible number nobody gave us. Only digits, spaces, ``+ - . ( ) /`` are accepted.
    """
    raw = text(value)
    if raw is None:
        return None
    if _PHONE_LETTER.search(raw):
        raise MappingError(record, field, f"{shown(raw)} contains letters; a phone number has "
                           "digits only (spaces, '+', '-', '(', ')' are fine)")
    e164 = _e164(raw)
    if e164 is None:
        raise MappingError(record, field, f"{shown(raw)} is not a valid phone number")
    return e164


@functools.lru_cache(maxsize=4096)
def _e164(raw: str) -> str | None:
    """The number in E.164, None if not a valid one: pure, kept like :func:`_checked_email`."""
    try:
        number = phonenumbers.parse(raw, DEFAULT_PHONE_REGION)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def gstin(value: Any, record: str, field: str = "gstin") -> str | None:
    """Upper-cased GSTIN with a valid PAN, known state digits and check character; None if empty.

    python-stdnum's ``gstin.validate`` only knows state digits 01-37, so valid Ladakh (38) and
    Other Territory (97) numbers would fail there; the same rules are applied here against the
    project's state table instead (stdnum's PAN check and Luhn mod 36).
    """
    raw = text(value)
    if raw is None:
        return None
    number = stdnum_gstin.compact(raw)
    if not _GSTIN_FORMAT.match(number):
        raise MappingError(
            record,
            field,
            f"{shown(raw)} is not a GSTIN (15 characters: state digits, PAN, "
            "entity number, 'Z', check character)",
        )
    if number[:2] not in BY_GST_NUMBER:
        raise MappingError(record, field,
                           f"{shown(number)} starts with {shown(number[:2])}, no Indian state")
    if not stdnum_pan.is_valid(number[2:12]):
        raise MappingError(record, field, f"{shown(number)} does not contain a valid PAN")
    if not luhn.is_valid(number, _GSTIN_ALPHABET):
        raise MappingError(record, field, f"{shown(number)} has a wrong check character")
    return number


def gstin_state(number: str) -> State:
    """The state a validated GSTIN is registered in."""
    return BY_GST_NUMBER[number[:2]]


def state(value: Any, record: str, field: str) -> State | None:
    """The Indian state for a Zoho state code ('KA', 'TN', ...); None when empty."""
    raw = text(value)
    if raw is None:
        return None
    found = state_for_code(raw)
    if found is None:
        raise MappingError(record, field, f"{shown(raw)} is not an Indian state code")
    return found


def required_state(value: Any, record: str, field: str) -> State:
    """Like ``state`` but the value must be present (e.g. the GST place of supply)."""
    found = state(value, record, field)
    if found is None:
        raise MappingError(record, field, "state code is missing")
    return found


def document_number(value: Any, record: str, field: str) -> str:
    """A GST invoice serial: letters, digits, '-' and '/', at most 16 characters."""
    raw = text(value)
    if raw is None:
        raise MappingError(record, field, "number is missing")
    if len(raw) > DOCUMENT_NUMBER_MAX:
        raise MappingError(record, field, f"{shown(raw)} is longer than the "
                           f"{DOCUMENT_NUMBER_MAX} characters GST allows a document number")
    if not _DOCUMENT_NUMBER.match(raw):
        bad = "".join(sorted({c for c in raw if not _DOCUMENT_NUMBER.match(c)}))
        raise MappingError(record, field, f"{shown(raw)} contains {shown(bad)}; GST allows only "
                           "letters, digits, '-' and '/' in a document number")
    return raw


def currency(value: Any, record: str, field: str = "currency") -> str:
    """The order's currency, which must be INR (the Books organization's base currency).

    Sending the same figures labelled INR would relabel them; Books could invoice in another
    currency only with exchange rates set up, so anything else is refused. A missing value
    (a storefront without the column) is INR, the storefront's default.
    """
    raw = text(value)
    if raw is None or raw.upper() == INR:
        return INR
    raise MappingError(record, field, f"{shown(raw)} is not INR; Zoho Books invoices this "
                       "organization's sales in INR only",
                       "Convert the order to INR in the storefront (or invoice it in Zoho "
                       "Books by hand); saving the change syncs it again")


def hsn_code(value: Any, record: str, field: str = "hsn_code") -> str:
    """HSN code of 4, 6 or 8 digits (spaces and dots dropped); required on GST invoices."""
    raw = text(value)
    if raw is None:
        raise MappingError(record, field, "HSN code is missing (GST invoices need one per line)")
    digits = re.sub(r"[\s.]", "", raw)
    if not digits.isascii() or not digits.isdigit() or len(digits) not in _HSN_LENGTHS:
        raise MappingError(record, field, f"{shown(raw)} is not an HSN code of 4, 6 or 8 digits")
    return digits


def gst_rate(value: Any, record: str, field: str = "gst_rate") -> Decimal:
    """A GST rate (IGST percentage) that exists in law."""
    rate = _decimal(value, record, field)
    if rate not in GST_RATES:
        allowed = ", ".join(str(r) for r in sorted(GST_RATES))
        raise MappingError(record, field, f"{shown(value)} is not a GST rate ({allowed})")
    return rate


def money(value: Any, record: str, field: str) -> Decimal:
    """A non-negative amount in rupees with at most two decimals."""
    amount = _decimal(value, record, field)
    if amount < 0:
        raise MappingError(record, field, f"{shown(value)} is negative")
    if amount != amount.quantize(PAISA):
        raise MappingError(record, field, f"{shown(value)} has more than two decimal places")
    return amount


def quantity(value: Any, record: str, field: str = "quantity") -> int:
    """A positive whole quantity."""
    amount = _decimal(value, record, field)
    if amount <= 0 or amount != amount.to_integral_value():
        raise MappingError(record, field, f"{shown(value)} is not a positive whole quantity")
    return int(amount)


def ist_date(value: Any, record: str, field: str) -> str:
    """The calendar date in India (yyyy-mm-dd) of a timestamp; naive timestamps are UTC."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip())
        except ValueError:
            raise MappingError(record, field, f"{shown(value)} is not a timestamp") from None
    if isinstance(value, datetime):
        return to_ist(value).date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    raise MappingError(record, field, "date is missing")


def to_ist(moment: datetime) -> datetime:
    """A timestamp in India time; a naive one is taken as UTC (how timestamptz is stored)."""
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(IST)


def calendar_date(value: Any, record: str, field: str) -> str:
    """A date column (yyyy-mm-dd) as it is, without time zone conversion."""
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    try:
        return date.fromisoformat(str(value).strip()).isoformat()
    except ValueError:
        raise MappingError(record, field, f"{shown(value)} is not a date") from None


def truncate(value: str, limit: int) -> str:
    """Shorten display text to ``limit`` characters as Zoho counts them, ending in '…'.

    Zoho runs on Java, whose string length counts UTF-16 code units (an emoji is two), so that
    is what is measured. The cut never splits a surrogate pair, a base letter from its combining
    marks (Devanagari vowel signs, accents) or a zero-width-joiner sequence.
    """
    if _utf16_length(value) <= limit:
        return value
    budget = limit - len(ELLIPSIS)
    end = used = 0
    for char in value:
        used += _utf16_length(char)
        if used > budget:
            break
        end += 1
    while end and (_attaches_to_previous(value[end]) or _joins_next(value[end - 1])):
        end -= 1
    return value[:end].rstrip() + ELLIPSIS


def _decimal(value: Any, record: str, field: str) -> Decimal:
    if value is None or (isinstance(value, str) and not value.strip()):
        raise MappingError(record, field, "value is missing")
    if isinstance(value, bool):
        raise MappingError(record, field, f"{shown(value)} is not a number")
    try:
        number = value if isinstance(value, Decimal) else Decimal(str(value).strip())
    except InvalidOperation:
        raise MappingError(record, field, f"{shown(value)} is not a number") from None
    if not number.is_finite():
        raise MappingError(record, field, f"{shown(value)} is not a number")
    return number


def _utf16_length(value: str) -> int:
    return len(value.encode("utf-16-le")) // 2


def _attaches_to_previous(char: str) -> bool:
    """Combining marks, joiners, variation selectors and skin tones belong to the char before."""
    return (
        unicodedata.category(char) in ("Mn", "Mc", "Me")
        or char in "\u200c\u200d\ufe0e\ufe0f"
        or 0x1F3FB <= ord(char) <= 0x1F3FF
    )


def _joins_next(char: str) -> bool:
    """A zero-width joiner or a virama fuses the next character into the same cluster."""
    return char == "\u200d" or unicodedata.combining(char) == 9
