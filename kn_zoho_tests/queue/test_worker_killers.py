"""A record whose attempt kills its worker is dead-lettered after five attempts, each logged,
and the records batched with it are not dragged down."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from kn_zoho.storefront.seed import seed
from kn_zoho.sync.alerts import AlertSettings, OutboxMailer, send_dead_letter_alerts


@pytest.mark.slow
def test_a_record_that_kills_its_worker_is_dead_after_five_attempts_with_five_log_rows(
        engine: sa.Engine, database_url: str, tmp_path: Path) -> None:
    seed(engine, users=3, products=1, orders=0, quote_requests=0, inquiries=0)
    with engine.connect() as conn:
        keys = sorted(conn.execute(sa.text("SELECT id::text FROM users")).scalars())
    poison = keys[1]
    exits = []
    for _ in range(6):
        run = subprocess.run(  # noqa: S603 - our own test worker, fixed arguments
            [sys.executable, "-m", "kn_zoho_tests.queue.poison_worker", database_url, poison],
            capture_output=True, timeout=60, check=False)
        exits.append(run.returncode)
        time.sleep(1.2)  # the killed run's one-second lease runs out
    assert exits == [-9] * 5 + [0]
    with engine.connect() as conn:
        rows = {r.record_key: r for r in conn.execute(sa.text(
            "SELECT record_key, status, attempts, last_error_code "
            "FROM integration.zoho_sync_queue WHERE entity = 'crm_contact'"))}
        logged = conn.execute(sa.text(
            "SELECT attempt, status FROM integration.zoho_sync_logs WHERE record_key = :k "
            "ORDER BY id"), {"k": poison}).all()
    assert (rows[poison].status, rows[poison].attempts,
            rows[poison].last_error_code) == ("dead", 5, "WORKER_LOST")
    assert [tuple(r) for r in logged] == [(1, "abandoned"), (2, "abandoned"),
                                          (3, "abandoned"), (4, "abandoned"), (5, "dead")]
    assert {rows[k].status for k in keys if k != poison} == {"synced"}
    assert max(rows[k].attempts for k in keys if k != poison) <= 2
    [alerted] = send_dead_letter_alerts(
        engine, AlertSettings(("ops@example.in",), "kn@example.in", OutboxMailer(tmp_path)))
    assert (alerted.record_key, alerted.error_code) == (poison, "WORKER_LOST")
