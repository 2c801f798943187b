"""Who holds which queue records: renewing a run's leases, finding and releasing holders.

A lease is ``claimed_by`` (the run id), ``claimed_by_kind`` (``dagster`` or ``cli``),
``claimed_at`` and ``claimed_until`` on a queue row. A live run renews ``claimed_until`` every
few seconds (its heartbeat), so an unexpired lease means "the holder was alive a moment
ago" and an expired one means "the holder is gone": the records are due again.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa


class LeaseHeldError(RuntimeError):
    """A live run holds the records: it must finish (or be shown gone) first."""


@dataclass(frozen=True)
class Hold:
    """One record held by a run."""

    entity: str
    record_key: str
    holder: str
    kind: str | None
    claimed_at: datetime | None
    claimed_until: datetime
    live: bool  # the lease has not run out: the holder renewed it recently

    def describe(self) -> str:
        state = "lease live" if self.live else "lease expired"
        until = self.claimed_until.isoformat(timespec="seconds")
        return f"{self.kind or 'unknown'} run {self.holder} ({state} until {until})"


# A holder's rows, locked in key order: the order outcomes are recorded in (outcomes.py). An
# UPDATE alone locks them in the order of whatever it scans (the table, or an index by due
# time), and a heartbeat renewing while its own run records outcomes then deadlocked.
_HELD_IN_KEY_ORDER = """
    held AS (
        SELECT entity, record_key FROM integration.zoho_sync_queue
         WHERE claimed_by = :holder AND status = 'in_progress'
         ORDER BY entity, record_key
           FOR UPDATE
    )"""


def renew(engine: sa.Engine, worker: str, lease: timedelta) -> int:
    """Extend every lease ``worker`` still holds; returns how many it holds."""
    with engine.begin() as conn:
        result = conn.execute(sa.text(
            f"WITH {_HELD_IN_KEY_ORDER} UPDATE integration.zoho_sync_queue AS q "  # noqa: S608
            "SET claimed_until = now() + make_interval(secs => :seconds) FROM held "
            "WHERE q.entity = held.entity AND q.record_key = held.record_key "
            "AND q.claimed_by = :holder AND q.status = 'in_progress'"),
            {"holder": worker, "seconds": lease.total_seconds()})
        return result.rowcount


_HOLDS_SQL = """
SELECT entity, record_key, claimed_by, claimed_by_kind, claimed_at, claimed_until,
       claimed_until >= now() AS live
  FROM integration.zoho_sync_queue
 WHERE status = 'in_progress' AND claimed_by IS NOT NULL {conditions}
 ORDER BY entity, record_key
