"""Fast attempts' outcomes are recorded together (issue 12), yet each record is started alone,
before its calls and at most one ahead (the next one's start runs while this one's calls do,
kn_zoho/sync/start_ahead.py): a taker finds the records a run had not reached never attempted
but that one, and a run that lost a lease records what it holds at once."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

import pytest
import sqlalchemy as sa

from kn_zoho.storefront import queue
from kn_zoho.storefront.claims import Claim
from kn_zoho.storefront.outcomes import Outcome
from kn_zoho.storefront.seed import seed
from kn_zoho.sync.reports import InfrastructureError, SyncReport
from kn_zoho.sync.runner import run_flow

RECORD = "WITH outcome AS ("
START = "WITH started AS ("


class _Flow:
    """CRM Contacts, one at a time; ``during`` runs inside each attempt."""

    entity = "crm_contact"
    records_per_attempt = 1

    def __init__(self, record_within_seconds: float,
                 during: Callable[[sa.Engine, Claim], None] | None = None) -> None:
        self.record_within_seconds = record_within_seconds
        self.during = during
        self.attempted: list[str] = []

    def attempt(self, engine: sa.Engine, claims: Sequence[Claim], *, force: bool
                ) -> dict[str, Outcome]:
        for claim in claims:
            self.attempted.append(claim.record_key)
            if self.during is not None:
                self.during(engine, claim)
        return {c.record_key: Outcome.success("upsert", f"z-{c.record_key}") for c in claims}

    def write_back(self, conn: sa.Connection, done: Sequence[tuple[Claim, Outcome]]) -> None:
        pass

    def api_calls(self) -> int:
        return 0


def _statements(engine: sa.Engine, flow: _Flow, **options: object
                ) -> tuple[list[str], SyncReport]:
    seen: list[str] = []

    def note(conn, cursor, statement, parameters, context, executemany) -> None:
        seen.append(" ".join(statement.split()))

    sa.event.listen(engine, "before_cursor_execute", note)
    try:
        report = run_flow(engine, flow, retry_base=0, **options)
    finally:
        sa.event.remove(engine, "before_cursor_execute", note)
    return seen, report


def _attempts(engine: sa.Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return dict(conn.execute(sa.text(
            "SELECT record_key, attempts FROM integration.zoho_sync_queue "
            "WHERE entity = 'crm_contact'")).all())


@pytest.fixture
def users(engine: sa.Engine) -> int:
    seed(engine, users=6, products=1, orders=0, quote_requests=0, inquiries=0)
    return 6


def test_fast_attempts_are_started_at_most_one_ahead_and_recorded_together(
        engine: sa.Engine, users: int) -> None:
    started_before: list[int] = []

    def count_started(engine: sa.Engine, claim: Claim) -> None:
        started_before.append(sum(_attempts(engine).values()))

    flow = _Flow(60.0, count_started)
    statements, report = _statements(engine, flow)
    assert report.count("synced") == users
    assert sum(s.startswith(START) for s in statements) == users
    assert sum(s.startswith(RECORD) for s in statements) == 1  # at the batch's end
    # while the n-th record is attempted, n are started, or n + 1 once the next one's start
    # (sent as the n-th's attempt began) is in: the rest were never attempted
    assert all(n <= started <= n + 1 for n, started in enumerate(started_before, start=1)), \
        started_before
    assert started_before[-1] == users


def test_slow_attempts_are_recorded_one_by_one(engine: sa.Engine, users: int) -> None:
    flow = _Flow(0.05, lambda engine, claim: time.sleep(0.06))
    statements, report = _statements(engine, flow)
    assert report.count("synced") == users
    assert sum(s.startswith(RECORD) for s in statements) == users


def test_without_record_within_seconds_each_attempt_is_recorded_at_once(
        engine: sa.Engine, users: int) -> None:
    """... and each record is started only after the one before was recorded."""
    started_before: list[int] = []
    flow = _Flow(0.0, lambda engine, claim: started_before.append(
        sum(_attempts(engine).values())))
    statements, report = _statements(engine, flow)
    assert report.count("synced") == users
    assert sum(s.startswith(RECORD) for s in statements) == users
    assert started_before == list(range(1, users + 1))


def test_a_run_that_lost_a_lease_records_what_it_holds_at_once(engine: sa.Engine,
                                                               users: int) -> None:
    """A taker took the fourth record while the run worked on the second (the third was
    started ahead by then): the run attempts the third, its start of the fourth finds it gone,
    so the three it did are recorded right then, before their own broken leases let a taker
    redo them; the fourth is the taker's alone."""
    taken: list[str] = []

    def take_the_next(engine: sa.Engine, claim: Claim) -> None:
        if len(flow.attempted) != 2:
            return
        deadline = time.monotonic() + 10
        while sorted(_attempts(engine).values()).count(0) > users - 3:  # the third's start
            assert time.monotonic() < deadline
            time.sleep(0.01)
        with engine.begin() as conn:
            conn.execute(sa.text(
                "UPDATE integration.zoho_sync_queue SET claimed_until = now() - interval "
                "'1 second' WHERE entity = 'crm_contact' AND status = 'in_progress'"))
        ours = _attempts(engine)
        waiting = sorted(key for key, attempts in ours.items() if attempts == 0)
        taken.extend(c.record_key for c in queue.claim(engine, "crm_contact",
                                                       worker="taker", keys=waiting[:1]))

    flow = _Flow(60.0, take_the_next)
    statements, report = _statements(engine, flow, batch_size=users)
    assert len(taken) == 1
    first_three = flow.attempted[:3]
    assert {r.record_key: r.status for r in report.results if r.record_key in first_three} == \
        dict.fromkeys(first_three, "synced")
    assert taken[0] not in flow.attempted
    records = [i for i, s in enumerate(statements) if s.startswith(RECORD)]
    starts = [i for i, s in enumerate(statements) if s.startswith(START)]
    assert records[0] == starts[3] + 1  # recorded right after the start that came back short
    # the taker cannot take what was recorded
    assert queue.claim(engine, "crm_contact", worker="late", keys=first_three) == []


