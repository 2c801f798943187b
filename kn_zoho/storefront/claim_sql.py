"""The SQL of a queue claim (:func:`kn_zoho.storefront.queue.claim`), kept apart from the
rest of the queue because its shape is what keeps a claim cheap on a large backlog."""

from __future__ import annotations

# Claims pick rows in (next_attempt_at, record_key) order. Each kind of due row is asked for
# on its own, in the order of its own index (migration 20261121001200), so a claim reads about
# as many rows as it takes whatever the backlog: one condition "pending OR expired lease"
# made Postgres read and sort every due row (a backfill writes them with one next_attempt_at).
# Rows a branch locks beyond the final ``limit`` stay as they were (locked until the claim's
# short transaction ends, so a concurrent claim skips them at worst).
_CLAIM_SQL = """
WITH {candidates},
due AS (
    SELECT entity, record_key FROM candidates
    ORDER BY next_attempt_at, record_key
    LIMIT :limit
)
UPDATE integration.zoho_sync_queue AS q
   SET status = 'in_progress',
       claimed_by = :worker,
       claimed_by_kind = :kind,
       claimed_at = now(),
       claimed_until = now() + make_interval(secs => :lease_seconds),
       claimed_version = q.change_version,
       attempts = CASE WHEN :force THEN 0 ELSE q.attempts END,
       updated_at = now()
  FROM due
 WHERE q.entity = due.entity AND q.record_key = due.record_key
RETURNING q.entity, q.record_key, q.source_table, q.record_id, q.change_version,
          q.attempts + 1 AS attempt, q.payload_hash, q.zoho_id
"""

_CANDIDATES = """{name} AS (
    SELECT entity, record_key, next_attempt_at FROM integration.zoho_sync_queue
     WHERE entity = :entity AND {condition}
     ORDER BY next_attempt_at, record_key
     LIMIT :limit
       FOR UPDATE SKIP LOCKED
)"""
# Named records (a Dagster run's partitions, a manual retry) are looked up key by key through
# the primary key: a subquery with LIMIT is planned on its own, so stale statistics right after
# a bulk insert cannot turn it into a scan of every due row.
_NAMED_CANDIDATES = """candidates AS (
    SELECT q.entity, q.record_key, q.next_attempt_at
      FROM unnest(CAST(:keys AS text[])) AS named(key),
           LATERAL (SELECT * FROM integration.zoho_sync_queue
                     WHERE entity = :entity AND record_key = named.key LIMIT 1) AS q
     WHERE {condition}
     ORDER BY q.next_attempt_at, q.record_key
     LIMIT :limit
       FOR UPDATE OF q SKIP LOCKED
)"""

# Due: pending and its time has come (by the pass's start), or claimed by a run whose lease
# ran out (killed: its heartbeat stopped), or by this very run when it takes its own back
# (a retried Dagster step runs under the same run id).
_DUE_PENDING = "status = 'pending' AND next_attempt_at <= {due_before}"
_DUE_EXPIRED = "status = 'in_progress' AND (claimed_until < now() OR claimed_by = :own)"
DUE = f"(({_DUE_PENDING}) OR ({_DUE_EXPIRED}))"
# Forced (manual retry of named records): anything not held by a live claim, or held by a run
# the caller has proven gone (``break_holders``).
_FORCED = ("(status <> 'in_progress' OR claimed_until < now() OR claimed_by = :own"
           " OR claimed_by = ANY(:break_holders))")


def claim_sql(*, force: bool, due_before: str, named: bool, exclude: bool) -> str:
    """The claim statement. Named records are found by primary key; otherwise expired leases
    and due pending rows are taken, each branch in its own index's order."""
    exclusion = " AND NOT (record_key = ANY(:exclude))" if exclude else ""
    if named:
        condition = (_FORCED if force else DUE.format(due_before=due_before)) + exclusion
        candidates = _NAMED_CANDIDATES.format(condition=condition)
    else:
        branches = [_CANDIDATES.format(name=name, condition=condition + exclusion)
                    for name, condition in (
                        ("expired", _DUE_EXPIRED),
                        ("pending", _DUE_PENDING.format(due_before=due_before)))]
        candidates = ",\n".join([*branches, "candidates AS (SELECT * FROM expired "
                                              "UNION ALL SELECT * FROM pending)"])
    return _CLAIM_SQL.format(candidates=candidates)
