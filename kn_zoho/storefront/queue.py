"""The durable sync queue in ``integration.zoho_sync_queue`` and its attempt log.

Triggers put one row per storefront record in the queue (same transaction as the change).
Workers *claim* due rows in a short transaction (``FOR UPDATE SKIP LOCKED``, so two runs
never take the same record) and hold a lease while they talk to Zoho; no row lock is held
during the HTTP call, so storefront writes never wait on Zoho. A live run renews its leases
(a heartbeat, :mod:`kn_zoho.sync.heartbeat`); a run killed mid-batch stops renewing, and its
records are due again when the short lease runs out.

An attempt is *started* (:func:`start`) right before the flow works on the record: its
attempt is counted and an ``in_progress`` log row written, so an attempt whose worker dies
leaves a trace, and a record that kills its worker five times is dead-lettered by the next
claim. A batch's outcomes are recorded together with their log rows in one statement
(:func:`finish_many`).
An infrastructure failure (our database connection lost) is not the record's fault:
:func:`interrupt` gives its attempt back; nor is Zoho's daily budget running out: :func:`defer`
gives the claim back until the budget's reset, attempt not counted.

The queue's work is in two modules: :mod:`kn_zoho.storefront.claims` takes records and starts
their attempts, :mod:`kn_zoho.storefront.outcomes` records how the attempts ended or gives the
claims back. This module keeps what operators and sensors read (due records, counts, the
database clock) and names the whole queue API, so callers use it as one namespace
(``queue.claim``, ``queue.finish_many``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from kn_zoho.storefront.claim_sql import DUE
from kn_zoho.storefront.claims import claim, start
from kn_zoho.storefront.outcomes import (
    BUDGET_ERROR,
    backoff_delay,
    defer,
    finish,
    finish_many,
    interrupt,
    release,
)

__all__ = ["BUDGET_ERROR", "DueRecord", "SyncedInRun", "backoff_delay", "claim",
           "database_now", "defer", "due_records", "finish", "finish_many", "interrupt",
           "release", "start", "status_counts", "synced_in_run"]


def database_now(engine: sa.Engine) -> datetime:
    """The database clock: passes are bounded by it, not by the worker's clock."""
    with engine.connect() as conn:
        return conn.execute(sa.text("SELECT now()")).scalar_one()


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
                    f"FROM integration.zoho_sync_queue WHERE entity = :entity AND "
                    f"{DUE.format(due_before='now()')} "
                    "ORDER BY next_attempt_at, record_key LIMIT :limit"),
            {"entity": entity, "limit": limit, "own": None},
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


@dataclass(frozen=True)
class SyncedInRun:
    """A record a run synced: its latest success in that run, as logged."""

    record_key: str
    zoho_id: str | None
    operation: str
    attempt: int


def synced_in_run(engine: sa.Engine, entity: str, keys: Sequence[str], run_id: str
                  ) -> list[SyncedInRun]:
    """The named records still synced from an attempt of ``run_id`` (an earlier try of a
    Dagster step): a step retry leaves them alone instead of syncing them again. One index
    lookup a record (``zoho_sync_logs_record_idx``)."""
    with engine.connect() as conn:
        rows = conn.execute(sa.text("""
            SELECT q.record_key, q.zoho_id, l.operation, l.attempt
              FROM integration.zoho_sync_queue q
              JOIN LATERAL (SELECT operation, attempt, run_id FROM integration.zoho_sync_logs l
                             WHERE l.entity = q.entity AND l.record_key = q.record_key
                               AND l.status = 'success'
                             ORDER BY l.id DESC LIMIT 1) l ON l.run_id = :run_id
             WHERE q.entity = :entity AND q.record_key = ANY(:keys) AND q.status = 'synced'
            """), {"entity": entity, "keys": list(keys), "run_id": run_id}).all()
    return [SyncedInRun(row.record_key, row.zoho_id, row.operation, row.attempt)
            for row in rows]
