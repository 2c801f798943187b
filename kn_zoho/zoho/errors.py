"""Typed Zoho failures: what Zoho said, and whether trying again later can help.

The sync layer only needs ``.transient``: transient errors go back to the queue with backoff,
permanent ones fail the record at once with Zoho's message (and the field, when Zoho names
one). Messages pass through :func:`redact`, so no secret can travel inside an exception.
"""

from __future__ import annotations

from typing import Any

from kn_zoho.zoho.redaction import redact


class ZohoError(Exception):
    """A Zoho call failed.

    ``code`` is Zoho's own code (``"INVALID_DATA"`` in CRM, ``1002`` in Books, ``"invalid_code"``
    from the accounts server); ``outcome_unknown`` means the request may have been applied
    before the failure (timeout or 5xx on a write), so look the record up before re-creating it.
    ``retry_after`` is Zoho's or our estimate, in seconds, of when trying again makes sense.
    """

    transient: bool = False

    def __init__(
        self,
        message: str,
        *,
        code: str | int | None = None,
        http_status: int | None = None,
        field: str | None = None,
        retry_after: float | None = None,
        outcome_unknown: bool = False,
        reply: Any = None,
    ) -> None:
        self.message = redact(message)
        super().__init__(self.message)
        self.code = code
        self.http_status = http_status
        self.field = field
        self.retry_after = retry_after
        self.outcome_unknown = outcome_unknown
        self.reply = reply

    @property
    def retry_in_call(self) -> bool:
        """Whether the HTTP layer may retry at once (with backoff) inside the same call."""
        return self.transient

    def __str__(self) -> str:
        parts = [self.message]
        if self.code is not None:
            parts.append(f"code={self.code}")
        if self.http_status is not None:
            parts.append(f"http={self.http_status}")
        if self.field:
            parts.append(f"field={self.field}")
        return " ".join(parts) if len(parts) == 1 else f"{parts[0]} ({', '.join(parts[1:])})"


class ZohoTransientError(ZohoError):
    """Worth retrying later: 429, 5xx, timeouts, connection errors, an expired token."""

    transient = True


class ZohoRateLimitError(ZohoTransientError):
    """Zoho refused the call for a rate, daily or concurrency limit (HTTP 429).

    A daily-limit refusal (Books code 45) is not retried inside the call: only tomorrow helps.
    """

    def __init__(self, message: str, *, daily: bool = False, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.daily = daily

    @property
    def retry_in_call(self) -> bool:
        return not self.daily


class ZohoTokenThrottledError(ZohoTransientError):
    """The accounts server throttles this refresh token ("Access Denied", too many requests).

    Transient, but every further refresh attempt extends the block, so nothing retries it in
    the call and the token store refuses to ask again until ``retry_after`` has passed.
    """

    @property
    def retry_in_call(self) -> bool:
        return False


class ZohoPermanentError(ZohoError):
    """Retrying the same request cannot help: validation errors, other 4xx replies."""


class ZohoNotFoundError(ZohoPermanentError):
    """The record does not exist (HTTP 404, Books code 1002)."""


class ZohoAuthError(ZohoPermanentError):
    """Credentials or permissions are wrong; an operator has to fix the configuration."""
