"""Zoho's request limits: concurrent calls, Books' per-minute window and daily allowance, and
CRM's API credits.

The per-minute limit uses a sliding window (the last ``minute_seconds`` of admitted calls);
the daily limit a fixed window that starts with the first call of the "day". Refused calls
do not count against either. Zoho documents the daily allowance by plan
(https://www.zoho.com/ke/books/kb/automation/per-day-api-limit.md) but not when its day
starts (the sandbox's choice: a full day from the first call), nor any header
saying what is left: the ``X-Rate-Limit-*`` headers this sandbox adds are not documented by
Zoho, and the client never relies on them (kn_zoho/zoho/budget_ledger.py counts calls itself).
"""

from __future__ import annotations

import enum
import threading
from collections import deque
from dataclasses import dataclass


class Refusal(enum.Enum):
    """Why a call was turned away with HTTP 429."""

    CONCURRENCY = "concurrency"
    PER_MINUTE = "per_minute"
    DAILY = "daily"


@dataclass(frozen=True)
class Allowance:
    """What is left of the daily allowance, for the sandbox's X-Rate-Limit-* headers (an aid
    for people reading replies; undocumented by Zoho, so no client code reads them)."""

    limit: int
    remaining: int
    reset_seconds: int


class RequestLimiter:
    """Admits or refuses one service's calls; pass None for a limit the service lacks."""

    def __init__(self, *, concurrency: int, per_minute: int | None = None,
                 minute_seconds: float = 60.0, daily: int | None = None,
                 day_seconds: float = 86_400.0) -> None:
        self._lock = threading.Lock()
        self._concurrency = concurrency
        self._per_minute = per_minute
        self._minute_seconds = minute_seconds
        self._daily = daily
        self._day_seconds = day_seconds
        self._in_flight = 0
        self._recent: deque[float] = deque()
        self._day_started: float | None = None
        self._day_count = 0

    def try_acquire(self, now: float) -> Refusal | None:
        """Take a slot for a call starting now, or say why not; release() every slot taken."""
        with self._lock:
            if self._in_flight >= self._concurrency:
                return Refusal.CONCURRENCY
            if self._daily is not None:
                if self._day_started is None or now - self._day_started >= self._day_seconds:
                    self._day_started, self._day_count = now, 0
                if self._day_count >= self._daily:
                    return Refusal.DAILY
            if self._per_minute is not None:
                while self._recent and now - self._recent[0] >= self._minute_seconds:
                    self._recent.popleft()
                if len(self._recent) >= self._per_minute:
                    return Refusal.PER_MINUTE
                self._recent.append(now)
            self._day_count += 1
            self._in_flight += 1
            return None

    def release(self) -> None:
        with self._lock:
            self._in_flight -= 1

    def allowance(self, now: float) -> Allowance | None:
        """The daily allowance left, or None when this service has no daily limit."""
        if self._daily is None:
            return None
        with self._lock:
            started = now if self._day_started is None else self._day_started
            reset = max(0.0, started + self._day_seconds - now)
            return Allowance(self._daily, max(0, self._daily - self._day_count), int(reset))


class CreditLedger:
    """CRM's API credits over a rolling window: a call is admitted only if its whole cost fits.

    Zoho documents credits per 24-hour window by edition, most calls costing 1 credit
    (https://www.zoho.com/crm/developer/docs/api/v8/api-limits.html, the table of
    https://www.zoho.com/crm/developer/docs/api/v4/api-limits.html); that an insert, update or
    upsert costs 1 credit per 10 records, that the window rolls, and that replies carry
    ``X-API-CREDITS-REMAINING`` once half is used come from shared/ZOHO_FACTS.md. Zoho does not
    document the reply to a call past the credits; the sandbox refuses it whole (HTTP 429
    ``TOO_MANY_REQUESTS``, no Retry-After, nothing done) and sends no credit header on the
    refusal, so a client cannot count on learning of it there: the stricter reading.
    """

    def __init__(self, credits: int, window_seconds: float) -> None:
        self._lock = threading.Lock()
        self._credits = credits
        self._window = window_seconds
        self._spent: deque[tuple[float, int]] = deque()
        self._used = 0

    def _expire(self, now: float) -> None:
        while self._spent and now - self._spent[0][0] >= self._window:
            self._used -= self._spent.popleft()[1]

    def try_charge(self, now: float, cost: int) -> bool:
        """Spend ``cost`` credits for a call starting now, or refuse it (nothing spent)."""
        with self._lock:
            self._expire(now)
            if self._used + cost > self._credits:
                return False
            self._spent.append((now, cost))
            self._used += cost
            return True

    def remaining_if_half_used(self, now: float) -> int | None:
        """Credits left once at least half are used (the header's value), else None."""
        with self._lock:
            self._expire(now)
            if self._used * 2 < self._credits:
                return None
            return self._credits - self._used
