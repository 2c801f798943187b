"""Keep OAuth secrets out of logs and exception text.

Two layers: every secret value this process knows (client secret, refresh token, access
tokens) is registered and replaced wherever it appears, and well-known patterns
(``Zoho-oauthtoken ...``, ``refresh_token=...``, ``"access_token": "..."``) are masked even
for values never registered, e.g. a token from another process quoted in a reply.
"""

from __future__ import annotations

import logging
import re
import threading

MASK = "***"
_MAX_REGISTERED = 200  # access tokens accumulate in long-lived processes; keep the newest
_MIN_SECRET_LENGTH = 6  # shorter values would mask ordinary words

_PATTERNS = (
    (re.compile(r"(Zoho-oauthtoken\s+)[^\s'\",;]+", re.IGNORECASE), rf"\g<1>{MASK}"),
    (re.compile(r"(Bearer\s+)[^\s'\",;]+", re.IGNORECASE), rf"\g<1>{MASK}"),
    (
        re.compile(r"\b(refresh_token|client_secret|access_token)=[^&\s'\",;]+"),
        rf"\g<1>={MASK}",
    ),
    (
        re.compile(r"""(["']?(?:refresh_token|client_secret|access_token)["']?\s*:\s*["'])"""
                   r"""[^"']+"""),
        rf"\g<1>{MASK}",
    ),
)

_lock = threading.Lock()
_secrets: dict[str, None] = {}  # insertion-ordered set


def register_secret(value: str | None) -> None:
    """Remember a secret so :func:`redact` masks it from now on."""
    if not value or len(value) < _MIN_SECRET_LENGTH:
        return
    with _lock:
        _secrets.pop(value, None)
        _secrets[value] = None
        while len(_secrets) > _MAX_REGISTERED:
            del _secrets[next(iter(_secrets))]


def redact(text: str) -> str:
    """The text with every known secret and token pattern masked."""
    if not text:
        return text
    with _lock:
        known = list(_secrets)
    for secret in known:
        if secret in text:
            text = text.replace(secret, MASK)
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


class RedactingFilter(logging.Filter):
    """A logging filter that masks secrets in the formatted message (attach to handlers)."""

    def filter(self, record: logging.LogRecord) -> bool:
        _redact_record(record)
        return True


def _redact_record(record: logging.LogRecord) -> None:
    try:
        message = record.getMessage()
    except (TypeError, ValueError):  # a malformed %-format: leave it to logging to report
        return
    cleaned = redact(message)
    if cleaned != message or record.args:
        record.msg, record.args = cleaned, None


_installed = False


def install_log_redaction() -> None:
    """Redact every log record this process creates, whatever logger or handler sees it.

    A record factory rather than a handler filter, so handlers added later (Dagster's, pytest's
    caplog) and third-party loggers (urllib3 prints request lines) are covered too. Idempotent.
    """
    global _installed
    with _lock:
        if _installed:
            return
        _installed = True
        previous = logging.getLogRecordFactory()

    def factory(*args: object, **kwargs: object) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        _redact_record(record)
        return record

    logging.setLogRecordFactory(factory)
