"""Run one flow over the queue: claim a batch, let the flow attempt it, record outcomes."""

from __future__ import annotations

import itertools
import logging
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from kn_zoho.env import env_number
from kn_zoho.storefront import db, leases, queue
from kn_zoho.storefront.claims import Claim
from kn_zoho.storefront.outcomes import Outcome
from kn_zoho.sync import flow_calls
from kn_zoho.sync.heartbeat import Heartbeat, LeaseSettings
from kn_zoho.sync.reports import (
    Flow,
    InfrastructureError,
    RecordResult,
    SyncReport,
    describe_infrastructure_error,
    is_infrastructure_error,
    is_transaction_conflict,
)
from kn_zoho.sync.start_ahead import StartAhead
from kn_zoho.zoho import budget, budget_status

log = logging.getLogger(__name__)

RETRY_BASE_ENV = "KN_ZOHO_RETRY_BASE_SECONDS"
RECORD_TRIES = 3  # recording a group's outcomes, when a conflict rolled it back


def retry_base_seconds() -> float:
    """Base delay of the exponential backoff between attempts (``KN_ZOHO_RETRY_BASE_SECONDS``)."""
    return env_number(RETRY_BASE_ENV, 60.0)


HeldCheck = Callable[[str], "bool | None"]


@dataclass
class _Pass:
    """One run of a flow: who we are and what we hold that is not recorded yet."""

    engine: sa.Engine
    flow: Flow
    worker: str
    kind: str
    lease: LeaseSettings
    base: float
    force: bool
    report: SyncReport
    unstarted: list[Claim] = field(default_factory=list)
    started: list[Claim] = field(default_factory=list)
    ahead: StartAhead | None = None  # the next group's start, while this one's calls run
    # attempted, outcome known, not recorded yet (see ``attempt``), since when
    done: list[tuple[Claim, Outcome]] = field(default_factory=list)
    done_began: datetime | None = None
    done_since: float = 0.0

    def claim(self, keys: Sequence[str] | None, per_attempt: int, limit: int,
              **options: object) -> budget_status.BudgetPause | list[Claim]:
        """The next batch: the budget check (a pause claims nothing, so no record loses time
        or an attempt), then the claim, one statement that also starts the batch's attempts
        when the flow attempts the whole batch at once and reads nothing before; each commits
        on its own. Records whose last worker died go last and alone, so a record that kills
        its worker never costs the others an attempt."""
        at_once = per_attempt >= limit and getattr(self.flow, "prepare", None) is None
        with db.autocommit(self.engine) as conn:
            pause = budget_status.pause_for(conn, self.flow.entity)
            if pause is not None:
                return pause
            claims = queue.claim(conn, self.flow.entity, worker=self.worker, keys=keys,
                                 limit=limit, kind=self.kind, lease=self.lease.lease,
                                 force=self.force, start=at_once, **options)
        self.started = [c for c in claims if c.log_id is not None]
        self.unstarted = ([c for c in claims if c.log_id is None and not c.suspect]
                          + [c for c in claims if c.suspect])
        return claims

    def attempt(self, claims: Sequence[Claim], per_attempt: int) -> None:
        """Attempt and record the claimed batch in groups of ``per_attempt``, starting each
        group not started yet (by :meth:`claim`). Records the flow says need no call go
        first, in one group; records whose last worker died go last and alone.

        Outcomes are recorded before the next group starts, unless the flow's
        ``record_within_seconds`` lets fast attempts' outcomes wait to be recorded together:
        then they are recorded once the oldest would wait longer (judged by the last
        attempt's time), when the batch ends, when a lease was lost, and before a suspect
        record. Each group is still started alone, before its calls: with such a window, the
        next group (if it makes calls, and neither is suspect) is started on a helper thread
        while this group's calls run (:mod:`kn_zoho.sync.start_ahead`), otherwise right
        before its calls. So a run whose lease broke never starts what it no longer holds,
        and a taker finds the records a run had not reached never attempted, but for the
        one started ahead.

        Recording and starting the next group stay two transactions: one would lock the
        first group's queue rows, then the next's, and a run that took some of them over
        (broken leases) could lock them the other way round (a deadlock). They share one
        connection check-out (no Zoho call comes between them), and the start, one statement,
        runs in autocommit.
        """
        flow_calls.prepare(self.engine, self.flow, claims)
        callless = flow_calls.callless(self.flow, claims, per_attempt, force=self.force)
        wait = float(getattr(self.flow, "record_within_seconds", 0.0))

        def kind(claim: Claim) -> tuple[bool, bool]:  # (suspect, makes calls): the group kinds
            return claim.suspect, claim.record_key not in callless

        self.unstarted.sort(key=kind)  # stable

        def next_group() -> list[Claim]:
            if not self.unstarted:
                return []
            first = kind(self.unstarted[0])
            size = 1 if first[0] else per_attempt if first[1] else len(self.unstarted)
            return list(itertools.takewhile(lambda c: kind(c) == first, self.unstarted[:size]))

        while True:
            took = 0.0
            if self.started:  # by the claim, or below; empty when our leases broke
                began, clock = datetime.now(UTC), time.monotonic()
                following = next_group()
                if (self.ahead is not None and wait > 0 and not self.started[0].suspect
                        and following and kind(following[0]) == (False, True)):
                    self.ahead.submit(following)  # started while these calls run
                outcomes = flow_calls.attempt(self.engine, self.flow, self.started,
                                              force=self.force)
                self._defer_spent(outcomes)
                self._hold(outcomes, began)
                took = time.monotonic() - clock
            with self.engine.connect() as conn:
                group = next_group()
                if self.done and (not group or group[0].suspect or self.report.paused
                                  or time.monotonic() - self.done_since + took >= wait):
                    self._record(conn)
                if not group:
                    return
                started = self.ahead.take(group) if self.ahead is not None else None
                if started is None:
                    # one statement, committed on its own before any call: no BEGIN/COMMIT
                    conn.execution_options(isolation_level="AUTOCOMMIT")
                    started = queue.start(conn, group, worker=self.worker,
                                          run_id=self.worker, kind=self.kind,
                                          lease=self.lease.lease)
                self.started = started
                if self.done and len(self.started) < len(group):
                    # a lease broke: a taker may take what we hold unrecorded, so record it
                    conn.commit()  # ends the start's autobegun (autocommit) transaction
                    conn.execution_options(isolation_level=conn.default_isolation_level)
                    self._record(conn)
            self.unstarted = self.unstarted[len(group):]

    def _hold(self, outcomes: Mapping[str, Outcome], began: datetime) -> None:
        """Keep the started group's outcomes for :meth:`_record`."""
        if not self.done:
            self.done_began, self.done_since = began, time.monotonic()
        self.done += [(claim, outcomes[claim.record_key]) for claim in self.started]
        self.started = []

    def _defer_spent(self, outcomes: Mapping[str, Outcome]) -> None:
        """Records whose calls the daily budget refused (our ledger, or Zoho's code 45) cost
        no attempt: they and the rest of the pass wait for the budget's reset."""
        spent = [c for c in self.started if _budget_refusal(outcomes[c.record_key])]
        if not spent:
            return
        pause = budget_status.pause_for(self.engine, self.flow.entity, refused=True)
        if pause is None:  # Zoho said spent and no ledger knows more: probe again later
            wait = timedelta(seconds=budget.BudgetSettings.from_env().probe_seconds)
            product = budget.product_of(self.flow.entity) or budget.BOOKS
            said = ("Zoho's daily limit reached (code 45)" if product == budget.BOOKS
                    else "Zoho CRM's API credits spent")
            until = datetime.now(UTC) + wait
            pause = budget_status.BudgetPause(product, until, f"{said}, trying again at "
                                              f"{budget.resumes_at_text(until)}")
        deferred = spent + self._unstarted_with_ahead()
        queue.defer(self.engine, deferred, worker=self.worker, until=pause.resets_at,
                    reason=pause.message,
                    zoho_ids={c.record_key: outcomes[c.record_key].zoho_id for c in spent})
        self.report.results += [RecordResult(
            self.flow.entity, c.record_key, "pending", "budget", c.attempt,
            outcomes[c.record_key].zoho_id if c in spent else None, queue.BUDGET_ERROR,
            pause.message) for c in deferred]
        self.started = [c for c in self.started if c not in spent]
        self.unstarted = []
        self.report.paused = pause.message

    def _unstarted_with_ahead(self) -> list[Claim]:
        """The claims not attempted, the group started ahead as it came back (its claims
        started, with their log rows; those whose lease broke left out)."""
        if self.ahead is None:
            return self.unstarted
        pending, started = self.ahead.settle()
        if not pending:
            return self.unstarted
        gone = {claim.record_key for claim in pending}
        return started + [claim for claim in self.unstarted if claim.record_key not in gone]

    def _record(self, conn: sa.Connection) -> None:
        """The outcomes held in one transaction of a constant number of statements: the
        flow's write-backs (one per storefront table), then queue and log. Rolled back by a
        conflict with another transaction (a deadlock with a storefront write that locks the
        same rows in another order), it runs again: nothing of it stood."""
        done = self.done
        flow_calls.settle(self.flow)
        for retry in range(RECORD_TRIES):
            try:
                with conn.begin():
                    self.flow.write_back(conn, [(claim, outcome) for claim, outcome in done
                                                if outcome.ok])
                    statuses = queue.finish_many(conn, done, worker=self.worker,
                                                 run_id=self.worker,
                                                 retry_base_seconds=self.base,
                                                 started_at=self.done_began)
                flow_calls.recorded(self.flow)
                break
            except sa.exc.OperationalError as exc:
                if retry + 1 == RECORD_TRIES or not is_transaction_conflict(exc):
                    raise
                log.warning("recording %d outcomes of %s met a conflict, again: %s",
                            len(done), self.flow.entity, describe_infrastructure_error(exc))
                time.sleep(0.05 * (retry + 1))
        self.report.results += [
            RecordResult(self.flow.entity, claim.record_key, statuses[claim.record_key],
                         outcome.operation, claim.attempt, outcome.zoho_id, outcome.error_code,
                         outcome.error_message, outcome.metadata)
            for claim, outcome in done]
        self.done = []

    def give_back(self, reason: str) -> str:
        """After an infrastructure error: started attempts do not count (those whose
        outcomes were held unrecorded too: the next attempt adopts what Zoho holds),
        unstarted claims are released; a few tries, as the pool replaces a dropped
        connection. If the database stays away, the leases simply run out (and the open
        attempts count as abandoned). Returns what could not be given back, for the error
        message."""
        self.unstarted = self._unstarted_with_ahead()
        # only claims of the group started ahead have log rows among the unstarted
        ahead = [claim for claim in self.unstarted if claim.log_id is not None]
        self.unstarted = [claim for claim in self.unstarted if claim.log_id is None]
        self.started = [claim for claim, _ in self.done] + self.started + ahead
        self.done = []
        for delay in (0.0, 0.5, 1.0, 2.0):
            time.sleep(delay)
            try:
                queue.interrupt(self.engine, self.started, worker=self.worker, reason=reason)
                self.started = []
                queue.release(self.engine, self.unstarted, worker=self.worker)
                self.unstarted = []
                return ""
            except sa.exc.SQLAlchemyError as exc:
                if not is_infrastructure_error(exc):
                    raise
        return (f"; {len(self.started) + len(self.unstarted)} claims could not be given back: "
                f"their leases run out in {self.lease.lease.total_seconds():g} s")


