"""Client-side rate limiting, so a run stays under Zoho's per-minute limits.

GCRA (generic cell rate algorithm) as a reservation: each call moves the bucket's theoretical
arrival time one interval on and is told how long to wait for its slot. Zoho counts per
organization across every process, so the production limiter keeps that time in Postgres
(``integration.zoho_rate_limits``, on the database clock).

At a high allowed rate one statement per call would cost more than the call's slot, so the
Postgres limiter reserves a block of consecutive slots in one statement, covering at most
``block_seconds`` of the bucket's capacity, and hands them out locally. At Zoho's default 100
calls a minute a slot lasts 0.63 s and a block is one slot; blocks only form when the limit is
raised. A slot may be used late (a call took longer than a slot), which bunches at most one
block, ``block_seconds`` of capacity, well inside the limiter's headroom; a block not used up
within ``block_seconds`` after its last slot is dropped, so a process that went quiet cannot
burst later, and what it held back is at most one block.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass
from typing import Protocol

import sqlalchemy as sa

from kn_zoho.env import env_number


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


@dataclass
class _Block:
    """Consecutive slots reserved in one statement, handed out one by one."""

    next_at: float      # monotonic time of the next slot
    remaining: int
    interval: float
    expires_at: float

    def take(self) -> float:
        at = self.next_at
        self.next_at += self.interval
        self.remaining -= 1
        return at


class PostgresRateLimiter:
    """GCRA state shared by every process using the same database, reserved in blocks."""

    _RESERVE = sa.text(
        "INSERT INTO integration.zoho_rate_limits AS r (bucket, theoretical_arrival)"
        " VALUES (:bucket, statement_timestamp() + make_interval(secs => :span))"
        " ON CONFLICT (bucket) DO UPDATE SET theoretical_arrival ="
        "  GREATEST(r.theoretical_arrival, statement_timestamp())"
        "  + make_interval(secs => :span)"
        " RETURNING GREATEST(0, EXTRACT(EPOCH FROM r.theoretical_arrival - statement_timestamp())"
        "  - :span)"
    )
    _PENALIZE = sa.text(
        "INSERT INTO integration.zoho_rate_limits AS r (bucket, theoretical_arrival)"
        " VALUES (:bucket, statement_timestamp() + make_interval(secs => :seconds))"
        " ON CONFLICT (bucket) DO UPDATE SET theoretical_arrival ="
        "  GREATEST(r.theoretical_arrival, EXCLUDED.theoretical_arrival)"
    )
    MAX_BLOCK = 50
    BLOCK_SECONDS_ENV = "KN_ZOHO_RATE_LIMIT_BLOCK_SECONDS"

    def __init__(self, engine: sa.Engine, *, block_seconds: float | None = None) -> None:
        self._engine = engine.execution_options(isolation_level="AUTOCOMMIT")
        if block_seconds is None:  # 0 = one statement per call whatever the rate
            block_seconds = env_number(self.BLOCK_SECONDS_ENV, 0.5)
        self.block_seconds = block_seconds
        self._lock = threading.Lock()
        self._blocks: dict[str, _Block] = {}
        self.statements = 0  # reservations sent to Postgres, for tests and benchmarks

    def block_size(self, limit: RateLimit) -> int:
        """Slots per reservation: ``block_seconds`` of capacity, 1 to ``MAX_BLOCK``."""
        return max(1, min(self.MAX_BLOCK, math.floor(self.block_seconds / limit.interval)))

    def reserve(self, bucket: str, limit: RateLimit) -> float:
        with self._lock:
            now = time.monotonic()
            block = self._blocks.get(bucket)
            if block is None or block.remaining == 0 or now > block.expires_at:
                size = self.block_size(limit)
                with self._engine.connect() as conn:
                    wait = float(conn.execute(self._RESERVE, {
                        "bucket": bucket, "span": size * limit.interval}).scalar_one())
                self.statements += 1
                start = time.monotonic() + wait
                block = _Block(next_at=start, remaining=size, interval=limit.interval,
                               expires_at=start + size * limit.interval + self.block_seconds)
                self._blocks[bucket] = block
            return max(0.0, block.take() - time.monotonic())

    def penalize(self, bucket: str, seconds: float) -> None:
        with self._lock:
            self._blocks.pop(bucket, None)  # Zoho said 429: the slots held here are void too
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
