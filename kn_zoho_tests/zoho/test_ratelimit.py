"""GCRA limiters: callers are spaced one interval apart, across processes for Postgres."""

from __future__ import annotations

import time

import pytest
import sqlalchemy as sa

from kn_zoho.zoho.ratelimit import LocalRateLimiter, PostgresRateLimiter, RateLimit

TEN_PER_SECOND = RateLimit(limit=10, period_seconds=1.0, headroom=0.0)


def test_interval_keeps_headroom_below_the_limit() -> None:
    assert RateLimit(100).interval == pytest.approx(60 / 95)
    assert TEN_PER_SECOND.interval == pytest.approx(0.1)


def test_local_limiter_spaces_a_burst() -> None:
    limiter = LocalRateLimiter()
    waits = [limiter.reserve("books:1", TEN_PER_SECOND) for _ in range(5)]
    assert waits == pytest.approx([0.0, 0.1, 0.2, 0.3, 0.4], abs=0.02)
    assert limiter.reserve("crm", TEN_PER_SECOND) == 0.0  # buckets are independent


def test_local_limiter_forgets_idle_time() -> None:
    limiter = LocalRateLimiter()
    fast = RateLimit(limit=1000, period_seconds=1.0, headroom=0.0)
    limiter.reserve("b", fast)
    time.sleep(0.01)
    assert limiter.reserve("b", fast) == 0.0  # no credit piles up, no debt either


def test_postgres_limiter_is_shared_by_processes(engine: sa.Engine) -> None:
    one, two = PostgresRateLimiter(engine), PostgresRateLimiter(engine)
    waits = [limiter.reserve("books:1", TEN_PER_SECOND) for limiter in (one, two, one, two)]
    assert waits == pytest.approx([0.0, 0.1, 0.2, 0.3], abs=0.05)
    assert one.reserve("books:2", TEN_PER_SECOND) == 0.0


def test_penalty_holds_every_caller_back(engine: sa.Engine) -> None:
    one, two = PostgresRateLimiter(engine), PostgresRateLimiter(engine)
    one.penalize("crm", 2.0)
    assert two.reserve("crm", TEN_PER_SECOND) == pytest.approx(2.0, abs=0.1)
    local = LocalRateLimiter()
    local.penalize("crm", 2.0)
    assert local.reserve("crm", TEN_PER_SECOND) == pytest.approx(2.0, abs=0.05)