def run_flow(engine: sa.Engine, flow: Flow, *, worker: str | None = None,
             run_id: str | None = None, keys: Sequence[str] | None = None,
             force: bool = False, batch_size: int = 100,
             retry_base: float | None = None, run_kind: str | None = None,
             lease: LeaseSettings | None = None,
             is_run_alive: HeldCheck | None = None) -> SyncReport:
    """Attempt every record of the flow's entity due when the pass starts (only ``keys`` if
    given), once.

    A record that fails transiently is not tried again in the same run: the queue brings it
    back after its backoff, so runs never sleep. ``force`` is the admin's manual retry of
    ``keys``: a record a live run holds is reported ``leased`` naming the holder; a Dagster
    holder that ``is_run_alive`` says is gone has its lease broken. Records are attempted in
    groups of the flow's ``records_per_attempt`` (default: the whole batch), each group's
    outcomes recorded as soon as the flow returns them. Raises :class:`InfrastructureError`
    when the database connection fails.
    """
    run_id = run_id or worker or f"cli-{uuid.uuid4()}"
    worker = worker or run_id
    kind = run_kind or "cli"
    settings = lease or LeaseSettings.from_env()
    state = _Pass(engine, flow, worker, kind, settings,
                  retry_base_seconds() if retry_base is None else retry_base, force,
                  SyncReport(flow.entity))
    state.ahead = StartAhead(engine, worker=worker, run_id=worker, kind=kind,
                             lease=settings.lease)
    calls_before = flow.api_calls()
    per_attempt = getattr(flow, "records_per_attempt", None) or batch_size
    # A flow's preflight (e.g. the CRM field check) runs before anything is claimed, so an org
    # set up wrongly stops the flow with its error and leaves every record as it was.
    preflight = getattr(flow, "preflight", None)
    priority = budget.PRIORITY_OF_ENTITY.get(flow.entity, budget.Priority.SALES)
    try:
        pause = budget_status.pause_for(engine, flow.entity)
        if pause is not None:  # not even the preflight's calls: the budget is spent
            _report_pause(state.report, keys, pause)
            return state.report
        if preflight is not None and (keys or queue.due_records(engine, flow.entity, limit=1)):
            preflight()
        with (Heartbeat(engine, worker, settings), budget.spending(priority),
              flow_calls.grouped(flow)):
            pass_start = queue.database_now(engine)
            breakable: list[str] = []
            if force and keys:
                breakable = _settle_holders(engine, flow.entity, keys, worker, is_run_alive,
                                            state.report)
            for batch_keys in _key_batches(keys, batch_size):
                claims = state.claim(batch_keys, per_attempt, batch_size,
                                     due_before=pass_start, break_holders=breakable,
                                     reclaim_own=True)
                if isinstance(claims, budget_status.BudgetPause):
                    _report_pause(state.report, keys, claims)
                    break
                if not claims and keys is None:
                    break
                state.attempt(claims, per_attempt)
                if state.report.paused:
                    break
    except Exception as exc:
        if not is_infrastructure_error(exc):
            raise
        what = ("database transaction kept conflicting with another"
                if is_transaction_conflict(exc) else "database connection failed")
        reason = f"{what}: {describe_infrastructure_error(exc)}"
        log.debug("%s run %s interrupted", flow.entity, worker, exc_info=True)
        note = state.give_back(reason + " (attempt not counted)")
        state.report.api_calls = flow.api_calls() - calls_before
        raise InfrastructureError(f"{flow.entity}: {reason}{note}", [state.report]) from exc
    finally:
        state.ahead.close()
    state.report.api_calls = flow.api_calls() - calls_before
    return state.report


