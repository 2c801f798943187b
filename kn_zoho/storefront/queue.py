"""The durable sync queue in ``integration.zoho_sync_queue`` and its attempt log.

Triggers put one row per storefront record in the queue (same transaction as the change).
Workers *claim* due rows in a short transaction (``FOR UPDATE SKIP LOCKED``, so two runs
never take the same record) and hold a lease while they talk to Zoho; no row lock is held
during the HTTP call, so storefront writes never wait on Zoho. A run killed mid-batch leaves
leases that expire and make its records due again. Each outcome is recorded together with
its log row in one transaction.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa

MAX_ATTEMPTS = 5
DEFAULT_LEASE = timedelta(minutes=15)


@dataclass(frozen=True)
class Claim:
    """A queue row a worker has taken; ``attempt`` is the number of this attempt (1-based)."""

    entity: str
    record_key: str
    source_table: str
    record_id: uuid.UUID
    version: int
    attempt: int
    payload_hash: str | None
    zoho_id: str | None


@dataclass(frozen=True)
class Outcome:
    """What one attempt achieved. ``transient`` failures are retried with backoff."""

    ok: bool
    operation: str
    zoho_id: str | None = None
    payload_hash: str | None = None
    error_code: str | None = None
    error_message: str | None = None
    transient: bool = False
    metadata: Mapping[str, str | int | float] | None = None  # audit details for the UI

    @classmethod
    def success(cls, operation: str, zoho_id: str | None, payload_hash: str | None = None,
                metadata: Mapping[str, str | int | float] | None = None) -> Outcome:
        return cls(True, operation, zoho_id=zoho_id, payload_hash=payload_hash,
                   metadata=metadata)

    @classmethod
    def failure(cls, operation: str, code: str, message: str, *, transient: bool) -> Outcome:
        return cls(False, operation, error_code=code, error_message=message, transient=transient)


_CLAIM_SQL = """
WITH due AS (
    SELECT entity, record_key FROM integration.zoho_sync_queue
    WHERE entity = :entity
      AND {condition}
    ORDER BY next_attempt_at, record_key
    LIMIT :limit
    FOR UPDATE SKIP LOCKED
)
UPDATE integration.zoho_sync_queue AS q
   SET status = 'in_progress',
       claimed_by = :worker,
       claimed_until = now() + make_interval(secs => :lease_seconds),
       claimed_version = q.change_version,
       attempts = CASE WHEN :force THEN 0 ELSE q.attempts END,
       updated_at = now()
  FROM due
 WHERE q.entity = due.entity AND q.record_key = due.record_key
RETURNING q.entity, q.record_key, q.source_table, q.record_id, q.change_version,
          q.attempts + 1 AS attempt, q.payload_hash, q.zoho_id
"""

# Due: pending and its time has come, or claimed by a run whose lease ran out (killed).
_DUE = ("((status = 'pending' AND next_attempt_at <= now())"
        " OR (status = 'in_progress' AND claimed_until < now()))")
# Forced (manual retry of named records): anything not held by a live claim.
_FORCED = "(status <> 'in_progress' OR claimed_until < now())"


def claim(engine: sa.Engine, entity: str, *, worker: str, limit: int = 100,
          keys: Sequence[str] | None = None, exclude: Sequence[str] = (),
          force: bool = False, lease: timedelta = DEFAULT_LEASE) -> list[Claim]:
    """Take up to ``limit`` due records of ``entity`` (only ``keys`` if given).

    ``force`` is the admin's manual retry: the named records are taken whatever their state
    or next attempt time (except while another run holds them) and get a fresh set of
    attempts. ``exclude`` names records the caller has already attempted in this pass.
    """
    if force and keys is None:
        raise ValueError("a forced claim must name its records")
    condition = _FORCED if force else _DUE
    if keys is not None:
        condition += " AND record_key = ANY(:keys)"
    if exclude:
        condition += " AND NOT (record_key = ANY(:exclude))"
    params = {"entity": entity, "worker": worker, "limit": limit, "force": force,
              "lease_seconds": lease.total_seconds(), "keys": list(keys or []),
              "exclude": list(exclude)}
    with engine.begin() as conn:
        rows = conn.execute(sa.text(_CLAIM_SQL.format(condition=condition)), params).all()
    claims = [Claim(row.entity, row.record_key, row.source_table, row.record_id,
                    row.change_version, row.attempt, row.payload_hash, row.zoho_id)
              for row in rows]
    return sorted(claims, key=lambda c: c.record_key)


def backoff_delay(attempt: int, base_seconds: float) -> timedelta:
    """Delay before the next attempt after attempt number ``attempt`` failed: base * 2^(n-1)."""
    return timedelta(seconds=base_seconds * 2 ** (attempt - 1))


_FINISH_SQL = """
UPDATE integration.zoho_sync_queue AS q
   SET status = CASE
           -- the record changed while we synced it: sync the new version now
           WHEN q.change_version <> :version THEN 'pending'
           ELSE :status END,
       attempts = CASE WHEN q.change_version <> :version THEN 0 ELSE :attempt END,
       next_attempt_at = CASE WHEN q.change_version <> :version THEN now()
                              ELSE now() + make_interval(secs => :delay_seconds) END,
       synced_version = CASE WHEN :ok THEN :version ELSE q.synced_version END,
       payload_hash = CASE WHEN :ok THEN coalesce(:payload_hash, q.payload_hash)
                           ELSE q.payload_hash END,
       zoho_id = coalesce(:zoho_id, q.zoho_id),
       last_error_code = :error_code,
       last_error_message = :error_message,
       claimed_by = NULL,
       claimed_until = NULL,
       updated_at = now()
 WHERE q.entity = :entity AND q.record_key = :record_key AND q.claimed_by = :worker
