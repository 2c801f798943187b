"""Fast attempts' outcomes are recorded together (issue 12), yet each record is started alone,
right before its calls: a taker finds the records a run had not reached never attempted, and
a run that lost a lease records what it holds at once."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

import pytest
import sqlalchemy as sa

from kn_zoho.storefront import queue
from kn_zoho.storefront.claims import Claim
from kn_zoho.storefront.outcomes import Outcome
from kn_zoho.storefront.seed import seed
from kn_zoho.sync.reports import SyncReport
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


def test_fast_attempts_are_started_alone_and_recorded_together(engine: sa.Engine,
                                                              users: int) -> None:
    started_before: list[int] = []

    def count_started(engine: sa.Engine, claim: Claim) -> None:
        started_before.append(sum(_attempts(engine).values()))

    flow = _Flow(60.0, count_started)
    statements, report = _statements(engine, flow)
    assert report.count("synced") == users
    assert sum(s.startswith(START) for s in statements) == users
    assert sum(s.startswith(RECORD) for s in statements) == 1  # at the batch's end
    # while the n-th record is attempted, only n are started: the rest were never attempted
    assert started_before == list(range(1, users + 1))


def test_slow_attempts_are_recorded_one_by_one(engine: sa.Engine, users: int) -> None:
    flow = _Flow(0.05, lambda engine, claim: time.sleep(0.06))
    statements, report = _statements(engine, flow)
    assert report.count("synced") == users
    assert sum(s.startswith(RECORD) for s in statements) == users


def test_without_record_within_seconds_each_attempt_is_recorded_at_once(
        engine: sa.Engine, users: int) -> None:
    flow = _Flow(0.0)
    statements, report = _statements(engine, flow)
    assert report.count("synced") == users
    assert sum(s.startswith(RECORD) for s in statements) == users


def test_a_run_that_lost_a_lease_records_what_it_holds_at_once(engine: sa.Engine,
                                                               users: int) -> None:
    """A taker took the third record while the run worked on the second: the run's start
    of the third finds it gone, so the two it did are recorded right then, before their own
    broken leases let a taker redo them; the third is the taker's alone."""
    taken: list[str] = []

    def take_the_next(engine: sa.Engine, claim: Claim) -> None:
        if len(flow.attempted) != 2:
            return
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
    first_two = flow.attempted[:2]
    assert {r.record_key: r.status for r in report.results if r.record_key in first_two} == \
        dict.fromkeys(first_two, "synced")
    assert taken[0] not in flow.attempted
    records = [i for i, s in enumerate(statements) if s.startswith(RECORD)]
    starts = [i for i, s in enumerate(statements) if s.startswith(START)]
    assert records[0] == starts[2] + 1  # recorded right after the start that came back short
    # the taker cannot take what was recorded
    assert queue.claim(engine, "crm_contact", worker="late", keys=first_two) == []


def test_a_start_commits_without_waiting_for_its_flush_and_only_itself(
        engine: sa.Engine, users: int) -> None:
    """The start's asynchronous commit is its own transaction's: the pooled connection, and
    whatever it commits next (the invoice's stock 'sending'), stay durable."""
    claims = queue.claim(engine, "crm_contact", worker="w", limit=2)
    with engine.connect() as conn:
        conn = conn.execution_options(isolation_level="AUTOCOMMIT")
        settings = []
        for claim in claims:
            assert queue.start(conn, [claim], worker="w", run_id="w")
            settings.append(conn.execute(sa.text("SHOW synchronous_commit")).scalar())
    assert settings == ["on", "on"]
    assert sorted(_attempts(engine).values()) == [0] * (users - 2) + [1, 1]
