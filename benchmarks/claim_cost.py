"""Claim cost per batch of 100 with 1,000 and with 100,000 due rows, side by side.

A fresh migrated database; for each size the queue gets that many due `crm_contact` rows,
inserted with generate_series in one transaction as a backfill (or a bulk import of users)
would, so every row has the same `next_attempt_at`. Then `queue.claim` takes batches of 100
the two ways runs take them: `due` (a `kn-zoho sync` pass: the next due rows, no keys) and
`named` (a Dagster run: its 100 partition keys). Each claimed batch is marked synced, as a run
would, before the next claim. Prints per-batch median and p95 (ms) for both sizes and the
ratio 100k / 1k of the medians (target: at most 1.5), and with --explain the plan of one
`due` claim at the larger size.

    python benchmarks/claim_cost.py --server-url postgresql://postgres@127.0.0.1:5432/postgres
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from datetime import UTC, datetime

import sqlalchemy as sa
from _common import fresh_database, percentile

from kn_zoho.storefront import queue

BATCH = 100
ENTITY = "crm_contact"


def _fill(engine: sa.Engine, rows: int) -> None:
    """``rows`` due queue rows in one transaction (one `now()`, as a backfill writes them)."""
    with engine.begin() as conn:
        conn.execute(sa.text("TRUNCATE integration.zoho_sync_queue, integration.zoho_sync_logs"))
        conn.execute(sa.text(
            "INSERT INTO integration.zoho_sync_queue (entity, record_key, source_table, record_id)"
            " SELECT :entity, id::text, 'users', id"
            " FROM (SELECT gen_random_uuid() AS id FROM generate_series(1, :rows)) AS ids"),
            {"entity": ENTITY, "rows": rows})


def _finish(engine: sa.Engine, claims: list[queue.Claim]) -> None:
    with engine.begin() as conn:
        conn.execute(sa.text(
            "UPDATE integration.zoho_sync_queue SET status = 'synced', claimed_by = NULL, "
            "claimed_until = NULL WHERE entity = :entity AND record_key = ANY(:keys)"),
            {"entity": ENTITY, "keys": [c.record_key for c in claims]})


def _keys(engine: sa.Engine, batches: int) -> list[list[str]]:
    """Batches of partition keys as a Dagster run would name them (random due records)."""
    with engine.connect() as conn:
        keys = list(conn.execute(sa.text(
            "SELECT record_key FROM integration.zoho_sync_queue WHERE status = 'pending' "
            "ORDER BY random() LIMIT :n"), {"n": batches * BATCH}).scalars())
    return [keys[i:i + BATCH] for i in range(0, len(keys), BATCH)]


def _time_claims(engine: sa.Engine, batches: int, *, named: bool) -> list[float]:
    pass_start = datetime.now(UTC)
    worker = f"bench-{'named' if named else 'due'}"
    key_batches = _keys(engine, batches) if named else [None] * batches
    seconds = []
    for keys in key_batches:
        started = time.perf_counter()
        claims = queue.claim(engine, ENTITY, worker=worker, limit=BATCH, keys=keys,
                             due_before=pass_start, reclaim_own=True)
        seconds.append(time.perf_counter() - started)
        if len(claims) != BATCH:
            raise RuntimeError(f"claimed {len(claims)} rows, expected {BATCH}")
        _finish(engine, claims)
    return seconds


def _explain(engine: sa.Engine) -> str:
    sql = queue._claim_sql(force=False, due_before="now()", named=False,
                           exclude=False)
    with engine.begin() as conn:
        plan = conn.execute(sa.text("EXPLAIN (ANALYZE, BUFFERS) " + sql), {
            "entity": ENTITY, "worker": "explain", "limit": BATCH, "force": False,
            "lease_seconds": 60, "kind": "cli", "own": None}).scalars()
        text = "\n".join(plan)
        conn.rollback()
    return text


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--server-url", required=True, help="PostgreSQL server (CREATEDB)")
    parser.add_argument("--small", type=int, default=1_000)
    parser.add_argument("--large", type=int, default=100_000)
    parser.add_argument("--batches", type=int, default=8, help="timed batches per way")
    parser.add_argument("--explain", action="store_true")
    options = parser.parse_args()
    figures: dict[str, dict[str, float]] = {}
    with fresh_database(options.server_url, "kn_zoho_claims", migrate=True) as (_, engine):
        for rows in (options.small, options.large):
            for way in ("due", "named"):
                started = time.perf_counter()
                _fill(engine, rows)
                filled = time.perf_counter() - started
                seconds = _time_claims(engine, options.batches, named=way == "named")
                figures[f"{way}_{rows}"] = {
                    "median_ms": round(statistics.median(seconds) * 1000, 2),
                    "p95_ms": round(percentile(seconds, 0.95) * 1000, 2)}
                print(f"{rows:>7} due rows, {way:>5} claim of {BATCH}: "
                      f"median {figures[f'{way}_{rows}']['median_ms']} ms, "
                      f"p95 {figures[f'{way}_{rows}']['p95_ms']} ms "
                      f"(rows inserted in {filled:.1f} s)", flush=True)
            if options.explain and rows == options.large:
                print(_explain(engine))
    ratios = {way: round(figures[f"{way}_{options.large}"]["median_ms"]
                         / figures[f"{way}_{options.small}"]["median_ms"], 2)
              for way in ("due", "named")}
    for way, ratio in ratios.items():
        print(f"{way}: claim per batch at {options.large} / at {options.small} = {ratio}x "
              f"(target <= 1.5)")
    print(json.dumps({"batch": BATCH, "figures": figures, "ratio": ratios}))
    return 0 if max(ratios.values()) <= 1.5 else 1


if __name__ == "__main__":
    sys.exit(main())
