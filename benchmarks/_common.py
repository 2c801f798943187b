"""What the benchmark scripts share: a throwaway storefront database on a PostgreSQL server,
the bundled sandbox's settings in the environment, the `kn-zoho` command line, waiting and
percentiles. Scripts run as ``python benchmarks/<name>.py`` (this folder is on sys.path)."""

from __future__ import annotations

import contextlib
import os
import shlex
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa
from cryptography.fernet import Fernet

from kn_zoho.sandbox import export_lines
from kn_zoho.storefront import db, migrations

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
KN_ZOHO = str(BIN / "kn-zoho")


@contextmanager
def fresh_database(server_url: str, prefix: str, *, migrate: bool = False
                   ) -> Iterator[tuple[str, sa.Engine]]:
    """A new database on ``server_url`` (a role with CREATEDB): its URL and an engine; with
    ``migrate`` the storefront baseline and every migration are applied. Dropped afterwards."""
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(db.sqlalchemy_url(server_url), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    url = sa.engine.make_url(db.sqlalchemy_url(server_url)).set(
        database=name).render_as_string(hide_password=False)
    engine = db.create_engine(url)
    try:
        if migrate:
            migrations.upgrade(engine, with_baseline=True)
        yield url, engine
    finally:
        engine.dispose()
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


def use_sandbox(base_url: str, **extra: str) -> None:
    """Point this process and its children at the sandbox (its demo credentials), with a
    fresh token encryption key and any ``extra`` variables."""
    for line in export_lines(base_url):
        key, _, value = shlex.split(line.removeprefix("export "))[0].partition("=")
        os.environ[key] = value
    os.environ["KN_ZOHO_SECRET_KEY"] = Fernet.generate_key().decode()
    os.environ.update(extra)


def kn_zoho(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """One `kn-zoho` command in its own process, as an operator runs it."""
    done = subprocess.run([KN_ZOHO, *args], capture_output=True, text=True,  # noqa: S603
                          check=False, cwd=ROOT)
    if check and done.returncode != 0:
        raise RuntimeError(f"kn-zoho {' '.join(args)} exited {done.returncode}: "
                           f"{done.stderr.strip()[-2000:]}")
    return done


def wait_until(condition: Callable[[], bool], limit: float = 240.0, step: float = 0.25
               ) -> float:
    """Seconds until ``condition()`` holds (infinity past ``limit``)."""
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > limit:
            return float("inf")
        time.sleep(step)
    return time.monotonic() - started


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]



def stop_process_group(process: subprocess.Popen, timeout: float = 30.0) -> None:
    """Stop a process started with ``start_new_session=True`` and everything it started: a
    daemon's code server outlives a daemon stopped alone."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()
