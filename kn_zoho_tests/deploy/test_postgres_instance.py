"""deploy/dagster.yaml for real: the Dagster daemon on PostgreSQL storage launches a sensor run.

The daemon is the production one (`dagster-daemon run`), with DAGSTER_HOME holding a copy of
deploy/dagster.yaml and its storage in a fresh database on the test PostgreSQL server; the
crm_contacts sensor finds seeded users, the QueuedRunCoordinator dequeues the run, the default
run launcher executes it, and the run, its events and the sensor ticks land in PostgreSQL.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from cryptography.fernet import Fernet

from kn_zoho.sandbox import credentials
from kn_zoho.storefront import db
from kn_zoho.storefront.seed import seed

ROOT = Path(__file__).resolve().parents[2]
SENSOR = "crm_contacts_sensor"


def dagster_pg_env(url: str) -> dict[str, str]:
    """DAGSTER_PG_* for deploy/dagster.yaml from a SQLAlchemy URL.

    A server reached through a Unix socket (the embedded test server) gets an empty host and
    libpq's PGHOST naming the socket folder, as libpq documents for a missing host.
    """
    parsed = sa.engine.make_url(url)
    socket_dir = parsed.query.get("host")
    env = {"DAGSTER_PG_HOST": parsed.host or "", "DAGSTER_PG_PORT": str(parsed.port or 5432),
           "DAGSTER_PG_USER": parsed.username or "postgres",
           "DAGSTER_PG_PASSWORD": parsed.password or "", "DAGSTER_PG_DB": parsed.database or ""}
    if socket_dir:
        env["PGHOST"] = socket_dir if isinstance(socket_dir, str) else socket_dir[0]
    return env


@pytest.fixture
def dagster_home(tmp_path: Path) -> Path:
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(ROOT / "deploy" / "dagster.yaml", home / "dagster.yaml")
    return home


@pytest.fixture
def daemon_env(database_url: str, empty_database_url: str, sandbox, dagster_home: Path
               ) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("ZOHO_", "KN_ZOHO_", "DAGSTER_", "PG"))}
    for line in credentials.export_lines(sandbox.base_url):
        name, _, value = line.removeprefix("export ").partition("=")
        env[name] = value.strip("'")
    env.update(dagster_pg_env(empty_database_url))
    env.update({"DAGSTER_HOME": str(dagster_home), "KN_ZOHO_DATABASE_URL": database_url,
                "KN_ZOHO_SECRET_KEY": Fernet.generate_key().decode(),
                "KN_ZOHO_RETRY_BASE_SECONDS": "0"})
    return env


@pytest.fixture
def daemon(daemon_env: dict[str, str], tmp_path: Path) -> Iterator[subprocess.Popen]:
    log = (tmp_path / "daemon.log").open("w")
    process = subprocess.Popen(  # noqa: S603 (our own venv's dagster-daemon)
        [str(Path(sys.executable).with_name("dagster-daemon")), "run",
         "-w", str(ROOT / "workspace.yaml")],
        cwd=tmp_path, env=daemon_env, stdout=log, stderr=subprocess.STDOUT,
        start_new_session=True)
    try:
        yield process
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=30)
        # the daemon's code server outlived it (one leaked `dagster api grpc` a suite run):
        # whatever of the group is left goes too
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        log.close()


@pytest.mark.slow
def test_daemon_on_postgres_storage_runs_a_sensor_launched_sync(
        database_url: str, empty_database_url: str, daemon_env: dict[str, str],
        dagster_home: Path, daemon: subprocess.Popen, sandbox, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    from dagster import AssetKey, DagsterInstance, DagsterRunStatus, RunsFilter

    engine = db.create_engine(database_url)
    seed(engine, users=5, products=1, orders=0, inquiries=0, quote_requests=0)
    engine.dispose()

    for name in ("DAGSTER_PG_HOST", "DAGSTER_PG_PORT", "DAGSTER_PG_USER",
                 "DAGSTER_PG_PASSWORD", "DAGSTER_PG_DB", "PGHOST"):
        if name in daemon_env:
            monkeypatch.setenv(name, daemon_env[name])
    instance = DagsterInstance.from_config(str(dagster_home))
    try:
        assert type(instance.run_storage).__name__ == "PostgresRunStorage"
        deadline = time.monotonic() + 240
        runs = []
        while time.monotonic() < deadline and daemon.poll() is None:
            runs = instance.get_runs(filters=RunsFilter(tags={"dagster/sensor_name": SENSOR}))
            if runs and all(r.is_finished for r in runs):
                break
            time.sleep(2)
        daemon_log = (tmp_path / "daemon.log").read_text()[-3000:]
        assert runs, f"no run launched by {SENSOR}; daemon log:\n{daemon_log}"
        assert [r.status for r in runs] == [DagsterRunStatus.SUCCESS], daemon_log
        materialized = instance.get_materialized_partitions(AssetKey("crm_contacts"))
        assert len(materialized) == 5
    finally:
        instance.dispose()
    assert len(sandbox.records("crm_contacts")) == 5
    # the history lives in PostgreSQL, where the webserver of a deployment reads it
    storage = sa.create_engine(empty_database_url)
    with storage.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM runs WHERE run_id = :id"),
                            {"id": runs[0].run_id}).scalar() == 1
        assert conn.execute(sa.text(
            "SELECT count(*) FROM event_logs WHERE run_id = :id"
            " AND dagster_event_type = 'ASSET_MATERIALIZATION'"), {"id": runs[0].run_id}
        ).scalar() == 5
    storage.dispose()
