"""Zoho's request limits: concurrent calls, Books' per-minute window and daily allowance.

The per-minute limit uses a sliding window (the last ``minute_seconds`` of admitted calls);
the daily limit a fixed window that starts with the first call of the "day". Refused calls
do not count against either. Zoho documents the daily allowance by plan
(https://www.zoho.com/ke/books/kb/automation/per-day-api-limit.md) but not when its day
starts (the sandbox's choice: a full day from the first call), nor any header
saying what is left: the ``X-Rate-Limit-*`` headers this sandbox adds are not documented by
Zoho, and the client never relies on them (kn_zoho/zoho/budget.py counts calls itself).
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
