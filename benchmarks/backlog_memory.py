"""Peak memory of one `kn-zoho sync crm` pass over a large backlog (issue 12).

A fresh migrated database and a sandbox with Zoho's limits lifted (calls per minute, daily
credits, concurrency); `--small` users are inserted in one transaction (their triggers queue
them), synced by one `kn-zoho sync crm` process, then `--records` more, synced by another.
While each pass runs its resident memory is sampled from /proc; printed: peak RSS (VmHWM),
RSS at each tenth of the pass, records synced and seconds, for both sizes side by side.

The sandbox runs in this process, not in the measured one. Its CRM duplicate check scans
every stored record for each written one (fine for tests, quadratic for 100,000 records), so
this script gives it an index answering the same question (records whose field holds the
same value, ignoring case, as `same_value` compares) and nothing else; the CRM's replies
are unchanged. Expect tens of minutes on a shared 2-core machine.

    python benchmarks/backlog_memory.py \
        --server-url postgresql://postgres@127.0.0.1:5432/postgres \
        [--records 100000] [--small 1000]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from _common import KN_ZOHO, ROOT, fresh_database, use_sandbox

from kn_zoho.sandbox import crm as sandbox_crm
from kn_zoho.sandbox.config import SandboxConfig
from kn_zoho.sandbox.server import start_sandbox


def _index_sandbox_duplicate_checks() -> None:
    """Answer the sandbox CRM's "records with this value" from an index kept on writes."""
    index: dict[tuple[int, str], dict[Any, dict[str, dict[str, Any]]]] = {}
    insert, update = sandbox_crm._insert, sandbox_crm._update

    def key(value: Any) -> Any:
        return value.strip().casefold() if isinstance(value, str) else value

    def field_index(records: dict[str, dict[str, Any]], name: str
                    ) -> dict[Any, dict[str, dict[str, Any]]]:
        found = index.get((id(records), name))
        if found is None:
            found = defaultdict(dict)
            for record in records.values():
                found[key(record.get(name))][record["id"]] = record
            index[(id(records), name)] = found
        return found

    def matches(records: dict[str, dict[str, Any]], name: str, value: Any
                ) -> list[dict[str, Any]]:
        return list(field_index(records, name).get(key(value), {}).values())

    def indexed_insert(state: Any, module: str, fields: dict[str, Any]) -> dict[str, Any]:
        record = insert(state, module, fields)
        records = state.collection("crm", module)
        for (records_id, name), values in index.items():
            if records_id == id(records):
                values[key(record.get(name))][record["id"]] = record
        return record

    def indexed_update(state: Any, record: dict[str, Any], fields: dict[str, Any]) -> None:
        before = dict(record)
        update(state, record, fields)
        for (_, name), values in index.items():
            if record["id"] in values.get(key(before.get(name)), {}):
                values[key(before.get(name))].pop(record["id"])
                values[key(record.get(name))][record["id"]] = record

    sandbox_crm._matches = matches
    sandbox_crm._insert = indexed_insert
    sandbox_crm._update = indexed_update


def _add_users(engine: sa.Engine, first: int, count: int) -> None:
    with engine.begin() as conn:
        conn.execute(sa.text(
            "INSERT INTO public.users (email, full_name)"
            " SELECT 'backlog' || i || '@example.in', 'Backlog User ' || i"
            " FROM generate_series(CAST(:first AS int), CAST(:last AS int)) AS i"),
            {"first": first, "last": first + count - 1})


def _memory_kib(pid: int) -> tuple[int, int]:
    """(VmRSS, VmHWM) of a live process, KiB."""
    fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text()
                  .splitlines() if ":" in line)
    return int(fields["VmRSS"].split()[0]), int(fields["VmHWM"].split()[0])


def _pass(url: str, records: int) -> dict[str, Any]:
    """One `kn-zoho sync crm` process; its memory sampled every half second."""
    started = time.monotonic()
    process = subprocess.Popen([KN_ZOHO, "sync", "crm", "--database-url", url],  # noqa: S603
                               cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                               text=True)
    samples: list[int] = []
    peak = 0
    while process.poll() is None:
        try:
            rss, peak = _memory_kib(process.pid)
            samples.append(rss)
        except (FileNotFoundError, ProcessLookupError, KeyError):
            pass
        time.sleep(0.5)
    output = process.stdout.read() if process.stdout else ""
    seconds = time.monotonic() - started
    summary = json.loads(output.strip().splitlines()[-1]) if output.strip() else {}
    tenths = [round(samples[min(len(samples) - 1, i * len(samples) // 10)] / 1024, 1)
              for i in range(1, 11)] if samples else []
    figures = {"backlog": records, "exit": process.returncode,
               "synced": summary.get("synced"), "pending": summary.get("pending"),
               "seconds": round(seconds), "peak_rss_mib": round(peak / 1024, 1),
               "rss_mib_by_tenth": tenths}
    print(json.dumps(figures), flush=True)
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--server-url", required=True, help="PostgreSQL server (CREATEDB)")
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--small", type=int, default=1_000)
    options = parser.parse_args()
    _index_sandbox_duplicate_checks()
    config = SandboxConfig(seed=1, rate_limit_per_minute=100_000_000,
                           daily_limit=1_000_000_000, crm_concurrency=100, crm_credits=None)
    results = []
    with (fresh_database(options.server_url, "kn_zoho_backlog", migrate=True) as (url, engine),
          start_sandbox(config) as sandbox):
        use_sandbox(sandbox.base_url, KN_ZOHO_CRM_CALLS_PER_MINUTE="100000000")
        first = 1
        for records in (options.small, options.records):
            _add_users(engine, first, records)
            first += records
            results.append(_pass(url, records))
    small, large = results
    print(f"peak RSS: {small['peak_rss_mib']} MiB at a {small['backlog']} backlog "
          f"({small['seconds']} s), {large['peak_rss_mib']} MiB at {large['backlog']} "
          f"({large['seconds']} s)")
    return 0 if all(r["exit"] == 0 and r["pending"] == 0 for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
