"""Records per second of `kn-zoho sync crm` and `sync books` against raw reference loops.

One run, one sandbox with its limits lifted (in its own process, so its CPU never competes
with the client's for the GIL) and a fresh database per measurement, cloned from one migrated
template. For each of CRM (users -> Contacts) and Books (products -> items, paid orders ->
customer (searched by email, then created), invoice, mark sent, payment, and the contact
updates that linking the customers queues, which make no call; both sides count them, see
raw_reference.py, raw_books.py) it times:

    real  the code `kn-zoho sync crm|books` runs (run_flows over the CLI's flows, Postgres
          token store and rate limiter, limits set high through KN_ZOHO_*_CALLS_PER_MINUTE)
    bare  raw_reference.py, raw_books.py: the same Zoho calls with bare requests, no database writes
    book  the bare loop plus the bookkeeping in a few statements per batch of 100 (claim,
          load, write-back, queue, log); CRM logs each attempt before its call and completes
          the log row after, as the real sync does
    lean  (CRM) book with the log rows inserted after the calls only (the earlier reference:
          no trace of an attempt whose run is killed)
    rec1  (Books) the same bookkeeping per order, as the real flow records it: one statement
          starting the attempt before its calls, one transaction recording it after
    inv   (Books) book plus the statements the real flow's invariants add per order: its
          attempt started before its calls, its stock row 'sending' committed before the
          mark-sent call ('sent' with the batch's record)

and prints records/s, the Zoho calls each made (they must match), and real/book, the
client-side overhead of the sync over the reference (target: at most 1.5): best against best,
and per round (real and book back to back) with the rounds' median, the steadier figure on a
machine whose speed drifts.

    python benchmarks/sync_throughput.py \
        --server-url postgresql://postgres@127.0.0.1:5432/postgres \
        [--users 2000] [--orders 300] [--products 40] [--repeat 3] [--only crm|books] \
        [--profile crm|books] [--latency-ms 0]

--latency-ms makes the sandbox answer every CRM/Books call that much later (its
``latency_ms`` fault), for the same comparison at reply times nearer Zoho's own.

--profile prints the top cumulative costs (cProfile) of one extra real run.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import socket
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import requests
import sqlalchemy as sa
from cryptography.fernet import Fernet

sys.path.insert(0, str(Path(__file__).resolve().parent))
import raw_books
import raw_reference

from kn_zoho.sandbox import credentials
from kn_zoho.storefront import db, migrations
from kn_zoho.storefront.seed import seed
from kn_zoho.sync.books.common import organization_state
from kn_zoho.sync.service import books_flows, crm_flows, run_flows, summary
from kn_zoho.zoho.config import ZohoConfig
from kn_zoho.zoho.factory import build_zoho_clients

LIFTED = 10_000_000  # calls per minute, Zoho's limits lifted on both sides
SANDBOX = ("from kn_zoho.sandbox.config import SandboxConfig; "
           "from kn_zoho.sandbox.server import serve; "
           "serve(SandboxConfig(rate_limit_per_minute={n}, daily_limit={n}, "
           "books_concurrency=1000, crm_concurrency=1000, crm_credits=None), port={port})")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def _sandbox() -> Iterator[str]:
    """A sandbox with lifted limits in its own process; yields its base URL."""
    port = _free_port()
    process = subprocess.Popen([sys.executable, "-c", SANDBOX.format(n=LIFTED, port=port)],  # noqa: S603
                               stdout=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                requests.get(f"{url}/__sandbox/stats", timeout=1).raise_for_status()
                break
            except requests.RequestException:
                time.sleep(0.05)
        yield url
    finally:
        process.terminate()
        process.wait(10)


class Databases:
    """A migrated template, cloned into a fresh database per measurement."""

    def __init__(self, server_url: str) -> None:
        self.server_url = db.sqlalchemy_url(server_url)
        self.admin = sa.create_engine(self.server_url, isolation_level="AUTOCOMMIT")
        self.template = self._create()
        engine = sa.create_engine(self._url(self.template))
        migrations.upgrade(engine, with_baseline=True)
        engine.dispose()

    def _url(self, name: str) -> str:
        return sa.make_url(self.server_url).set(database=name).render_as_string(
            hide_password=False)

    def _create(self, template: str | None = None) -> str:
        name = f"kn_zoho_throughput_{uuid.uuid4().hex[:8]}"
        clause = f' TEMPLATE "{template}"' if template else ""
        with self.admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"{clause}')
        return name

    @contextmanager
    def fresh(self) -> Iterator[sa.Engine]:
        name = self._create(self.template)
        engine = db.create_engine(self._url(name))
        try:
            yield engine
        finally:
            engine.dispose()
            self._drop(name)

    def _drop(self, name: str) -> None:
        with self.admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def close(self) -> None:
        self._drop(self.template)
        self.admin.dispose()


def _zoho_calls(base_url: str, latency_ms: float = 0.0) -> dict[str, int]:
    """What the sandbox served since its last reset (token refreshes left out), then reset
    (with ``latency_ms`` added to each later call)."""
    stats = requests.get(f"{base_url}/__sandbox/stats", timeout=10).json()
    requests.post(f"{base_url}/__sandbox/reset", timeout=10).raise_for_status()
    if latency_ms:
        requests.post(f"{base_url}/__sandbox/faults", json={"latency_ms": latency_ms},
                      timeout=10).raise_for_status()
    return {endpoint: n for endpoint, n in stats["requests_by_endpoint"].items()
            if "/oauth/" not in endpoint}


def _real(flows: Callable) -> Callable[[sa.Engine, str], int]:
    """The CLI's `sync` command minus process start: clients, flows, run, summary."""
    def run(engine: sa.Engine, base_url: str) -> int:
        config = ZohoConfig(client_id=credentials.DEMO_CLIENT_ID,
                            client_secret=credentials.DEMO_CLIENT_SECRET,
                            refresh_token=credentials.DEMO_REFRESH_TOKEN,
                            books_organization_id=credentials.DEMO_ORGANIZATION_ID,
                            accounts_url=base_url)
        clients = build_zoho_clients(engine, config, secret_key=Fernet.generate_key())
        try:
            reports = run_flows(engine, flows(clients))
            result = summary(engine, reports)
        finally:
            clients.close()
        if result["failed"] or result["dead"] or result["retrying"]:
            raise RuntimeError(f"the real sync did not sync everything: {result}")
        return result["synced"]
    return run


