"""Claim cost per batch of 100 with 1,000 and with 100,000 due rows, side by side.

Two fresh migrated databases on the same server, one per size; each queue gets that many due
`crm_contact` rows, inserted with generate_series in one transaction as a backfill (or a
bulk import of users) would, so every row has the same `next_attempt_at`, and no statistics
yet. Then `queue.claim` takes batches of 100 the two ways runs take them, alternating
between the two databases batch by batch (so a load spike on a shared machine hits both
sizes alike): `due` (a `kn-zoho sync` pass: the next due rows, no keys) and `named` (a
Dagster run: its 100 partition keys). Each claimed batch is put back at the end of the queue,
so the backlog keeps its size. Prints per-batch median and p95 (ms) for both sizes and the
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
from kn_zoho.storefront.claim_sql import claim_sql
from kn_zoho.storefront.claims import Claim

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


def _put_back(engine: sa.Engine, claims: list[Claim]) -> None:
    """Claimed rows due again just after the rest (the backlog keeps its size)."""
    with engine.begin() as conn:
        conn.execute(sa.text(
            "UPDATE integration.zoho_sync_queue SET status = 'pending', claimed_by = NULL,"
            " claimed_until = NULL, attempts = 0,"
            " next_attempt_at = next_attempt_at + interval '1 microsecond'"
            " WHERE entity = :entity AND record_key = ANY(:keys)"),
            {"entity": ENTITY, "keys": [c.record_key for c in claims]})


def _random_keys(engine: sa.Engine) -> list[str]:
    """A batch of partition keys as a Dagster run would name them (random due records)."""
    with engine.connect() as conn:
        return list(conn.execute(sa.text(
            "SELECT record_key FROM integration.zoho_sync_queue WHERE status = 'pending' "
            "ORDER BY random() LIMIT :n"), {"n": BATCH}).scalars())


def _timed_claim(engine: sa.Engine, pass_start: datetime, *, named: bool) -> float:
    keys = _random_keys(engine) if named else None
    started = time.perf_counter()
    claims = queue.claim(engine, ENTITY, worker="bench", limit=BATCH, keys=keys,
                         due_before=pass_start, reclaim_own=True)
    seconds = time.perf_counter() - started
    if len(claims) != BATCH:
        raise RuntimeError(f"claimed {len(claims)} rows, expected {BATCH}")
    _put_back(engine, claims)
    return seconds


def _explain(engine: sa.Engine) -> str:
    sql = claim_sql(force=False, due_before="now()", named=False,
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
    parser.add_argument("--batches", type=int, default=30, help="timed batches per way")
    parser.add_argument("--explain", action="store_true")
    options = parser.parse_args()
    sizes = (options.small, options.large)
    figures: dict[str, dict[str, float]] = {}
    with (fresh_database(options.server_url, "kn_zoho_claims_small", migrate=True) as (_, small),
          fresh_database(options.server_url, "kn_zoho_claims_large", migrate=True) as (_, large)):
        engines = dict(zip(sizes, (small, large), strict=True))
        for way in ("due", "named"):
            for rows, engine in engines.items():
                started = time.perf_counter()
                _fill(engine, rows)
                print(f"{rows:>7} due rows inserted in {time.perf_counter() - started:.1f} s",
                      flush=True)
            pass_start = datetime.now(UTC)
            seconds: dict[int, list[float]] = {rows: [] for rows in sizes}
            for _ in range(options.batches):
                for rows, engine in engines.items():
                    seconds[rows].append(_timed_claim(engine, pass_start, named=way == "named"))
            for rows in sizes:
                figures[f"{way}_{rows}"] = {
                    "median_ms": round(statistics.median(seconds[rows]) * 1000, 2),
                    "p95_ms": round(percentile(seconds[rows], 0.95) * 1000, 2)}
                print(f"{rows:>7} due rows, {way:>5} claim of {BATCH}: "
                      f"median {figures[f'{way}_{rows}']['median_ms']} ms, "
                      f"p95 {figures[f'{way}_{rows}']['p95_ms']} ms", flush=True)
        if options.explain:
            print(_explain(large))
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
