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
    one, two = (PostgresRateLimiter(engine, block_seconds=0),
                PostgresRateLimiter(engine, block_seconds=0))
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


THOUSAND_PER_SECOND = RateLimit(limit=1000, period_seconds=1.0, headroom=0.0)


def test_at_zohos_default_rate_every_call_is_its_own_statement(engine: sa.Engine) -> None:
    limiter = PostgresRateLimiter(engine)
    assert limiter.block_size(RateLimit(100)) == 1  # 0.63 s a slot: nothing to batch
    assert limiter.block_size(THOUSAND_PER_SECOND) == 50


def test_a_raised_limit_reserves_blocks_in_one_statement(engine: sa.Engine) -> None:
    limiter = PostgresRateLimiter(engine, block_seconds=0.05)  # 50 slots of 1 ms
    waits = [limiter.reserve("books:1", THOUSAND_PER_SECOND) for _ in range(200)]
    assert limiter.statements == 4
    assert waits[0] == pytest.approx(0.0, abs=0.01)
    assert waits[49] == pytest.approx(0.049, abs=0.01)  # slots stay one interval apart


def test_blocks_of_two_processes_never_overlap(engine: sa.Engine) -> None:
    one = PostgresRateLimiter(engine, block_seconds=0.05)
    two = PostgresRateLimiter(engine, block_seconds=0.05)
    slots = []
    for _ in range(150):
        for limiter in (one, two):
            now = time.monotonic()
            slots.append(now + limiter.reserve("books:1", THOUSAND_PER_SECOND))
    slots.sort()
    interval, block = THOUSAND_PER_SECOND.interval, one.block_size(THOUSAND_PER_SECOND)
    # By any time t, no more calls than the rate allows since the first, plus what each
    # process may bunch from a block it holds (a slot used late): the shared rate holds.
    for count, at in enumerate(slots, start=1):
        assert count <= (at - slots[0]) / interval + 1 + 2 * block
    assert slots[-1] - slots[0] >= (len(slots) - 2 * block) * interval


def test_a_block_left_unused_is_dropped_not_burst_later(engine: sa.Engine) -> None:
    limiter = PostgresRateLimiter(engine, block_seconds=0.02)
    limiter.reserve("crm", THOUSAND_PER_SECOND)
    time.sleep(0.06)  # past the block's end plus block_seconds
    limiter.reserve("crm", THOUSAND_PER_SECOND)
    assert limiter.statements == 2


def test_a_penalty_voids_the_slots_a_process_holds(engine: sa.Engine) -> None:
    limiter = PostgresRateLimiter(engine, block_seconds=0.05)
    limiter.reserve("crm", THOUSAND_PER_SECOND)
    limiter.penalize("crm", 1.0)
    assert limiter.reserve("crm", THOUSAND_PER_SECOND) == pytest.approx(1.0, abs=0.1)


def test_block_size_is_configurable_down_to_one_statement_per_call(
        engine: sa.Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KN_ZOHO_RATE_LIMIT_BLOCK_SECONDS", "0")
    limiter = PostgresRateLimiter(engine)
    for _ in range(5):
        limiter.reserve("crm", THOUSAND_PER_SECOND)
    assert limiter.statements == 5
