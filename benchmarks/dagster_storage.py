"""Dagster storage per synced record, and run start-up against batch size (issue 12).

A fresh storefront database and sandbox; for each Dagster storage (SQLite: the local
default, root dagster.yaml; PostgreSQL: deploy/dagster.yaml on a fresh database) the
crm_contacts sensor is ticked and its run executed in-process, as the daemon's run would,
over batches of new users of each size. For every batch it measures the bytes Dagster's
storage grew by (SQLite: the files under DAGSTER_HOME; PostgreSQL: every table of its
database) and the run's wall time, and fits both to a + b * records: b is the cost per synced
record, a the cost per run. Also times what a run launcher pays per run before any of that:
a new Python process importing the code location.

    python benchmarks/dagster_storage.py \
        --server-url postgresql://postgres@127.0.0.1:5432/postgres [--sizes 1,10,100,1000]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa
from _common import ROOT, fresh_database, use_sandbox
from dagster import DagsterInstance, build_sensor_context, materialize

from kn_zoho.defs.crm.assets import crm_contacts
from kn_zoho.defs.crm.sensors import crm_contacts_sensor
from kn_zoho.defs.queue_assets import SENSOR_TAG
from kn_zoho.defs.resources import StorefrontDatabase, ZohoCrmResource
from kn_zoho.sandbox import credentials
from kn_zoho.sandbox.config import SandboxConfig
from kn_zoho.sandbox.server import start_sandbox


def _add_users(engine: sa.Engine, first: int, count: int) -> None:
    """``count`` new storefront users (their trigger queues them for CRM)."""
    with engine.begin() as conn:
        conn.execute(sa.text(
            "INSERT INTO public.users (email, full_name)"
            " SELECT 'bench' || i || '@example.in', 'Bench User ' || i"
            " FROM generate_series(CAST(:first AS int), CAST(:last AS int)) AS i"),
            {"first": first, "last": first + count - 1})


def _sensor_run(instance: DagsterInstance, storefront: StorefrontDatabase,
                zoho: ZohoCrmResource) -> int:
    """One sensor tick and the run it requests, in-process; returns the records synced."""
    tick = crm_contacts_sensor(build_sensor_context(instance=instance,
                                                    resources={"storefront": storefront}))
    for request in tick.dynamic_partitions_requests or []:
        instance.add_dynamic_partitions(request.partitions_def_name, request.partition_keys)
    [request] = tick.run_requests
    result = materialize([crm_contacts], instance=instance, resources={"zoho_crm": zoho},
                         tags={**request.tags, SENSOR_TAG: "crm_contacts_sensor"})
    return len(result.get_asset_materialization_events())


@contextmanager
def _sqlite_instance() -> Iterator[tuple[DagsterInstance, Callable[[], int]]]:
    home = Path(tempfile.mkdtemp(prefix="kn_zoho_storage_sqlite_"))
    shutil.copy(ROOT / "dagster.yaml", home / "dagster.yaml")
    try:
        with DagsterInstance.from_config(str(home)) as instance:
            yield instance, lambda: sum(p.stat().st_size for p in home.rglob("*") if p.is_file())
    finally:
        shutil.rmtree(home, ignore_errors=True)


@contextmanager
def _postgres_instance(server_url: str) -> Iterator[tuple[DagsterInstance, Callable[[], int]]]:
    home = Path(tempfile.mkdtemp(prefix="kn_zoho_storage_pg_"))
    shutil.copy(ROOT / "deploy" / "dagster.yaml", home / "dagster.yaml")
    with fresh_database(server_url, "kn_zoho_dagster_storage") as (url, engine):
        parsed = sa.engine.make_url(url)
        os.environ.update({"DAGSTER_PG_HOST": parsed.host or "",
                           "DAGSTER_PG_PORT": str(parsed.port or 5432),
                           "DAGSTER_PG_USER": parsed.username or "postgres",
                           "DAGSTER_PG_PASSWORD": parsed.password or "",
                           "DAGSTER_PG_DB": parsed.database or ""})

        def size() -> int:
            with engine.connect() as conn:
                return int(conn.execute(sa.text(
                    "SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) FROM pg_class c"
                    " JOIN pg_namespace n ON n.oid = c.relnamespace"
                    " WHERE c.relkind IN ('r', 'm') AND n.nspname = 'public'")).scalar_one())

        try:
            with DagsterInstance.from_config(str(home)) as instance:
                yield instance, size
        finally:
            shutil.rmtree(home, ignore_errors=True)


def _fit(points: list[tuple[int, float]]) -> tuple[float, float]:
    """Least squares a + b * x."""
    slope, intercept = statistics.linear_regression([float(x) for x, _ in points],
                                                    [y for _, y in points])
    return intercept, slope


def _process_start_seconds(samples: int = 3) -> float:
    """A new Python process importing the code location (what each launched run pays)."""
    times = []
    for _ in range(samples):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import kn_zoho.definitions"],
                       check=True, cwd=ROOT)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--server-url", required=True, help="PostgreSQL server (CREATEDB)")
    parser.add_argument("--sizes", default="1,10,100,1000")
    options = parser.parse_args()
    sizes = [int(size) for size in options.sizes.split(",")]
    figures: dict[str, object] = {"process_start_s": round(_process_start_seconds(), 2)}
    print(f"new process importing the code location: {figures['process_start_s']} s",
          flush=True)
    config = SandboxConfig(seed=1, rate_limit_per_minute=1_000_000, daily_limit=100_000_000,
                           crm_credits=None)
    with (fresh_database(options.server_url, "kn_zoho_storage", migrate=True) as (url, engine),
          start_sandbox(config) as sandbox):
        use_sandbox(sandbox.base_url)
        storefront = StorefrontDatabase(database_url=url)
        zoho = ZohoCrmResource(
            storefront=storefront, client_id=credentials.DEMO_CLIENT_ID,
            client_secret=credentials.DEMO_CLIENT_SECRET,
            refresh_token=credentials.DEMO_REFRESH_TOKEN, accounts_url=sandbox.base_url)
        next_user = 1
        for name, opened in (("sqlite", _sqlite_instance()),
                             ("postgres", _postgres_instance(options.server_url))):
            storage: list[tuple[int, float]] = []
            seconds: list[tuple[int, float]] = []
            with opened as (instance, size):
                _add_users(engine, next_user, 1)  # a first run: tables and indexes exist
                next_user += 1
                _sensor_run(instance, storefront, zoho)
                for records in sizes:
                    _add_users(engine, next_user, records)
                    next_user += records
                    before = size()
                    started = time.perf_counter()
                    synced = _sensor_run(instance, storefront, zoho)
                    seconds.append((records, time.perf_counter() - started))
                    storage.append((records, float(size() - before)))
                    if synced != records:
                        raise RuntimeError(f"{name}: {synced} of {records} records synced")
                    print(f"{name}: run over {records} records: {seconds[-1][1]:.2f} s, "
                          f"storage +{storage[-1][1] / 1024:.1f} KiB", flush=True)
            per_run_bytes, per_record_bytes = _fit(storage)
            per_run_s, per_record_s = _fit(seconds)
            figures[name] = {
                "bytes_per_record": round(per_record_bytes), "bytes_per_run": round(per_run_bytes),
                "run_seconds_fixed": round(per_run_s, 2),
                "run_seconds_per_record": round(per_record_s, 4),
                "runs": [{"records": r, "seconds": round(s, 2), "bytes": round(b)}
                         for (r, s), (_, b) in zip(seconds, storage, strict=True)]}
            print(f"{name}: {per_record_bytes / 1024:.1f} KiB per synced record + "
                  f"{per_run_bytes / 1024:.1f} KiB per run; run = {per_run_s:.2f} s + "
                  f"{per_record_s * 1000:.1f} ms per record (in-process)", flush=True)
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
