"""The one HTTP layer under the CRM and Books clients.

Every call: a shared access token, a slot from the rate limiter, a connect+read timeout, and
on failure a typed :mod:`~kn_zoho.zoho.errors` exception. Transient failures are retried in the
call with exponential backoff and full jitter (honouring ``Retry-After``), except where a
retry could apply a write twice: a POST that timed out or got a 5xx may already be stored, so
it is raised with ``outcome_unknown`` for the caller to look up before re-creating.
A 401 for an expired token gets one token refresh and one retry.

With a :class:`~kn_zoho.zoho.budget.CallBudget`, every call sent is counted against the
organization's daily allowance first (nothing is sent once it is spent: ZohoBudgetSpent), a
Books code 45 marks the allowance spent, and CRM's ``X-API-CREDITS-REMAINING`` corrects the
credit count.

What a reply means (its body, or the typed error it stands for) is
:mod:`kn_zoho.zoho.replies`.
"""

from __future__ import annotations

import logging
import os
import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import quote

import requests

from kn_zoho.zoho.auth import AccessToken
from kn_zoho.zoho.budget import CRM_ACCOUNT, CallBudget, ZohoBudgetSpent, call_cost
from kn_zoho.zoho.errors import (
    ZohoAuthError,
    ZohoError,
    ZohoRateLimitError,
    ZohoTransientError,
)
from kn_zoho.zoho.ratelimit import LocalRateLimiter, RateLimit, RateLimiter
from kn_zoho.zoho.replies import BOOKS, CRM, never_sent, parse_reply, product_of_path, reply_json
from kn_zoho.zoho.session import ZohoSession

log = logging.getLogger(__name__)

_IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "PUT", "DELETE"})
_CRM_TOKEN_CODES = frozenset({"INVALID_TOKEN", "AUTHENTICATION_FAILURE"})
_AUTH_FAILURE_MEMORY = 600.0  # after a fresh token is refused too, stop refreshing on 401s


@dataclass(frozen=True)
class HttpSettings:
    """Timeouts, retry and rate limits. Tests set the delays near zero."""

    connect_timeout: float = 10.0
    read_timeout: float = 60.0
    max_attempts: int = 4
    backoff_base: float = 1.0
    backoff_max: float = 30.0
    max_retry_after: float = 60.0  # a longer Retry-After is left to the queue's next attempt
    books_rate_limit: RateLimit = field(default_factory=lambda: RateLimit(100))  # per org
    crm_rate_limit: RateLimit = field(default_factory=lambda: RateLimit(100))

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> HttpSettings:
        """Per-minute limits from ``KN_ZOHO_BOOKS_CALLS_PER_MINUTE`` and
        ``KN_ZOHO_CRM_CALLS_PER_MINUTE`` (your Zoho plan's limits; default 100 each)."""
        env = os.environ if environ is None else environ

        def per_minute(name: str) -> RateLimit:
            raw = env.get(name, "100")
            if not raw.isdigit() or int(raw) < 1:
                raise ValueError(f"{name} must be a positive whole number, got {raw!r}")
            return RateLimit(int(raw))

        return cls(books_rate_limit=per_minute("KN_ZOHO_BOOKS_CALLS_PER_MINUTE"),
                   crm_rate_limit=per_minute("KN_ZOHO_CRM_CALLS_PER_MINUTE"))


class TokenProvider(Protocol):
    def get(self) -> AccessToken: ...

    def invalidate(self, rejected: str) -> AccessToken: ...