"""


def holds(engine: sa.Engine, *, entities: Sequence[str] | None = None,
          keys: Sequence[str] | None = None, holder: str | None = None,
          not_holder: str | None = None, live_only: bool = False) -> list[Hold]:
    """Records held by a run, filtered by entity, key, holder."""
    conditions = []
    if entities is not None:
        conditions.append("entity = ANY(:entities)")
    if keys is not None:
        conditions.append("record_key = ANY(:keys)")
    if holder is not None:
        conditions.append("claimed_by = :holder")
    if not_holder is not None:
        conditions.append("claimed_by <> :not_holder")
    if live_only:
        conditions.append("claimed_until >= now()")
    sql = _HOLDS_SQL.format(conditions="".join(f" AND {c}" for c in conditions))
    with engine.connect() as conn:
        rows = conn.execute(sa.text(sql), {
            "entities": list(entities or []), "keys": list(keys or []), "holder": holder,
            "not_holder": not_holder}).all()
    return [Hold(*row) for row in rows]


def leased_by(engine: sa.Engine, entities: Sequence[str]) -> dict[str, int]:
    """Live leases per holder over ``entities``: records a run is working on right now."""
    with engine.connect() as conn:
        rows = conn.execute(sa.text(
            "SELECT coalesce(claimed_by_kind || ' ', '') || claimed_by AS holder, count(*) "
            "FROM integration.zoho_sync_queue WHERE entity = ANY(:entities) "
            "AND status = 'in_progress' AND claimed_until >= now() "
            "GROUP BY 1 ORDER BY 1"), {"entities": list(entities)}).all()
    return {row.holder: row.count for row in rows}


def release_run(engine: sa.Engine, holder: str, *, force: bool = False) -> int:
    """Make the records ``holder`` holds due again now; returns how many.

    Refused while the holder's lease is live (it renewed it recently: it is running) unless
    ``force``. A released record keeps its attempts; an attempt that was open is closed as
    abandoned, as if the next claim had found the lease run out.
    """
    with engine.begin() as conn:
        live = conn.execute(sa.text(
            "SELECT count(*) FROM integration.zoho_sync_queue WHERE claimed_by = :holder "
            "AND status = 'in_progress' AND claimed_until >= now()"),
            {"holder": holder}).scalar_one()
        if live and not force:
            raise LeaseHeldError(
                f"run {holder} holds {live} records with a live lease (it renewed it within "
                "the lease time, so it looks alive); wait for it, or use --force if you know "
                "it is gone")
        rows = conn.execute(sa.text(
            f"WITH {_HELD_IN_KEY_ORDER} UPDATE integration.zoho_sync_queue AS q "  # noqa: S608
            "SET status = 'pending', claimed_by = NULL, claimed_by_kind = NULL, "
            "claimed_until = NULL, next_attempt_at = now(), updated_at = now() FROM held "
            "WHERE q.entity = held.entity AND q.record_key = held.record_key "
            "AND q.claimed_by = :holder AND q.status = 'in_progress' "
            "RETURNING q.entity, q.record_key"), {"holder": holder}).all()
        conn.execute(sa.text(
            "UPDATE integration.zoho_sync_logs SET status = 'abandoned', finished_at = now(), "
            "error_code = 'RELEASED', error_message = 'lease of run ' || :holder "
            "|| ' released by an operator' WHERE run_id = :holder AND status = 'in_progress'"),
            {"holder": holder})
    return len(rows)


@dataclass(frozen=True)
class QueueEntry:
    """A queue row as the operator's `kn-zoho queue list` shows it."""

    entity: str
    record_key: str
    status: str
    attempts: int
    holder: str | None
    holder_kind: str | None
    held_seconds: float | None   # since the claim
    lease_left_seconds: float | None
    waiting_seconds: float       # since the change was queued
    last_error: str | None


def entries(engine: sa.Engine, *, entity: str | None = None,
            statuses: Sequence[str] = ("in_progress", "failed", "dead"),
            limit: int = 200) -> list[QueueEntry]:
    """Held, failed and dead records (or the given statuses), oldest first."""
    with engine.connect() as conn:
        rows = conn.execute(sa.text(
            "SELECT entity, record_key, status, attempts, claimed_by, claimed_by_kind, "
            "extract(epoch FROM now() - claimed_at) AS held, "
            "extract(epoch FROM claimed_until - now()) AS lease_left, "
            "extract(epoch FROM now() - enqueued_at) AS waiting, "
            "CASE WHEN last_error_code IS NULL THEN NULL "
            "     ELSE last_error_code || ': ' || coalesce(last_error_message, '') END "
            "FROM integration.zoho_sync_queue WHERE status = ANY(:statuses) "
            "AND (CAST(:entity AS text) IS NULL OR entity = :entity) "
            "ORDER BY enqueued_at, entity, record_key LIMIT :limit"),
            {"statuses": list(statuses), "entity": entity, "limit": limit}).all()
    return [QueueEntry(row[0], row[1], row[2], row[3], row[4], row[5],
                       None if row[2] != "in_progress" or row[6] is None else float(row[6]),
                       None if row[2] != "in_progress" or row[7] is None else float(row[7]),
                       float(row[8]), row[9])
            for row in rows]
