"""How a claim ends: a batch's :class:`Outcome` recorded with its log rows in one statement
(:func:`finish_many`, :func:`finish`), with backoff, dead-lettering and a re-sync of a record
that changed meanwhile; or the claim given back without the record's fault: not attempted
(:func:`release`), cut short by an infrastructure failure (:func:`interrupt`), or waiting for
Zoho's daily budget (:func:`defer`). Claims are taken by :mod:`kn_zoho.storefront.claims`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa

from kn_zoho.storefront.claim_sql import MAX_ATTEMPTS
from kn_zoho.storefront.claims import Claim


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


def backoff_delay(attempt: int, base_seconds: float) -> timedelta:
    """Delay before the next attempt after attempt number ``attempt`` failed: base * 2^(n-1)."""
    return timedelta(seconds=base_seconds * 2 ** (attempt - 1))


# One statement for a whole batch's outcomes: the queue rows, the started attempts' log rows
# completed, and a finished log row for any attempt not started (see :func:`finish_many`).
_FINISH_MANY_SQL = """
WITH outcome AS (
    -- one JSON document (encoded in C) instead of fourteen arrays adapted item by item
    SELECT * FROM json_to_recordset(CAST(:outcomes AS json)) AS o(
        record_key text, record_id uuid, version bigint, attempt integer, status text,
        log_status text, delay_seconds float8, ok boolean, payload_hash text, zoho_id text,
        error_code text, error_message text, operation text, log_id bigint)
), locked AS (
    -- rows locked in key order, as a run that took some over (broken leases) locks them
    SELECT record_key FROM integration.zoho_sync_queue
     WHERE entity = :entity AND record_key = ANY(ARRAY(SELECT record_key FROM outcome))
       AND claimed_by = :worker
     ORDER BY record_key
       FOR UPDATE
), queued AS (
    UPDATE integration.zoho_sync_queue AS q
       SET status = CASE
               -- the record changed while we synced it: sync the new version now
               WHEN q.change_version <> o.version THEN 'pending'
               ELSE o.status END,
           attempts = CASE WHEN q.change_version <> o.version THEN 0 ELSE o.attempt END,
           next_attempt_at = CASE WHEN q.change_version <> o.version THEN now()
                                  ELSE now() + make_interval(secs => o.delay_seconds) END,
           synced_version = CASE WHEN o.ok THEN o.version ELSE q.synced_version END,
           payload_hash = CASE WHEN o.ok THEN coalesce(o.payload_hash, q.payload_hash)
                               ELSE q.payload_hash END,
           zoho_id = coalesce(o.zoho_id, q.zoho_id),
           last_error_code = o.error_code,
           last_error_message = o.error_message,
           claimed_by = NULL,
           claimed_by_kind = NULL,
           claimed_until = NULL,
           updated_at = now()
      FROM outcome AS o JOIN locked USING (record_key)
     WHERE q.entity = :entity AND q.record_key = o.record_key AND q.claimed_by = :worker
    RETURNING q.record_key, q.status
), completed AS (
    UPDATE integration.zoho_sync_logs AS l
       SET operation = o.operation, status = o.log_status, error_code = o.error_code,
           error_message = o.error_message, zoho_id = o.zoho_id, finished_at = now()
      FROM outcome AS o
     WHERE l.id = o.log_id
), written AS (
    INSERT INTO integration.zoho_sync_logs
        (entity, record_key, record_id, operation, status, attempt, error_code, error_message,
         zoho_id, run_id, started_at, finished_at)
    SELECT :entity, record_key, record_id, operation, log_status, attempt, error_code,
           error_message, zoho_id, :run_id, coalesce(CAST(:started_at AS timestamptz), now()),
           now()
      FROM outcome WHERE log_id IS NULL
)
SELECT record_key, status FROM queued
"""


def _next_status(item: Claim, outcome: Outcome, retry_base_seconds: float) -> tuple[str, float]:
    """The queue status an outcome leads to, and the delay before the next attempt."""
    if outcome.ok:
        return "synced", 0.0
    if not outcome.transient:
        return "failed", 0.0
    if item.attempt >= MAX_ATTEMPTS:
        return "dead", 0.0
    return "pending", backoff_delay(item.attempt, retry_base_seconds).total_seconds()


def finish_many(conn: sa.Connection, done: Sequence[tuple[Claim, Outcome]], *, worker: str,
                run_id: str | None = None, retry_base_seconds: float = 60.0,
                started_at: datetime | None = None) -> dict[str, str]:
    """Record the outcomes of one entity's claims and log their attempts, in one statement
    whatever the batch size; returns each record key's queue status now.

    Transient failures come back after an exponential backoff until the fifth attempt,
    then the record is dead. Permanent failures are 'failed' at once (bad data waits for a
    fix or a manual retry). A record that changed while it was synced is pending again at
    once. Runs inside the caller's transaction, so Zoho ids written back onto storefront rows
    commit together with the queue state. A started claim's log row is completed; otherwise
    a finished row is written (``started_at``, default now).
    """
    if not done:
        return {}
    entity = done[0][0].entity
    planned = {claim.record_key: _next_status(claim, outcome, retry_base_seconds)
               for claim, outcome in done}
    if len(planned) != len(done) or any(claim.entity != entity for claim, _ in done):
        raise ValueError("finish_many takes one entity's claims, each record once")
    statuses = [planned[claim.record_key][0] for claim, _ in done]
    outcomes = [
        {"record_key": claim.record_key, "record_id": str(claim.record_id),
         "version": claim.version, "attempt": claim.attempt, "status": status,
         "log_status": {"synced": "success", "pending": "pending"}.get(status, status),
         "delay_seconds": planned[claim.record_key][1], "ok": outcome.ok,
         "payload_hash": outcome.payload_hash, "zoho_id": outcome.zoho_id,
         "error_code": outcome.error_code, "error_message": outcome.error_message,
         "operation": outcome.operation, "log_id": claim.log_id}
        for (claim, outcome), status in zip(done, statuses, strict=True)]
    rows = conn.execute(sa.text(_FINISH_MANY_SQL), {
        "entity": entity, "outcomes": json.dumps(outcomes), "worker": worker,
        "run_id": run_id or worker, "started_at": started_at}).all()
    # A record missing from the reply: our lease broke and another worker took it over. It
    # records its own outcome; ours is still logged for the audit trail.
    final = {claim.record_key: status for (claim, _), status in zip(done, statuses, strict=True)}
    final.update({row.record_key: row.status for row in rows})
    return final


def finish(conn: sa.Connection, item: Claim, outcome: Outcome, *, worker: str,
           run_id: str | None = None, retry_base_seconds: float = 60.0,
           started_at: datetime | None = None) -> str:
    """:func:`finish_many` for one claim; returns its queue status now."""
    return finish_many(conn, [(item, outcome)], worker=worker, run_id=run_id,
                       retry_base_seconds=retry_base_seconds,
                       started_at=started_at)[item.record_key]


def release(engine: sa.Engine, claims: Sequence[Claim], *, worker: str) -> None:
    """Give back claims that were not attempted (e.g. a run stopping early): due again now."""
    if not claims:
        return
    with engine.begin() as conn:
        conn.execute(
            sa.text("""UPDATE integration.zoho_sync_queue
                          SET status = 'pending', claimed_by = NULL, claimed_by_kind = NULL,
                              claimed_until = NULL, next_attempt_at = now(), updated_at = now()
                        WHERE entity = :entity AND record_key = :record_key
                          AND claimed_by = :worker"""),
            [{"entity": c.entity, "record_key": c.record_key, "worker": worker} for c in claims],
        )


def interrupt(engine: sa.Engine, claims: Sequence[Claim], *, worker: str, reason: str) -> None:
    """Give back started attempts an infrastructure failure cut short: the attempt does not
    count (the record was not at fault), the record is due again now, and the log row says
    why it stopped. What Zoho may have stored meanwhile is adopted by the next attempt."""
    if not claims:
        return
    with engine.begin() as conn:
        conn.execute(
            sa.text("""UPDATE integration.zoho_sync_queue
                          SET status = 'pending', attempts = greatest(attempts - 1, 0),
                              claimed_by = NULL, claimed_by_kind = NULL, claimed_until = NULL,
                              next_attempt_at = now(), updated_at = now()
                        WHERE entity = :entity AND record_key = :record_key
                          AND claimed_by = :worker AND status = 'in_progress'"""),
            [{"entity": c.entity, "record_key": c.record_key, "worker": worker} for c in claims],
        )
        conn.execute(
            sa.text("""UPDATE integration.zoho_sync_logs
                          SET status = 'interrupted', error_code = 'INFRASTRUCTURE',
                              error_message = :reason, finished_at = now()
                        WHERE id = ANY(:ids) AND status = 'in_progress'"""),
            {"ids": [c.log_id for c in claims if c.log_id is not None], "reason": reason})


BUDGET_ERROR = "BUDGET"

_DEFER_SQL = """
WITH deferred AS (
    UPDATE integration.zoho_sync_queue AS q
       SET status = 'pending', attempts = greatest(q.attempts - :given_back, 0),
           next_attempt_at = greatest(CAST(:until AS timestamptz), now()),
           zoho_id = coalesce(CAST(:zoho_id AS text), q.zoho_id),
           last_error_code = :code, last_error_message = :reason,
           claimed_by = NULL, claimed_by_kind = NULL, claimed_until = NULL, updated_at = now()
     WHERE q.entity = :entity AND q.record_key = :record_key AND q.claimed_by = :worker
       AND q.status = 'in_progress'
    RETURNING q.entity, q.record_key, q.record_id, q.attempts
)
INSERT INTO integration.zoho_sync_logs
    (entity, record_key, record_id, operation, status, attempt, error_code, error_message,
     zoho_id, run_id, started_at, finished_at)
