"""Who the seeded customers are: valid GSTINs and PANs, people named as in their region,
their e-mail addresses and phone numbers as people type them, and the businesses b2b buyers
trade as. Draws from the RNG it is given, so :mod:`~kn_zoho.storefront.seed.generate` and
:mod:`~kn_zoho.storefront.seed.edits` stay deterministic.
"""

from __future__ import annotations

import random
import re
from typing import NamedTuple

from kn_zoho.storefront.seed.reference import (
    COMPANY_FORMS,
    COMPANY_PREFIXES,
    COMPANY_TRADES,
    NAMES,
    NATIVE_NAMES,
    Person,
)

# --- GSTIN -----------------------------------------------------------------------------------

GSTIN_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_UPPER = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def gstin_check_char(first14: str) -> str:
    """The 15th GSTIN character: Luhn mod 36 over the first 14 (factors 1, 2, 1, ...)."""
    total = 0
    for position, char in enumerate(first14.upper()):
        product = GSTIN_ALPHABET.index(char) * (2 if position % 2 else 1)
        total += product // 36 + product % 36
    return GSTIN_ALPHABET[-total % 36]


def make_gstin(state_number: str, pan: str, registration: str = "1") -> str:
    """A valid GSTIN: state GST number + PAN + registration count + 'Z' + check character."""
    body = f"{state_number}{pan}{registration}Z".upper()
    if len(body) != 14:
        raise ValueError(f"GSTIN body {body!r} must be 14 characters (2 + PAN of 10 + 1 + Z)")
    return body + gstin_check_char(body)


def random_pan(rng: random.Random, holder_type: str = "C", name: str = "") -> str:
    """A well-formed PAN: AAA + holder type (C company, F firm/LLP, P person...) + initial
    (first letter of ``name``) + 4 digits (not 0000) + a letter."""
    letters = "".join(rng.choice(_UPPER) for _ in range(3))
    initial = next((c for c in name.upper() if c in _UPPER), rng.choice(_UPPER))
    digits = f"{rng.randint(1, 9999):04d}"
    return f"{letters}{holder_type}{initial}{digits}{rng.choice(_UPPER)}"


# --- People and businesses -------------------------------------------------------------------

def random_person(rng: random.Random, region: str) -> Person:
    if region in NATIVE_NAMES and rng.random() < 0.03:
        return rng.choice(NATIVE_NAMES[region])
    names = NAMES[region]
    first = rng.choice(names.first)
    roll = rng.random()
    if roll < names.single_name_share:
        return Person(first, first, None)
    last = rng.choice(names.last)
    if region == "tamil" and roll < 0.35:  # initial of the father's name first: "R. Karthik"
        return Person(f"{last[0]}. {first}", first, last[0])
    return Person(f"{first} {last}", first, last)


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.lower())


def unique_email(rng: random.Random, person: Person, domain: str, taken: set[str]) -> str:
    first, last = _slug(person.first), _slug(person.last or "")
    year = rng.randint(70, 105) % 100
    if last:
        local = rng.choices(
            (f"{first}.{last}", f"{first}{last}", f"{first}_{last}", f"{first}.{last}{year:02d}",
             f"{first[0]}{last}", f"{first}{rng.randint(1, 999)}", f"{last}.{first}"),
            weights=(30, 15, 5, 15, 10, 15, 10))[0]
    else:
        local = rng.choice((first, f"{first}{year:02d}", f"{first}{rng.randint(1, 9999)}"))
    email, suffix = f"{local}@{domain}", 2
    while email in taken:
        email, suffix = f"{local}{suffix}@{domain}", suffix + 1
    taken.add(email)
    return email


def random_mobile(rng: random.Random) -> str:
    """An Indian mobile number as people type it: with or without +91, 0, spaces, dashes."""
    number = rng.choices("9876", weights=(50, 25, 18, 7))[0] + "".join(
        rng.choice("0123456789") for _ in range(9))
    return rng.choices(
        (f"+91 {number}", f"+91-{number[:5]}-{number[5:]}", f"0{number}",
         f"{number[:5]} {number[5:]}", number, f"+91{number}", f"91 {number}"),
        weights=(25, 8, 10, 20, 20, 12, 5))[0]


def random_landline(rng: random.Random, std_code: str) -> str:
    number = rng.choice("246") + "".join(rng.choice("0123456789") for _ in range(7))
    return rng.choice((f"0{std_code} {number[:4]} {number[4:]}", f"0{std_code}-{number}",
                       f"+91 {std_code} {number}"))


class Business(NamedTuple):
    name: str
    pan: str
    brand: str  # what its web domain would be called


def random_business(rng: random.Random, person: Person) -> Business:
    """A trade name and the PAN of the business behind it."""
    suffix, holder_type = rng.choices([(s, t) for s, t, _ in COMPANY_FORMS],
                                      weights=[w for _, _, w in COMPANY_FORMS])[0]
    prefix = rng.choice(COMPANY_PREFIXES)
    trade = "" if "Producer" in suffix else " " + rng.choice(COMPANY_TRADES)
    name = f"{prefix}{trade}{suffix}"
    # A proprietor's PAN carries their own surname initial; an entity's its name's initial.
    initial_of = (person.last or person.first) if holder_type == "P" else name
    brand = _slug(prefix + (trade or "fpo"))
    return Business(name, random_pan(rng, holder_type, initial_of), brand)