class _StopsAtThird(_Flow):
    """The third attempt stops the pass (after the fourth record's start was sent ahead)."""

    def __init__(self, stop: Callable[[], Outcome]) -> None:
        super().__init__(60.0)
        self.stop = stop

    def attempt(self, engine: sa.Engine, claims: Sequence[Claim], *, force: bool
                ) -> dict[str, Outcome]:
        if len(self.attempted) == 2:
            deadline = time.monotonic() + 10
            while sum(_attempts(engine).values()) < 4:  # the fourth's start is in
                assert time.monotonic() < deadline
                time.sleep(0.01)
            self.attempted.append(claims[0].record_key)
            return {claims[0].record_key: self.stop()}
        return super().attempt(engine, claims, force=force)


def _logs(engine: sa.Engine) -> dict[str, list[str]]:
    with engine.connect() as conn:
        rows = conn.execute(sa.text(
            "SELECT record_key, status FROM integration.zoho_sync_logs "
            "WHERE entity = 'crm_contact' ORDER BY id")).all()
    logs: dict[str, list[str]] = {}
    for key, status in rows:
        logs.setdefault(key, []).append(status)
    return logs


def test_a_budget_pause_gives_back_the_attempt_started_ahead(engine: sa.Engine,
                                                             users: int) -> None:
    """The third record's call found the day's budget spent: it and the fourth, started
    ahead, get their attempts back (a budget refusal is not an attempt) and wait."""
    flow = _StopsAtThird(lambda: Outcome.failure("upsert", queue.BUDGET_ERROR,
                                                 "daily CRM credit budget spent",
                                                 transient=True))
    _, report = _statements(engine, flow)
    assert report.paused
    attempts = _attempts(engine)
    first_two, third = flow.attempted[:2], flow.attempted[2]
    assert sorted(attempts.values()) == [0] * (users - 2) + [1, 1]
    assert all(attempts[key] == 1 for key in first_two) and attempts[third] == 0
    # one log row each: the one started ahead has its open row completed, not a second one
    assert _logs(engine) == {key: ["success"] if key in first_two else ["deferred"]
                             for key in attempts}


def test_a_lost_database_gives_back_the_attempt_started_ahead(engine: sa.Engine,
                                                              users: int) -> None:
    """The connection failed during the third attempt: nothing of the pass counts against
    the records not done, the fourth (started ahead) included, and all are released."""
    def lost() -> Outcome:
        raise sa.exc.OperationalError("SELECT 1", {}, Exception("server closed the connection"))

    flow = _StopsAtThird(lost)
    with pytest.raises(InfrastructureError, match="database connection failed"):
        _statements(engine, flow)
    attempts = _attempts(engine)
    assert sorted(attempts.values()) == [0] * users  # held outcomes are given back too
    logs = _logs(engine)
    assert len(logs) == 4 and all(statuses == ["interrupted"] for statuses in logs.values())
    with engine.connect() as conn:
        held = conn.execute(sa.text(
            "SELECT count(*) FROM integration.zoho_sync_queue WHERE claimed_by IS NOT NULL"
        )).scalar_one()
    assert held == 0