RETURNING q.status
"""

_LOG_SQL = """
INSERT INTO integration.zoho_sync_logs
    (entity, record_key, record_id, operation, status, attempt, error_code, error_message,
     zoho_id, dagster_run_id, started_at, finished_at)
VALUES (:entity, :record_key, :record_id, :operation, :log_status, :attempt, :error_code,
        :error_message, :zoho_id, :run_id, coalesce(:started_at, now()), now())
"""


def finish(conn: sa.Connection, item: Claim, outcome: Outcome, *, worker: str,
           run_id: str | None = None, retry_base_seconds: float = 60.0,
           started_at: datetime | None = None) -> str:
    """Record ``outcome`` for a claim and log the attempt; returns the queue status now.

    Transient failures come back after an exponential backoff until the fifth attempt,
    then the record is dead. Permanent failures are 'failed' at once (bad data waits for a
    fix or a manual retry). Runs inside the caller's transaction, so Zoho ids written back
    onto storefront rows commit together with the queue state.
    """
    if outcome.ok:
        status, delay = "synced", 0.0
    elif not outcome.transient:
        status, delay = "failed", 0.0
    elif item.attempt >= MAX_ATTEMPTS:
        status, delay = "dead", 0.0
    else:
        status, delay = "pending", backoff_delay(item.attempt, retry_base_seconds).total_seconds()
    params = {
        "entity": item.entity, "record_key": item.record_key, "record_id": item.record_id,
        "version": item.version, "attempt": item.attempt, "worker": worker, "ok": outcome.ok,
        "status": status, "delay_seconds": delay, "payload_hash": outcome.payload_hash,
        "zoho_id": outcome.zoho_id, "error_code": outcome.error_code,
        "error_message": outcome.error_message, "operation": outcome.operation,
        "run_id": run_id,
    }
    final = conn.execute(sa.text(_FINISH_SQL), params).scalar()
    if final is None:
        # Our lease ran out and another worker took the record over: it will record its own
        # outcome; ours is still logged for the audit trail.
        final = status
    log_status = {"synced": "success", "pending": "pending"}.get(status, status)
    conn.execute(sa.text(_LOG_SQL), {**params, "log_status": log_status,
                                     "started_at": started_at})
    return final


def release(engine: sa.Engine, claims: Sequence[Claim], *, worker: str) -> None:
    """Give back claims that were not attempted (e.g. a run stopping early): due again now."""
    if not claims:
        return
    with engine.begin() as conn:
        conn.execute(
            sa.text("""UPDATE integration.zoho_sync_queue
                          SET status = 'pending', claimed_by = NULL, claimed_until = NULL,
                              next_attempt_at = now(), updated_at = now()
                        WHERE entity = :entity AND record_key = :record_key
                          AND claimed_by = :worker"""),
            [{"entity": c.entity, "record_key": c.record_key, "worker": worker} for c in claims],
        )


@dataclass(frozen=True)
class DueRecord:
    record_key: str
    version: int
    attempts: int


def due_records(engine: sa.Engine, entity: str, *, limit: int = 5000) -> list[DueRecord]:
    """Records a sensor should launch a run for: due now, or held by an expired lease."""
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text(f"SELECT record_key, change_version, attempts "  # noqa: S608
                    f"FROM integration.zoho_sync_queue WHERE entity = :entity AND {_DUE} "
                    "ORDER BY next_attempt_at, record_key LIMIT :limit"),
            {"entity": entity, "limit": limit},
        )
        return [DueRecord(row.record_key, row.change_version, row.attempts) for row in rows]


def status_counts(engine: sa.Engine, entity: str | None = None) -> dict[str, int]:
    """How many queue rows are in each status (all entities, or one)."""
    query = "SELECT status, count(*) AS n FROM integration.zoho_sync_queue"
    if entity:
        query += " WHERE entity = :entity"
    with engine.connect() as conn:
        rows = conn.execute(sa.text(query + " GROUP BY status"), {"entity": entity})
        counts = {status: 0 for status in ("pending", "in_progress", "synced", "failed", "dead")}
        counts.update({row.status: row.n for row in rows})
        return counts
