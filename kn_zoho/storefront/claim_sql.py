"""The SQL of a queue claim (:func:`kn_zoho.storefront.claims.claim`), kept apart from the
rest of the queue because its shape is what keeps a claim cheap on a large backlog.

A claim is one statement (one round trip per batch): it dead-letters the records whose worker
died during their last allowed attempt, takes the due rows, marks the attempts a gone run left
open on them ``abandoned`` (those claims are suspect) and, if asked, starts the attempts of the
others. Every CTE sees the statement's one snapshot, so the claim's own conditions leave the
dead-lettered rows out, and the attempts it starts are not taken for abandoned ones.
"""

from __future__ import annotations

MAX_ATTEMPTS = 5

# Claims pick rows in (next_attempt_at, record_key) order. Each kind of due row is asked for
# on its own, in the order of its own index (migration 20261121001200), so a claim reads about
# as many rows as it takes whatever the backlog: one condition "pending OR expired lease"
# made Postgres read and sort every due row (a backfill writes them with one next_attempt_at).
# Rows a branch locks beyond the final ``limit`` stay as they were (locked until the claim's
# short transaction ends, so a concurrent claim skips them at worst).
_CLAIM_SQL = """
WITH {lost}{candidates},
due AS (
    -- suspect: an attempt is still open on it, so the run that made it is gone
    SELECT c.entity, c.record_key,
           EXISTS (SELECT 1 FROM integration.zoho_sync_logs AS l
                    WHERE l.entity = c.entity AND l.record_key = c.record_key
                      AND l.status = 'in_progress') AS suspect
      FROM candidates AS c
     ORDER BY c.next_attempt_at, c.record_key
     LIMIT :limit
), claimed AS (
    UPDATE integration.zoho_sync_queue AS q
       SET status = 'in_progress',
           claimed_by = :worker,
           claimed_by_kind = :kind,
           claimed_at = now(),
           claimed_until = now() + make_interval(secs => :lease_seconds),
           claimed_version = q.change_version,
           attempts = CASE WHEN :force THEN 0 ELSE q.attempts END
                      + CASE WHEN {start} AND NOT due.suspect THEN 1 ELSE 0 END,
           updated_at = now()
      FROM due
     WHERE q.entity = due.entity AND q.record_key = due.record_key
    RETURNING q.entity, q.record_key, q.source_table, q.record_id, q.change_version,
              q.attempts + CASE WHEN {start} AND NOT due.suspect THEN 0 ELSE 1 END AS attempt,
              q.payload_hash, q.zoho_id, due.suspect
), abandoned AS (
    UPDATE integration.zoho_sync_logs
       SET status = 'abandoned', error_code = 'WORKER_LOST', finished_at = now(),
           error_message = 'run ' || coalesce(run_id, '?') || ' stopped before recording an '
                           || 'outcome'
     WHERE entity = :entity AND record_key = ANY(ARRAY(SELECT record_key FROM claimed
                                                        WHERE suspect))
       AND status = 'in_progress'
), started AS (
    -- as queue.start does: the attempt is counted and logged before any Zoho call
    INSERT INTO integration.zoho_sync_logs
        (entity, record_key, record_id, operation, status, attempt, run_id, run_kind,
         started_at)
    SELECT entity, record_key, record_id, 'attempt', 'in_progress', attempt, :worker, :kind,
           now()
      FROM claimed WHERE {start} AND NOT suspect
    RETURNING id, record_key
)
SELECT claimed.*, started.id AS log_id FROM claimed LEFT JOIN started USING (record_key)
"""

# A record whose worker died during its last allowed attempt: the lease ran out with the
# attempts used up. Dead-lettered (and alerted like any dead letter), never retried forever.
# A row another transaction holds is skipped, as the claim's own candidates are: its run, alive
# after all, may be recording it, and waiting for it could close a lock cycle with that
# recording; the next claim dead-letters it if it is still lost.
_LOST = """gone AS (
    SELECT entity, record_key FROM integration.zoho_sync_queue
     WHERE entity = :entity AND status = 'in_progress' AND attempts >= {max_attempts}
       AND (claimed_until < now() OR claimed_by = :own){keys}
       FOR UPDATE SKIP LOCKED
), lost AS (
    UPDATE integration.zoho_sync_queue AS q
       SET status = 'dead', last_error_code = 'WORKER_LOST',
           last_error_message = 'the worker stopped (killed, out of memory or crashed) during '
               || q.attempts || ' attempts in a row; last run ' || coalesce(q.claimed_by, '?'),
           claimed_by = NULL, claimed_by_kind = NULL, claimed_until = NULL, updated_at = now()
      FROM gone
     WHERE q.entity = gone.entity AND q.record_key = gone.record_key
    RETURNING q.entity, q.record_key, q.last_error_message
), lost_logged AS (
    UPDATE integration.zoho_sync_logs AS l
       SET status = 'dead', error_code = 'WORKER_LOST', error_message = lost.last_error_message,
           finished_at = now()
      FROM lost
     WHERE l.entity = lost.entity AND l.record_key = lost.record_key
       AND l.status = 'in_progress'
),
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
# What a claim takes back of an expired lease: the rows the same statement dead-letters
# (``lost``, attempts used up) are left out, as it sees them still in progress.
_RETAKE = f"{_DUE_EXPIRED} AND attempts < {MAX_ATTEMPTS}"
_CLAIM_DUE = f"(({_DUE_PENDING}) OR ({_RETAKE}))"
# Forced (manual retry of named records): anything not held by a live claim, or held by a run
# the caller has proven gone (``break_holders``).
_FORCED = ("(status <> 'in_progress' OR claimed_until < now() OR claimed_by = :own"
           " OR claimed_by = ANY(:break_holders))")


def claim_sql(*, force: bool, due_before: str, named: bool, exclude: bool,
              start: bool = False) -> str:
    """The claim statement. Named records are found by primary key; otherwise expired leases
    and due pending rows are taken, each branch in its own index's order. A forced claim
    dead-letters nothing (the admin gives the records fresh attempts). ``start`` also starts
    the attempts of the claims that are not suspect (see :func:`claims.start`)."""
    exclusion = " AND NOT (record_key = ANY(:exclude))" if exclude else ""
    if named:
        condition = (_FORCED if force else _CLAIM_DUE.format(due_before=due_before)) + exclusion
        candidates = _NAMED_CANDIDATES.format(condition=condition)
    else:
        branches = [_CANDIDATES.format(name=name, condition=condition + exclusion)
                    for name, condition in (
                        ("expired", _RETAKE),
                        ("pending", _DUE_PENDING.format(due_before=due_before)))]
        candidates = ",\n".join([*branches, "candidates AS (SELECT * FROM expired "
                                              "UNION ALL SELECT * FROM pending)"])
    lost = "" if force else _LOST.format(
        max_attempts=MAX_ATTEMPTS, keys=" AND record_key = ANY(:keys)" if named else "")
    return _CLAIM_SQL.format(lost=lost, candidates=candidates,
                             start="true" if start else "false")
