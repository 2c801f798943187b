"""Taking work from the sync queue: :func:`claim` takes due rows in a short transaction (its
SQL is :mod:`kn_zoho.storefront.claim_sql`) and :func:`start` begins their attempts before any
Zoho call, counted and logged ``in_progress``. A :class:`Claim` is what a worker holds
meanwhile; how the attempt ends is :mod:`kn_zoho.storefront.outcomes`.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

import sqlalchemy as sa

from kn_zoho.storefront.claim_sql import claim_sql

DEFAULT_LEASE = timedelta(seconds=60)


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
    log_id: int | None = None  # the attempt's log row, once started
    suspect: bool = False      # its last attempt's worker died: attempt it on its own
    changed: bool = False      # its record changed after the claim (known once started)


def claim(bind: sa.Engine | sa.Connection, entity: str, *, worker: str, limit: int = 100,
          keys: Sequence[str] | None = None, exclude: Sequence[str] = (),
          force: bool = False, lease: timedelta = DEFAULT_LEASE, kind: str = "cli",
          due_before: datetime | None = None, break_holders: Sequence[str] = (),
          reclaim_own: bool = False, start: bool = False) -> list[Claim]:
    """Take up to ``limit`` due records of ``entity`` (only ``keys`` if given).

    ``force`` is the admin's manual retry: the named records are taken whatever their state
    or next attempt time (except while another live run holds them: ``break_holders`` names
    runs known to be gone) and get a fresh set of attempts. ``due_before`` (the start of the
    caller's pass) keeps a pass from chasing records that became due while it ran.
    ``reclaim_own`` takes back records ``worker`` holds from an earlier life (a retried
    step). ``exclude`` names records not to take. ``start`` also starts the attempts of the
    claims that are not suspect, as :func:`start` would (run id ``worker``), in the same
    statement: those come back with their ``log_id``. Given a connection, the claim runs in
    the caller's transaction (which must commit before any Zoho call); given an engine, in
    its own.
    """
    if force and keys is None:
        raise ValueError("a forced claim must name its records")
    due = "now()" if due_before is None else "CAST(:due_before AS timestamptz)"
    params = {"entity": entity, "worker": worker, "limit": limit, "force": force,
              "lease_seconds": lease.total_seconds(), "keys": list(keys or []),
              "exclude": list(exclude), "kind": kind, "due_before": due_before,
              "break_holders": list(break_holders),
              "own": worker if reclaim_own else None}
    sql = sa.text(claim_sql(force=force, due_before=due, named=keys is not None,
                            exclude=bool(exclude), start=start))
    if isinstance(bind, sa.Connection):
        rows = bind.execute(sql, params).all()
    else:
        with bind.begin() as conn:
            rows = conn.execute(sql, params).all()
    claims = [Claim(row.entity, row.record_key, row.source_table, row.record_id,
                    row.change_version, row.attempt, row.payload_hash, row.zoho_id,
                    log_id=row.log_id, suspect=row.suspect)
              for row in rows]
    return sorted(claims, key=lambda c: c.record_key)


# The start's commit does not wait for its WAL flush (synchronous_commit off, for this
# statement's transaction only): it is visible at once and durable unless the database server
# itself crashes within a fraction of a second, when the attempt is merely not counted (a
# killed worker is not a crashed server; Zoho's side stays exactly once by its own lookups).
# Any later durable commit, such as the invoice's stock 'sending', flushes it too. -0.3 ms an
# order on the development machine.
_START_SQL = """
WITH started AS (
    UPDATE integration.zoho_sync_queue
       SET attempts = attempts + 1,
           claimed_until = now() + make_interval(secs => :lease_seconds),
           updated_at = now()
     WHERE entity = :entity AND record_key = ANY(:keys) AND claimed_by = :worker
       AND status = 'in_progress'
    RETURNING entity, record_key, record_id, attempts,
              change_version <> claimed_version AS changed
), logged AS (
    INSERT INTO integration.zoho_sync_logs
        (entity, record_key, record_id, operation, status, attempt, run_id, run_kind,
         started_at)
    SELECT entity, record_key, record_id, 'attempt', 'in_progress', attempts, :run_id, :kind,
           now()
      FROM started
    RETURNING id, record_key
), quick AS MATERIALIZED (
    -- read by the join below, so set whenever an attempt starts: this transaction only
    SELECT set_config('synchronous_commit', 'off', true) AS synchronous_commit
)
SELECT logged.id, started.record_key, started.attempts AS attempt, started.changed
  FROM started JOIN logged USING (record_key) CROSS JOIN quick
"""


def start(conn: sa.Connection, claims: Sequence[Claim], *, worker: str, run_id: str,
          kind: str = "cli", lease: timedelta = DEFAULT_LEASE) -> list[Claim]:
    """Begin the attempts of ``claims`` the worker still holds, before any Zoho call, in the
    caller's transaction (which must commit before that call).

    Counts each attempt and logs it ``in_progress`` (so a killed worker leaves a trace and
    a count), and renews the leases. Returns the claims still held, with their attempt
    number, log row and whether their record changed since the claim (what a flow read of
    it before is stale): a claim another run took over since (its lease broke) is left out.
    """
    if not claims:
        return []
    rows = conn.execute(sa.text(_START_SQL), {
        "entity": claims[0].entity, "keys": [c.record_key for c in claims],
        "worker": worker, "run_id": run_id, "kind": kind,
        "lease_seconds": lease.total_seconds()}).all()
    started = {row.record_key: row for row in rows}
    return [replace(c, attempt=started[c.record_key].attempt, log_id=started[c.record_key].id,
                    changed=started[c.record_key].changed)
            for c in claims if c.record_key in started]
