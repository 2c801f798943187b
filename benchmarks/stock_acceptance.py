"""Stock both ways, end to end, under faults: the acceptance run of issue 11.

Fresh storefront database (created on the server named by --server-url) and a fresh sandbox;
`kn-zoho db upgrade --with-baseline`, `kn-zoho seed` with stock; then, shuffled, 200
storefront checkouts, 50 admin edits, 50 Books offline sales and 30 Books adjustments,
interleaved with `kn-zoho sync books` and `kn-zoho sync stock` runs (separate processes, as an
operator or cron runs them) while the sandbox fails 10% of calls (5xx) and loses 5% of replies
after storing the write. Then faults off, sync to quiet, and compare every SKU: storefront
stock == Books stock_on_hand == the true value kept by this script; no SKU out of step.

    python benchmarks/stock_acceptance.py --server-url postgresql://postgres@127.0.0.1:5432/postgres

Prints one JSON object with the figures; exit status 1 if any SKU differs.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections import Counter
from decimal import Decimal

import requests
import sqlalchemy as sa
from _common import fresh_database, kn_zoho, use_sandbox

from kn_zoho.sandbox.config import SandboxConfig
from kn_zoho.sandbox.server import start_sandbox
from kn_zoho.storefront.checkout import checkout


def cli(*args: str, url: str) -> dict:
    """Run one `kn-zoho` command in its own process; its last line as JSON (or {})."""
    done = kn_zoho(*args, "--database-url", url, check=False)
    if done.returncode != 0:
        print(f"kn-zoho {' '.join(args)} exited {done.returncode}: "
              f"{done.stderr.strip().splitlines()[-1:]}", file=sys.stderr)
    lines = done.stdout.strip().splitlines()
    try:
        return json.loads(lines[-1]) if lines else {}
    except ValueError:
        return {}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--server-url", required=True, help="PostgreSQL server (CREATEDB)")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--sync-every", type=int, default=25, help="operations between syncs")
    options = parser.parse_args()
    rng = random.Random(options.seed)
    started = time.monotonic()

    config = SandboxConfig(seed=options.seed, rate_limit_per_minute=100_000,
                           daily_limit=10_000_000, books_concurrency=50)
    with (fresh_database(options.server_url, "kn_zoho_stock") as (url, engine),
          start_sandbox(config) as sandbox):
        use_sandbox(sandbox.base_url, KN_ZOHO_RETRY_BASE_SECONDS="0",
                    KN_ZOHO_BOOKS_CALLS_PER_MINUTE="100000")
        admin_api = requests.Session()

        def books_admin(path: str, body: dict) -> dict:
            reply = admin_api.post(f"{sandbox.base_url}/__sandbox/{path}", json=body, timeout=10)
            reply.raise_for_status()
            return reply.json()

        cli("db", "upgrade", "--with-baseline", url=url)
        cli("seed", "--users", "40", "--products", "20", "--orders", "0", "--inquiries", "0",
            "--quote-requests", "0", url=url)
        with engine.connect() as conn:
            truth = Counter(dict(conn.execute(sa.text(
                "SELECT sku, stock_quantity FROM public.products")).all()))
            users = [row.id for row in conn.execute(sa.text("SELECT id FROM public.users"))]
        skus = sorted(truth)
        cli("sync", "books", url=url)
        books_admin("faults", {"error_rate": 0.1, "lost_response_rate": 0.05})

        operations = (["checkout"] * 200 + ["edit"] * 50 + ["offline_sale"] * 50
                      + ["adjust"] * 30)
        rng.shuffle(operations)
        done, refused, cycles = Counter(), 0, []
        for index, operation in enumerate(operations, 1):
            sku = rng.choice(skus)
            if operation == "checkout":
                quantity = rng.randint(1, 3)
                try:
                    checkout(engine, rng.choice(users), {sku: quantity},
                             shipping_state=rng.choice(["KA", "KA", "TN", "MH"]))
                    truth[sku] -= quantity
                except sa.exc.DBAPIError:
                    refused += 1  # out of stock on the storefront: no sale
            elif operation == "edit":
                delta = rng.choice([-2, -1, 1, 2, 5, 10])
                with engine.begin() as conn:
                    conn.execute(sa.text("UPDATE public.products SET stock_quantity = "
                                         "stock_quantity + :d WHERE sku = :s"),
                                 {"d": delta, "s": sku})
                truth[sku] += delta
            elif operation == "offline_sale":
                quantity = rng.randint(1, 2)
                books_admin("books/offline-sale", {"sku": sku, "quantity": quantity})
                truth[sku] -= quantity
            else:
                delta = rng.choice([-3, -1, 2, 4, 8])
                books_admin("books/adjust-stock", {"sku": sku, "quantity_adjusted": delta})
                truth[sku] += delta
            done[operation] += 1
            if index % options.sync_every == 0:
                cli("sync", "books", url=url)
                cycles.append(cli("sync", "stock", url=url))

        books_admin("faults", {"error_rate": 0, "lost_response_rate": 0})
        quiet_rounds = 0
        for quiet_rounds in range(1, 8):  # noqa: B007 - reported below
            books = cli("sync", "books", url=url)
            stock = cli("sync", "stock", url=url)
            cycles.append(stock)
            if (books.get("pending", 1) == 0 and stock.get("pushed_skus") == 0
                    and stock.get("pulled_skus") == 0):
                break
        diff = cli("stock", "diff", url=url)
        items = admin_api.get(f"{sandbox.base_url}/__sandbox/records/books_items",
                              timeout=10).json()
        books_side = {item["sku"]: int(Decimal(str(item["stock_on_hand"]))) for item in items}
        stats = admin_api.get(f"{sandbox.base_url}/__sandbox/stats", timeout=10).json()
        adjustments = admin_api.get(f"{sandbox.base_url}/__sandbox/records/books_adjustments",
                                    timeout=10).json()
        with engine.connect() as conn:
            storefront = dict(conn.execute(sa.text(
                "SELECT sku, stock_quantity FROM public.products")).all())
            drifting = conn.execute(sa.text("SELECT count(*) FROM integration.stock_levels "
                                            "WHERE out_of_step >= 2")).scalar_one()
            dead = conn.execute(sa.text("SELECT count(*) FROM integration.zoho_sync_queue "
                                        "WHERE status = 'dead'")).scalar_one()
    wrong = sorted(sku for sku in skus
                   if not storefront[sku] == books_side.get(sku) == truth[sku])
    print(json.dumps({
        "operations": dict(done), "checkouts_refused_out_of_stock": refused,
        "stock_cycles": len(cycles), "quiet_after_rounds": quiet_rounds,
        "skus": len(skus), "skus_wrong": wrong, "stock_in_step_failing": drifting,
        "diff_out_of_step": diff.get("out_of_step"), "dead_records": dead,
        "our_adjustments": sum(1 for a in adjustments
                               if str(a.get("reference_number")).startswith("KNSTK-")),
        "stock_cycle_api_calls": sum(c.get("api_calls", 0) for c in cycles),
        "zoho_calls_total": stats["requests_total"], "seconds": round(time.monotonic() - started),
    }))
    return 1 if wrong or drifting else 0


if __name__ == "__main__":
    sys.exit(main())
