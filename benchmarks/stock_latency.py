"""How long a stock change takes to show on the other side under the Dagster daemon.

Fresh database and sandbox; `kn-zoho db upgrade --with-baseline`, seed, first Books and stock
sync; then `dagster-daemon run` (the process `dagster dev` starts for schedules and sensors)
with this repository's dagster.yaml in a fresh DAGSTER_HOME. Each sample makes one storefront
admin edit (timed until Books shows it) and one Books adjustment (timed until the storefront
shows it), a random 0-20 s apart so samples fall anywhere in the schedule's minute. With
--webhooks, `kn-zoho webhooks serve` runs too and the sandbox sends it the webhook Books'
workflow rule would send after each adjustment.

    python benchmarks/stock_latency.py --server-url postgresql://postgres@127.0.0.1:5432/postgres \
        [--samples 10] [--webhooks]

Prints p50/p95 per direction (seconds) and one JSON line.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

import requests
import sqlalchemy as sa
from _common import (
    BIN,
    ROOT,
    fresh_database,
    kn_zoho,
    percentile,
    stop_process_group,
    use_sandbox,
    wait_until,
)

from kn_zoho.sandbox.config import SandboxConfig
from kn_zoho.sandbox.server import start_sandbox

SECRET = "latency-benchmark-webhook-secret"  # noqa: S105 - a local benchmark value


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--server-url", required=True)
    parser.add_argument("--samples", type=int, default=10)
    parser.add_argument("--webhooks", action="store_true")
    parser.add_argument("--seed", type=int, default=3)
    options = parser.parse_args()
    rng = random.Random(options.seed)

    home = Path(tempfile.mkdtemp(prefix="kn_zoho_latency_dagster_"))
    shutil.copy(ROOT / "dagster.yaml", home / "dagster.yaml")
    processes: list[subprocess.Popen[bytes]] = []
    to_books: list[float] = []
    to_storefront: list[float] = []
    with (fresh_database(options.server_url, "kn_zoho_latency") as (url, engine),
          start_sandbox(SandboxConfig(seed=options.seed, rate_limit_per_minute=100_000,
                                      daily_limit=10_000_000)) as sandbox):
        use_sandbox(sandbox.base_url, KN_ZOHO_DATABASE_URL=url, DAGSTER_HOME=str(home),
                    KN_ZOHO_BOOKS_CALLS_PER_MINUTE="100000", KN_ZOHO_WEBHOOK_SECRET=SECRET)
        kn_zoho("db", "upgrade", "--with-baseline")
        kn_zoho("seed", "--users", "20", "--products", "20", "--orders", "20")
        kn_zoho("sync", "books")
        kn_zoho("sync", "stock")
        session = requests.Session()

        def books_stock(sku: str) -> int:
            items = session.get(f"{sandbox.base_url}/__sandbox/records/books_items",
                                timeout=10).json()
            return next(int(Decimal(str(i["stock_on_hand"]))) for i in items if i["sku"] == sku)

        def shelf(sku: str) -> int:
            with engine.connect() as conn:
                return conn.execute(sa.text("SELECT stock_quantity FROM public.products "
                                            "WHERE sku = :s"), {"s": sku}).scalar_one()

        with engine.connect() as conn:
            skus = sorted(conn.execute(sa.text("SELECT sku FROM public.products")).scalars())
        processes.append(subprocess.Popen(  # noqa: S603
            [str(BIN / "dagster-daemon"), "run", "-w", "workspace.yaml"], cwd=ROOT,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True))
        port = None
        if options.webhooks:
            with socket.socket() as probe:
                probe.bind(("127.0.0.1", 0))
                port = probe.getsockname()[1]
            processes.append(subprocess.Popen(  # noqa: S603
                [str(BIN / "kn-zoho"), "webhooks", "serve", "--port", str(port),
                 "--debounce-seconds", "2"], stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL, start_new_session=True))
        if port:  # Books' workflow rules: the sandbox posts to the receiver after each change
            session.post(f"{sandbox.base_url}/__sandbox/webhooks", timeout=10, json={
                "url": f"http://127.0.0.1:{port}/webhooks/books", "secret": SECRET})
        try:
            time.sleep(15)  # the daemon loads the code location and starts its loops
            for _ in range(options.samples):
                time.sleep(rng.uniform(0, 20))
                sku = rng.choice(skus)
                target = books_stock(sku) + 1
                with engine.begin() as conn:
                    conn.execute(sa.text("UPDATE public.products SET stock_quantity = "
                                         "stock_quantity + 1 WHERE sku = :s"), {"s": sku})
                to_books.append(wait_until(
                    lambda sku=sku, target=target: books_stock(sku) == target))
                time.sleep(rng.uniform(0, 20))
                sku = rng.choice(skus)
                target = shelf(sku) - 1
                session.post(f"{sandbox.base_url}/__sandbox/books/adjust-stock",
                             json={"sku": sku, "quantity_adjusted": -1}, timeout=10)
                to_storefront.append(wait_until(
                    lambda sku=sku, target=target: shelf(sku) == target))
                print(f"storefront->Books {to_books[-1]:.1f} s, "
                      f"Books->storefront {to_storefront[-1]:.1f} s", flush=True)
        finally:
            for process in processes:
                stop_process_group(process)
    shutil.rmtree(home, ignore_errors=True)
    figures = {direction: {"p50": round(statistics.median(values), 1),
                           "p95": round(percentile(values, 0.95), 1),
                           "max": round(max(values), 1), "samples": len(values)}
               for direction, values in (("storefront_to_books", to_books),
                                         ("books_to_storefront", to_storefront))}
    print(json.dumps({"webhooks": options.webhooks, **figures}))
    return 0 if all(f["p95"] < 60 for f in figures.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
