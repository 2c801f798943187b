"""Run one flow over the queue: claim a batch, let the flow attempt it, record outcomes."""

from __future__ import annotations

import itertools
import logging
import os
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol

import sqlalchemy as sa

from kn_zoho.storefront import queue
from kn_zoho.storefront.queue import Claim, Outcome
from kn_zoho.zoho.redaction import redact

log = logging.getLogger(__name__)

RETRY_BASE_ENV = "KN_ZOHO_RETRY_BASE_SECONDS"


def retry_base_seconds() -> float:
    """Base delay of the exponential backoff between attempts (``KN_ZOHO_RETRY_BASE_SECONDS``)."""
    raw = os.environ.get(RETRY_BASE_ENV, "60")
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"{RETRY_BASE_ENV} must be a number of seconds, got {raw!r}") from None
    if value < 0:
        raise ValueError(f"{RETRY_BASE_ENV} must not be negative, got {raw!r}")
    return value


class Flow(Protocol):
    """One kind of storefront record going to Zoho."""

    entity: str

    def attempt(self, engine: sa.Engine, claims: Sequence[Claim], *, force: bool
                ) -> dict[str, Outcome]:
        """Try to sync the claimed records; one outcome per record key."""
        ...

    def write_back(self, conn: sa.Connection, claim: Claim, outcome: Outcome) -> None:
        """Store Zoho's id on the storefront row (same transaction as the queue update)."""
        ...

    def api_calls(self) -> int:
        """Zoho API calls made so far by this flow's clients."""
        ...


@dataclass(frozen=True)
class RecordResult:
    """What happened to one record in this run, for logs, CLI output and Dagster metadata."""

    entity: str
    record_key: str
    status: str            # queue status after the attempt: synced/pending/failed/dead
    operation: str
    attempt: int
    zoho_id: str | None
    error_code: str | None
    error_message: str | None
    metadata: Mapping[str, str | int | float] | None = None


@dataclass
class SyncReport:
    entity: str
    results: list[RecordResult] = field(default_factory=list)
    api_calls: int = 0

    def count(self, status: str) -> int:
        return sum(1 for r in self.results if r.status == status)

    @property
    def failures(self) -> list[RecordResult]:
        return [r for r in self.results if r.status != "synced"]


def run_flow(engine: sa.Engine, flow: Flow, *, worker: str | None = None,
             run_id: str | None = None, keys: Sequence[str] | None = None,
             force: bool = False, batch_size: int = 100,
             retry_base: float | None = None) -> SyncReport:
    """Attempt every due record of the flow's entity once (only ``keys`` if given).

    A record that fails transiently is not tried again in the same run: the queue brings it
    back after its backoff, so runs never sleep. ``force`` is the admin's manual retry of
    ``keys``.
    """
    worker = worker or run_id or f"cli-{uuid.uuid4()}"
    base = retry_base_seconds() if retry_base is None else retry_base
    report = SyncReport(flow.entity)
    calls_before = flow.api_calls()
    # A flow's preflight (e.g. the CRM field check) runs before anything is claimed, so an org
    # set up wrongly stops the flow with its error and leaves every record as it was.
    preflight = getattr(flow, "preflight", None)
    if preflight is not None and (keys or queue.due_records(engine, flow.entity, limit=1)):
        preflight()
    attempted: set[str] = set()
    # Named keys go in fixed batches; otherwise keep taking whatever is due until none is.
    key_batches: Iterable[Sequence[str] | None] = (
        itertools.repeat(None) if keys is None
        else (keys[i:i + batch_size] for i in range(0, len(keys), batch_size)))
    for batch_keys in key_batches:
        claims = queue.claim(engine, flow.entity, worker=worker, limit=batch_size,
                             keys=batch_keys, exclude=sorted(attempted), force=force)
        if not claims:
            if keys is None:
                break
            continue
        started = datetime.now(UTC)
        outcomes = _attempt(engine, flow, claims, force=force)
        with engine.begin() as conn:
            for claim in claims:
                outcome = outcomes[claim.record_key]
                if outcome.ok:
                    flow.write_back(conn, claim, outcome)
                status = queue.finish(conn, claim, outcome, worker=worker, run_id=run_id,
                                      retry_base_seconds=base, started_at=started)
                report.results.append(RecordResult(
                    flow.entity, claim.record_key, status, outcome.operation, claim.attempt,
                    outcome.zoho_id, outcome.error_code, outcome.error_message,
                    outcome.metadata))
        attempted.update(c.record_key for c in claims)
    report.api_calls = flow.api_calls() - calls_before
    return report


def _attempt(engine: sa.Engine, flow: Flow, claims: Sequence[Claim], *, force: bool
             ) -> dict[str, Outcome]:
    """The flow's outcomes; a bug in the flow becomes a logged transient failure per record,
    so the batch is recorded, retried and, if it keeps failing, dead-lettered and alerted."""
    try:
        outcomes = flow.attempt(engine, claims, force=force)
    except Exception as exc:
        log.exception("%s flow failed on a batch of %d", flow.entity, len(claims))
        message = redact(f"{type(exc).__name__}: {exc}")
        return {c.record_key: Outcome.failure("attempt", "INTERNAL_ERROR", message,
                                              transient=True) for c in claims}
    missing = [c.record_key for c in claims if c.record_key not in outcomes]
    for key in missing:
        outcomes[key] = Outcome.failure("attempt", "INTERNAL_ERROR",
                                        "flow returned no outcome for this record",
                                        transient=True)
    return outcomes