def _measure(databases: Databases, base_url: str, fill: Callable[[sa.Engine], None],
             run: Callable[[sa.Engine, str], int], profile: cProfile.Profile | None = None,
             latency_ms: float = 0.0) -> tuple[float, int, dict[str, int]]:
    """Seconds, records synced and Zoho calls of one run on a fresh database and sandbox."""
    _zoho_calls(base_url, latency_ms)
    with databases.fresh() as engine:
        fill(engine)
        started = time.perf_counter()
        if profile is not None:
            profile.enable()
        synced = run(engine, base_url)
        if profile is not None:
            profile.disable()
        elapsed = time.perf_counter() - started
    return elapsed, synced, _zoho_calls(base_url)


def _compare(name: str, databases: Databases, base_url: str,
             fill: Callable[[sa.Engine], None], runs: dict[str, Callable], repeat: int,
             latency_ms: float = 0.0) -> dict[str, float]:
    """Best of ``repeat`` per variant, interleaved so machine load hits all alike; and, as
    a machine whose speed drifts from run to run can pair one variant's best with another's
    worst, real/book per round (real and book measured back to back), their median."""
    best: dict[str, float] = {}
    counts: dict[str, tuple[int, dict[str, int]]] = {}
    paired: list[float] = []
    for _ in range(repeat):
        this_round: dict[str, float] = {}
        for variant, run in runs.items():
            elapsed, synced, calls = _measure(databases, base_url, fill, run,
                                              latency_ms=latency_ms)
            best[variant] = min(best.get(variant, float("inf")), elapsed)
            this_round[variant] = elapsed
            counts[variant] = (synced, calls)
        paired.append(this_round["real"] / this_round["book"])
    synced, calls = counts["real"]
    for variant, (other_synced, other_calls) in counts.items():
        if (other_synced, other_calls) != (synced, calls):
            raise RuntimeError(f"{name} {variant} differs from the real run: {other_synced} "
                               f"records, calls {other_calls} against {synced}, {calls}")
    figures = {f"{variant}_records_per_s": round(synced / seconds, 1)
               for variant, seconds in best.items()}
    figures |= {"records": synced, "zoho_calls": sum(calls.values())}
    figures |= {f"real_over_{variant}": round(best["real"] / seconds, 2)
                for variant, seconds in best.items() if variant != "real"}
    figures["real_over_book_rounds"] = [round(ratio, 2) for ratio in paired]
    figures["real_over_book_median"] = round(statistics.median(paired), 2)
    print(f"{name}: {synced} records, {sum(calls.values())} Zoho calls each")
    for variant, seconds in best.items():
        print(f"  {variant:<5} {seconds:7.2f} s  {synced / seconds:8.1f} records/s")
    print(f"  real/book {figures['real_over_book']:.2f} (target <= 1.5), " + ", ".join(
        f"real/{variant} {figures[f'real_over_{variant}']:.2f}"
        for variant in best if variant not in ("real", "book")))
    print(f"  real/book per round {', '.join(f'{r:.2f}' for r in paired)}: median "
          f"{figures['real_over_book_median']:.2f}")
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--server-url", required=True)
    parser.add_argument("--users", type=int, default=2000)
    parser.add_argument("--orders", type=int, default=300)
    parser.add_argument("--products", type=int, default=40)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--only", choices=("crm", "books"), help="measure one suite only")
    parser.add_argument("--profile", choices=("crm", "books"))
    parser.add_argument("--latency-ms", type=float, default=0.0,
                        help="added to each CRM/Books reply by the sandbox")
    options = parser.parse_args()
    os.environ["KN_ZOHO_CRM_CALLS_PER_MINUTE"] = os.environ[
        "KN_ZOHO_BOOKS_CALLS_PER_MINUTE"] = str(LIFTED)
    state = organization_state()

    def crm_fill(engine: sa.Engine) -> None:
        seed(engine, users=options.users, products=0, orders=0, inquiries=0, quote_requests=0)

    def books_fill(engine: sa.Engine) -> None:
        seed(engine, users=max(1, options.orders * 2 // 3), products=options.products,
             orders=options.orders, paid_fraction=1.0, inquiries=0, quote_requests=0)
        with engine.begin() as conn:  # the CRM queue is not this benchmark's
            conn.execute(sa.text("DELETE FROM integration.zoho_sync_queue "
                                 "WHERE entity LIKE 'crm_%'"))

    suites = {
        "crm": (crm_fill, {
            "real": _real(crm_flows),
            "bare": lambda e, u: raw_reference.crm_contacts(e, u, bookkeeping=False),
            "book": lambda e, u: raw_reference.crm_contacts(e, u, bookkeeping=True),
            "lean": lambda e, u: raw_reference.crm_contacts(e, u, bookkeeping=True,
                                                            log_first=False)}),
        "books": (books_fill, {
            "real": _real(books_flows),
            "bare": lambda e, u: raw_books.books_invoices(e, u, bookkeeping=False,
                                                              seller_state=state),
            "book": lambda e, u: raw_books.books_invoices(e, u, bookkeeping=True,
                                                              seller_state=state),
            "rec1": lambda e, u: raw_books.books_invoices(e, u, bookkeeping=True,
                                                              seller_state=state,
                                                              per_record=True),
            "inv": lambda e, u: raw_books.books_invoices(e, u, bookkeeping=True,
                                                             seller_state=state,
                                                             invariants=True)}),
    }
    databases = Databases(options.server_url)
    results = {}
    try:
        with _sandbox() as base_url:
            for name, (fill, runs) in suites.items():
                if options.only not in (None, name):
                    continue
                results[name] = _compare(f"sync {name}", databases, base_url, fill, runs,
                                         options.repeat, options.latency_ms)
            if options.profile:
                fill, runs = suites[options.profile]
                profile = cProfile.Profile()
                _measure(databases, base_url, fill, runs["real"], profile)
                pstats.Stats(profile).sort_stats("cumulative").print_stats(40)
                pstats.Stats(profile).sort_stats("tottime").print_stats(25)
    finally:
        databases.close()
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
