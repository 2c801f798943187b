"""The email check Zoho applies to email fields: something@domain.tld, no spaces."""

from __future__ import annotations

import re

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]+$")


def looks_like_email(value: str) -> bool:
    return bool(_EMAIL.match(value))