class ZohoHttp:
    """Authenticated, rate-limited, retrying JSON calls to Zoho CRM and Books."""

    def __init__(
        self,
        tokens: TokenProvider,
        *,
        settings: HttpSettings | None = None,
        rate_limiter: RateLimiter | None = None,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
        budget: CallBudget | None = None,
    ) -> None:
        self.tokens = tokens
        self.settings = settings or HttpSettings()
        self._limiter = rate_limiter or LocalRateLimiter()
        self.budget = budget
        self._session = session or ZohoSession()
        self._sleep = sleep
        self._lock = threading.Lock()
        self._calls: Counter[str] = Counter()
        self._rate_limited = 0
        self._auth_refused_until: dict[str, float] = {}

    @property
    def api_calls(self) -> dict[str, int]:
        """HTTP requests sent, by ``"METHOD /path-template"`` (retries included)."""
        with self._lock:
            return dict(self._calls)

    @property
    def rate_limited(self) -> int:
        """How many 429 replies this client has received."""
        with self._lock:
            return self._rate_limited

    def close(self) -> None:
        if self.budget is not None:
            self.budget.close()
        self._session.close()

    def request(
        self,
        method: str,
        path: str,
        *,
        path_params: Mapping[str, object] | None = None,
        params: Mapping[str, object] | None = None,
        json: Any = None,
        idempotent: bool | None = None,
        record_errors: bool = False,
    ) -> dict[str, Any]:
        """Send one call and return Zoho's JSON reply (``{}`` for 204 No Content).

        ``path`` is a template such as ``/books/v3/invoices/{invoice_id}``, filled from
        ``path_params`` (URL-quoted) and counted under the template. ``idempotent`` defaults
        to the method's semantics. ``record_errors``: a CRM batch reply that carries
        per-record errors (HTTP 400 with ``data``) is returned, not raised.
        """
        method = method.upper()
        product = product_of_path(path)
        url_path = path.format_map(
            {key: quote(str(value), safe="") for key, value in (path_params or {}).items()}
        )
        bucket, limit = self._bucket(product, params)
        account = CRM_ACCOUNT if product == CRM else bucket.split(":", 1)[1]
        cost = call_cost(product, method, json)
        if idempotent is None:
            idempotent = method in _IDEMPOTENT_METHODS
        attempt = 0
        token_refreshed = False
        while True:
            attempt += 1
            try:
                if self.budget is not None:
                    self.budget.take(product, account, cost)
                token = self.tokens.get()
                wait = self._limiter.reserve(bucket, limit)
                if wait > 0:
                    self._sleep(wait)
                response = self._send(method, path, token, url_path, params, json)
                if not token_refreshed and self._token_rejected(product, response):
                    token_refreshed = True
                    attempt -= 1  # the refresh retry is not a backoff attempt
                    log.info("Zoho %s refused the access token; refreshing it once", product)
                    self.tokens.invalidate(token.value)
                    continue
                self._observe_credits(product, response)
                return parse_reply(product, response, record_errors)
            except ZohoBudgetSpent:
                raise
            except ZohoError as exc:
                error = exc
            if (isinstance(error, ZohoRateLimitError) and error.daily
                    and self.budget is not None):
                self.budget.refused(product, account)
            if isinstance(error, ZohoAuthError) and error.http_status == 401:
                with self._lock:
                    self._auth_refused_until[product] = time.monotonic() + _AUTH_FAILURE_MEMORY
            if isinstance(error, ZohoRateLimitError):
                with self._lock:
                    self._rate_limited += 1
            delay = self._retry_delay(error, attempt, idempotent)
            if delay is None:
                raise error
            log.warning(
                "Zoho %s %s failed (%s); retry %d of %d in %.1f s",
                method, path, error, attempt, self.settings.max_attempts - 1, delay,
            )
            if isinstance(error, ZohoRateLimitError):
                # hold back every caller of the bucket; the next reserve() waits out the delay
                self._limiter.penalize(bucket, delay)
            else:
                self._sleep(delay)

    # -- internals --------------------------------------------------------------------------

    def _observe_credits(self, product: str, response: requests.Response) -> None:
        """CRM's ``X-API-CREDITS-REMAINING`` (sent once half the credits are used, see
        kn_zoho/zoho/budget.py) corrects the count."""
        if product != CRM or self.budget is None:
            return
        header = response.headers.get("X-API-CREDITS-REMAINING", "").strip()
        if header.isdigit():
            self.budget.observe_remaining(CRM, CRM_ACCOUNT, int(header))

    def _bucket(self, product: str, params: Mapping[str, object] | None) -> tuple[str, RateLimit]:
        if product == CRM:
            return CRM, self.settings.crm_rate_limit
        organization_id = (params or {}).get("organization_id")
        if not organization_id:
            raise ValueError("every Zoho Books call needs organization_id in params")
        return f"{BOOKS}:{organization_id}", self.settings.books_rate_limit

    def _send(
        self,
        method: str,
        template: str,
        token: AccessToken,
        url_path: str,
        params: Mapping[str, object] | None,
        json: Any,
    ) -> requests.Response:
        with self._lock:
            self._calls[f"{method} {template}"] += 1
        url = token.api_domain + url_path
        try:
            return self._session.request(
                method,
                url,
                params=params,
                json=json,
                headers={"Authorization": f"Zoho-oauthtoken {token.value}"},
                timeout=(self.settings.connect_timeout, self.settings.read_timeout),
            )
        except requests.ConnectTimeout:
            raise ZohoTransientError(
                f"timed out connecting to {token.api_domain}", code="CONNECT_TIMEOUT"
            ) from None
        except requests.Timeout:
            raise ZohoTransientError(
                f"no reply from Zoho within {self.settings.read_timeout:g} s ({method} {template})",
                code="TIMEOUT", outcome_unknown=True,
            ) from None
        except requests.ConnectionError as exc:
            raise ZohoTransientError(
                f"connection to {token.api_domain} failed ({type(exc).__name__})",
                code="CONNECTION_ERROR", outcome_unknown=not never_sent(exc),
            ) from None

    def _token_rejected(self, product: str, response: requests.Response) -> bool:
        """A 401 that a new access token may cure (expired, revoked, replaced)."""
        if response.status_code != 401:
            return False
        with self._lock:
            if self._auth_refused_until.get(product, 0.0) > time.monotonic():
                return False
        if product == BOOKS:
            return True  # Books does not tell an expired token from a missing scope
        return reply_json(response).get("code") in _CRM_TOKEN_CODES

    def _retry_delay(self, error: ZohoError, attempt: int, idempotent: bool) -> float | None:
        """Seconds to wait before retrying in this call, or None to raise now."""
        if not error.retry_in_call or attempt >= self.settings.max_attempts:
            return None
        if error.outcome_unknown and not idempotent:
            return None
        if error.retry_after is not None:
            if error.retry_after > self.settings.max_retry_after:
                return None
            return error.retry_after
        ceiling = min(self.settings.backoff_max, self.settings.backoff_base * 2 ** (attempt - 1))
        return random.uniform(0.0, ceiling)