def _key_batches(keys: Sequence[str] | None, batch_size: int
                 ) -> Iterable[Sequence[str] | None]:
    """Named keys go in fixed batches; otherwise keep taking what is due until none is."""
    if keys is None:
        return itertools.repeat(None)
    return (keys[i:i + batch_size] for i in range(0, len(keys), batch_size))


def _settle_holders(engine: sa.Engine, entity: str, keys: Sequence[str], worker: str,
                    is_run_alive: HeldCheck | None, report: SyncReport) -> list[str]:
    """Before a manual retry: the Dagster runs holding named keys that are gone (their leases
    may be broken) ; a record held by a live (or unknown) run is reported, naming it."""
    breakable, gone = [], {}
    for hold in leases.holds(engine, entities=[entity], keys=keys, not_holder=worker,
                             live_only=True):
        if hold.holder not in gone:
            gone[hold.holder] = (hold.kind == "dagster" and is_run_alive is not None
                                 and is_run_alive(hold.holder) is False)
            if gone[hold.holder]:
                breakable.append(hold.holder)
        if not gone[hold.holder]:
            report.results.append(RecordResult(
                entity, hold.record_key, "leased", "claim", 0, None, "LEASED",
                f"held by {hold.describe()}: it is still running; retry when it has "
                f"finished, or release it with `kn-zoho queue release {hold.holder}` if it "
                "is gone"))
    return breakable


def _report_pause(report: SyncReport, keys: Sequence[str] | None,
                  pause: budget_status.BudgetPause) -> None:
    """The pass stops for the budget; named records it did not reach are reported waiting
    (their partitions say why), untouched in the queue."""
    report.paused = pause.message
    reached = {r.record_key for r in report.results}
    report.results += [RecordResult(report.entity, key, "pending", "budget", 0, None,
                                    queue.BUDGET_ERROR, pause.message)
                       for key in keys or () if key not in reached]


def _budget_refusal(outcome: Outcome) -> bool:
    """A call refused because the day's allowance is spent: our ledger's BUDGET or Books'
    code 45 (see kn_zoho/zoho/budget.py)."""
    return (not outcome.ok and outcome.transient
            and outcome.error_code in (queue.BUDGET_ERROR, "45"))
