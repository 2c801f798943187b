"""A claim reads about as many queue rows as it takes, however large the backlog.

Timing is the benchmark's job (benchmarks/claim_cost.py); this checks the cause: the plan of
each claim statement, run with EXPLAIN ANALYZE right after a bulk insert (no statistics
yet, as after a backfill), picks its rows without any node producing more than two batches'
worth of rows.
Before migration 20261121001200 a due claim read and sorted every due row.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from kn_zoho.storefront import queue
from kn_zoho.storefront.claim_sql import claim_sql

BACKLOG = 5_000
LIMIT = 100


def _fill(engine: sa.Engine) -> list[str]:
    """A backlog written in one transaction (one next_attempt_at for all), some of it held
    by a killed run whose lease ran out; returns a batch of its keys."""
    with engine.begin() as conn:
        conn.execute(sa.text(
            "INSERT INTO integration.zoho_sync_queue (entity, record_key, source_table, record_id)"
            " SELECT 'crm_contact', id::text, 'users', id"
            " FROM (SELECT gen_random_uuid() AS id FROM generate_series(1, :n)) AS ids"),
            {"n": BACKLOG})
        conn.execute(sa.text(
            "UPDATE integration.zoho_sync_queue SET status = 'in_progress', claimed_by = 'gone',"
            " claimed_until = now() - interval '1 minute'"
            " WHERE record_key IN (SELECT record_key FROM integration.zoho_sync_queue LIMIT 30)"))
        return list(conn.execute(sa.text(
            "SELECT record_key FROM integration.zoho_sync_queue ORDER BY random() LIMIT :n"),
            {"n": LIMIT}).scalars())


def _rows_per_node(plan: dict) -> Iterator[tuple[str, int]]:
    yield plan["Node Type"], plan["Actual Rows"] * plan.get("Actual Loops", 1)
    for child in plan.get("Plans", []):
        yield from _rows_per_node(child)


def _largest_node(engine: sa.Engine, sql: str, keys: list[str]) -> tuple[str, int]:
    params = {"entity": "crm_contact", "worker": "w", "limit": LIMIT, "force": False,
              "lease_seconds": 60, "kind": "cli", "own": None, "keys": keys,
              "break_holders": [], "due_before": None}
    with engine.connect() as conn, conn.begin():
        [[plan]] = conn.execute(sa.text("EXPLAIN (ANALYZE, FORMAT JSON) " + sql), params).all()
        conn.rollback()
    plan = plan if isinstance(plan, list) else json.loads(plan)
    # the candidate CTEs pick the rows; the UPDATE (CTE claimed) joins back the 100 picked (by
    # index or, on a table this small, by a hash join: the planner's fair choice either way)
    picking = [node for node in plan[0]["Plan"]["Plans"]
               if str(node.get("Subplan Name", "")).startswith("CTE ")
               and node.get("Subplan Name") != "CTE claimed"]
    assert picking, "the claim picks its rows in CTEs"
    return max((row for node in picking for row in _rows_per_node(node)),
               key=lambda node: node[1])


@pytest.mark.parametrize("named", [False, True], ids=["due", "named"])
def test_a_claim_reads_about_one_batch_of_a_large_backlog(engine: sa.Engine,
                                                          named: bool) -> None:
    keys = _fill(engine)
    sql = claim_sql(force=False, due_before="now()", named=named, exclude=False)
    node, rows = _largest_node(engine, sql, keys)
    assert rows <= 2 * LIMIT, f"a {node} produced {rows} rows of a {BACKLOG}-row backlog"
    # and the claim itself still takes a full batch of distinct records
    taken = queue.claim(engine, "crm_contact", worker="w", keys=keys if named else None)
    assert len({claim.record_key for claim in taken}) == LIMIT
