"""How long a storefront user edit takes to reach Zoho CRM under the Dagster daemon.

Fresh storefront database and sandbox; `kn-zoho db upgrade --with-baseline`, seed, a first
`kn-zoho sync crm`; then the production daemon (`dagster-daemon run`) with deploy/dagster.yaml
in a fresh DAGSTER_HOME, its storage in a fresh PostgreSQL database (as
kn_zoho_tests/deploy/test_postgres_instance.py runs it). Each sample waits a random 0-20 s
(so edits fall anywhere in the sensor's 30 s interval), changes one user's phone and times
until the sandbox's CRM Contact carries the new number: the sensor tick, the queued run's
launch (a new process loading the code location), the sync.

    python benchmarks/change_latency.py \
        --server-url postgresql://postgres@127.0.0.1:5432/postgres [--samples 10]

Prints each sample, p50/p95/max (seconds) and one JSON line.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
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


def _dagster_pg_env(url: str) -> dict[str, str]:
    """DAGSTER_PG_* for deploy/dagster.yaml (it takes the parts, not a URL)."""
    parsed = sa.engine.make_url(url)
    return {"DAGSTER_PG_HOST": parsed.host or "", "DAGSTER_PG_PORT": str(parsed.port or 5432),
            "DAGSTER_PG_USER": parsed.username or "postgres",
            "DAGSTER_PG_PASSWORD": parsed.password or "", "DAGSTER_PG_DB": parsed.database or ""}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--server-url", required=True, help="PostgreSQL server (CREATEDB)")
    parser.add_argument("--samples", type=int, default=10)
    parser.add_argument("--seed", type=int, default=5)
    options = parser.parse_args()
    rng = random.Random(options.seed)
    home = Path(tempfile.mkdtemp(prefix="kn_zoho_change_latency_"))
    shutil.copy(ROOT / "deploy" / "dagster.yaml", home / "dagster.yaml")
    latencies: list[float] = []
    with (fresh_database(options.server_url, "kn_zoho_change") as (url, engine),
          fresh_database(options.server_url, "kn_zoho_change_dagster") as (dagster_url, _),
          start_sandbox(SandboxConfig(seed=options.seed, rate_limit_per_minute=100_000,
                                      daily_limit=10_000_000)) as sandbox):
        use_sandbox(sandbox.base_url, KN_ZOHO_DATABASE_URL=url, DAGSTER_HOME=str(home),
                    **_dagster_pg_env(dagster_url))
        kn_zoho("db", "upgrade", "--with-baseline")
        kn_zoho("seed", "--users", "20", "--products", "1", "--orders", "0", "--inquiries", "0",
                "--quote-requests", "0")
        kn_zoho("sync", "crm")
        session = requests.Session()
        with engine.connect() as conn:
            emails = sorted(conn.execute(sa.text("SELECT email FROM public.users")).scalars())

        def crm_phone(email: str) -> str:
            contacts = session.get(f"{sandbox.base_url}/__sandbox/records/crm_contacts",
                                   timeout=10).json()
            phone = next((c.get("Phone") for c in contacts
                          if str(c.get("Email", "")).casefold() == email.casefold()), "")
            return re.sub(r"\D", "", str(phone or ""))

        daemon = subprocess.Popen(  # noqa: S603 - our own venv's dagster-daemon
            [str(BIN / "dagster-daemon"), "run", "-w", "workspace.yaml"], cwd=ROOT,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        try:
            time.sleep(15)  # the daemon loads the code location and starts its loops
            for _ in range(options.samples):
                time.sleep(rng.uniform(0, 20))
                email = rng.choice(emails)
                digits = f"9198{rng.randrange(10**8):08d}"
                with engine.begin() as conn:
                    conn.execute(sa.text("UPDATE public.users SET phone = :p WHERE email = :e"),
                                 {"p": f"+{digits[:2]} {digits[2:]}", "e": email})
                latencies.append(wait_until(
                    lambda email=email, digits=digits: crm_phone(email) == digits, limit=300))
                print(f"user edit -> CRM Contact {latencies[-1]:.1f} s", flush=True)
        finally:
            stop_process_group(daemon, 60)
    shutil.rmtree(home, ignore_errors=True)
    figures = {"p50": round(statistics.median(latencies), 1),
               "p95": round(percentile(latencies, 0.95), 1),
               "max": round(max(latencies), 1), "samples": len(latencies)}
    print(json.dumps({"user_edit_to_crm_contact_seconds": figures}))
    return 0 if figures["max"] < 300 else 1


if __name__ == "__main__":
    sys.exit(main())
