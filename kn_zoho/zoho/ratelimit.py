"""Client-side rate limiting, so a run stays under Zoho's per-minute limits.

GCRA (generic cell rate algorithm) as a reservation: each call moves the bucket's theoretical
arrival time one interval on and is told how long to wait for its slot. Zoho counts per
organization across every process, so the production limiter keeps that time in Postgres
(``integration.zoho_rate_limits``, one statement per call, on the database clock).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Protocol

import sqlalchemy as sa


@dataclass(frozen=True)
class RateLimit:
    """Zoho's limit (``limit`` calls per ``period_seconds``) and the share of it we use."""

    limit: int
    period_seconds: float = 60.0
    headroom: float = 0.05  # stay this fraction below the limit: clocks and windows differ

    @property
    def interval(self) -> float:
        """Seconds between two calls at the rate we allow ourselves."""
        return self.period_seconds / (self.limit * (1.0 - self.headroom))


class RateLimiter(Protocol):
    def reserve(self, bucket: str, limit: RateLimit) -> float:
        """Take the next slot in ``bucket``; return the seconds to wait before using it."""
        ...

    def penalize(self, bucket: str, seconds: float) -> None:
        """Zoho said 429: hold every caller of ``bucket`` back for ``seconds``."""
        ...


class PostgresRateLimiter:
    """GCRA state shared by every process using the same database."""

    _RESERVE = sa.text(
        "INSERT INTO integration.zoho_rate_limits AS r (bucket, theoretical_arrival)"
        " VALUES (:bucket, statement_timestamp() + make_interval(secs => :interval))"
        " ON CONFLICT (bucket) DO UPDATE SET theoretical_arrival ="
        "  GREATEST(r.theoretical_arrival, statement_timestamp())"
        "  + make_interval(secs => :interval)"
        " RETURNING GREATEST(0, EXTRACT(EPOCH FROM r.theoretical_arrival - statement_timestamp())"
        "  - :interval)"
    )
    _PENALIZE = sa.text(
        "INSERT INTO integration.zoho_rate_limits AS r (bucket, theoretical_arrival)"
        " VALUES (:bucket, statement_timestamp() + make_interval(secs => :seconds))"
        " ON CONFLICT (bucket) DO UPDATE SET theoretical_arrival ="
        "  GREATEST(r.theoretical_arrival, EXCLUDED.theoretical_arrival)"
    )

    def __init__(self, engine: sa.Engine) -> None:
        self._engine = engine.execution_options(isolation_level="AUTOCOMMIT")

    def reserve(self, bucket: str, limit: RateLimit) -> float:
        with self._engine.connect() as conn:
            wait = conn.execute(
                self._RESERVE, {"bucket": bucket, "interval": limit.interval}
            ).scalar_one()
        return float(wait)

    def penalize(self, bucket: str, seconds: float) -> None:
        with self._engine.connect() as conn:
            conn.execute(self._PENALIZE, {"bucket": bucket, "seconds": seconds})


class LocalRateLimiter:
    """The same algorithm in memory, for a single process (tests, one-off scripts)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._arrival: dict[str, float] = {}

    def reserve(self, bucket: str, limit: RateLimit) -> float:
        with self._lock:
            now = time.monotonic()
            arrival = max(self._arrival.get(bucket, now), now) + limit.interval
            self._arrival[bucket] = arrival
        return max(0.0, arrival - limit.interval - now)

    def penalize(self, bucket: str, seconds: float) -> None:
        with self._lock:
            now = time.monotonic()
            self._arrival[bucket] = max(self._arrival.get(bucket, now), now + seconds)
