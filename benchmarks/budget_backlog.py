"""A paid-order backlog against a Books organization with a small daily allowance.

Fresh database (baseline + migrations), ``--orders`` paid orders seeded, and a sandbox whose
Books "day" lasts ``--window-seconds`` and allows ``--daily-calls`` calls (the budget ledger is
told the same). Then what the sensors do: items once, then the invoice flow pass after pass;
a pass that finds the budget spent waits for the window's reset (the sensors skip meanwhile).

    python benchmarks/budget_backlog.py --server-url postgresql://postgres@127.0.0.1:5432/postgres \
        [--orders 20000] [--daily-calls 5000] [--window-seconds 60]

Prints calls made, calls Zoho refused, windows used (wall time / window), how often the budget
ran out (passes stopped), dead records (must be 0), orders invoiced more than once (must be 0)
and wall time, then one JSON line.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
import uuid
from collections import Counter
from datetime import UTC, datetime

import requests
import sqlalchemy as sa
from cryptography.fernet import Fernet

from kn_zoho.sandbox import credentials
from kn_zoho.sandbox.config import SandboxConfig
from kn_zoho.sandbox.server import start_sandbox
from kn_zoho.storefront import db, migrations
from kn_zoho.storefront.seed import seed
from kn_zoho.sync.books import BooksCatalog, InvoicesFlow, ItemsFlow
from kn_zoho.sync.runner import run_flow
from kn_zoho.zoho.budget import BOOKS, BudgetSettings
from kn_zoho.zoho.budget_ledger import PostgresCallBudget
from kn_zoho.zoho.budget_status import budget_states
from kn_zoho.zoho.config import ZohoConfig
from kn_zoho.zoho.factory import build_zoho_clients
from kn_zoho.zoho.http import HttpSettings
from kn_zoho.zoho.ratelimit import RateLimit


def _statuses(engine: sa.Engine) -> Counter[str]:
    with engine.connect() as conn:
        return Counter(dict(conn.execute(sa.text(
            "SELECT status, count(*) FROM integration.zoho_sync_queue "
            "WHERE entity = 'books_invoice' GROUP BY status")).all()))


def _scalar(engine: sa.Engine, sql: str) -> int:
    with engine.connect() as conn:
        return int(conn.execute(sa.text(sql)).scalar_one())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--server-url", required=True)
    parser.add_argument("--orders", type=int, default=20_000)
    parser.add_argument("--daily-calls", type=int, default=5_000)
    parser.add_argument("--window-seconds", type=float, default=60.0)
    args = parser.parse_args()

    admin = sa.create_engine(db.sqlalchemy_url(args.server_url), isolation_level="AUTOCOMMIT")
    name = f"kn_zoho_budget_{uuid.uuid4().hex[:8]}"
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    url = sa.engine.make_url(db.sqlalchemy_url(args.server_url)).set(database=name)
    engine = db.create_engine(url.render_as_string(hide_password=False))
    sandbox_config = SandboxConfig(seed=3, rate_limit_per_minute=1_000_000,
                                   daily_limit=args.daily_calls,
                                   daily_window_seconds=args.window_seconds,
                                   books_concurrency=50)
    try:
        migrations.upgrade(engine, with_baseline=True)
        seeding = time.monotonic()
        seed(engine, users=max(10, args.orders // 10), products=40, orders=args.orders,
             paid_fraction=1.0, inquiries=0, quote_requests=0)
        print(f"seeded {args.orders} paid orders in {time.monotonic() - seeding:.0f} s",
              file=sys.stderr, flush=True)
        with start_sandbox(sandbox_config) as sandbox:
            figures = _drain(engine, sandbox.base_url, args)
            stats = requests.get(f"{sandbox.base_url}/__sandbox/stats", timeout=30).json()
            invoices = requests.get(f"{sandbox.base_url}/__sandbox/records/books_invoices",
                                    timeout=120).json()
        per_order = Counter(Counter(i["invoice_number"] for i in invoices).values())
        figures.update({
            "books_calls_made": sum(n for endpoint, n in stats["requests_by_endpoint"].items()
                                    if "/books/" in endpoint),
            "calls_refused_by_zoho": stats["rate_limited"],
            "invoices": len(invoices), "orders_invoiced_more_than_once": sum(
                n for times, n in per_order.items() if times > 1),
        })
    finally:
        engine.dispose()
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()
    for key, value in figures.items():
        print(f"{key:32} {value}")
    print(json.dumps(figures))


def _drain(engine: sa.Engine, base_url: str, args: argparse.Namespace) -> dict[str, object]:
    """Items, then invoice passes until none is due, waiting out each spent window."""
    config = ZohoConfig(client_id=credentials.DEMO_CLIENT_ID,
                        client_secret=credentials.DEMO_CLIENT_SECRET,
                        refresh_token=credentials.DEMO_REFRESH_TOKEN,
                        books_organization_id=credentials.DEMO_ORGANIZATION_ID,
                        accounts_url=base_url)
    budget = PostgresCallBudget(engine, BudgetSettings(books_daily_calls=args.daily_calls,
                                                       window_seconds=args.window_seconds))
    clients = build_zoho_clients(
        engine, config, secret_key=Fernet.generate_key(), budget=budget,
        settings=HttpSettings(backoff_base=0.001, backoff_max=0.01, read_timeout=30,
                              books_rate_limit=RateLimit(1_000_000)))
    catalog = BooksCatalog(clients.books)
    started = time.monotonic()
    waited, passes, pauses = 0.0, 0, 0
    try:
        while True:
            passes += 1
            for flow in (ItemsFlow(clients.books, catalog), InvoicesFlow(clients.books, catalog)):
                report = run_flow(engine, flow, retry_base=0)
            left = _statuses(engine)
            if not left.get("pending") and not left.get("in_progress"):
                break
            print(f"{time.monotonic() - started:8.1f} s  pass {passes}: {dict(left)}; "
                  f"{report.paused or 'not paused'}", file=sys.stderr, flush=True)
            if report.paused:
                pauses += 1
                [state] = [s for s in budget_states(engine) if s.product == BOOKS]
                wait = max(0.0, (state.resets_at - datetime.now(UTC)).total_seconds()) + 0.05
                time.sleep(wait)
                waited += wait
    finally:
        clients.close()
    left = _statuses(engine)
    return {
        "orders": args.orders, "daily_calls": args.daily_calls,
        "window_seconds": args.window_seconds,
        "budget_ran_out": pauses, "passes": passes,
        "windows_used": math.ceil((time.monotonic() - started) / args.window_seconds),
        "synced": left.get("synced", 0), "dead_records": left.get("dead", 0),
        "failed_records": left.get("failed", 0),
        "records_with_attempts_over_1": _scalar(
            engine, "SELECT count(*) FROM integration.zoho_sync_queue WHERE attempts > 1"),
        "budget_deferrals_logged": _scalar(
            engine, "SELECT count(*) FROM integration.zoho_sync_logs WHERE status = 'deferred'"),
        "wall_seconds": round(time.monotonic() - started, 1),
        "waiting_for_reset_seconds": round(waited, 1),
    }


if __name__ == "__main__":
    main()