SELECT entity, record_key, record_id, 'budget', 'deferred', attempts + 1, :code, :reason,
       :zoho_id, :worker, now(), now()
  FROM deferred WHERE CAST(:log_id AS bigint) IS NULL
"""


def defer(engine: sa.Engine, claims: Sequence[Claim], *, worker: str, until: datetime,
          reason: str, zoho_ids: Mapping[str, str | None] | None = None) -> None:
    """Give back claims the daily Zoho budget cannot pay for: due again at ``until`` (the
    window's reset), no attempt counted, logged ``deferred`` with error BUDGET.

    An unstarted claim keeps its attempts; a started one (Zoho or our ledger refused a call
    mid-attempt) gets its attempt back like :func:`interrupt`, keeps the Zoho id it reached
    (``zoho_ids``) and has its open log row completed. What Zoho stored is adopted next time.
    """
    if not claims:
        return
    ids = zoho_ids or {}
    with engine.begin() as conn:
        conn.execute(sa.text(_DEFER_SQL), [
            {"entity": c.entity, "record_key": c.record_key, "worker": worker, "until": until,
             "reason": reason, "code": BUDGET_ERROR, "zoho_id": ids.get(c.record_key),
             "given_back": 1 if c.log_id is not None else 0, "log_id": c.log_id}
            for c in claims])
        started = [c.log_id for c in claims if c.log_id is not None]
        if started:
            conn.execute(sa.text(
                "UPDATE integration.zoho_sync_logs SET status = 'deferred', error_code = :code,"
                " error_message = :reason || ' (attempt not counted)', finished_at = now()"
                " WHERE id = ANY(:ids) AND status = 'in_progress'"),
                {"ids": started, "code": BUDGET_ERROR, "reason": reason})
