"""Real database faults at a chosen moment: the server drops the connection that is about to
run the n-th statement matching a pattern (``pg_terminate_backend`` from another connection),
or the whole database stops accepting connections (an outage)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import sqlalchemy as sa
from click.testing import CliRunner, Result
from cryptography.fernet import Fernet

from kn_zoho.cli import main
from kn_zoho.sandbox import export_lines


class ConnectionKiller:
    """A ``before_cursor_execute`` hook on every engine of the process."""

    def __init__(self, admin_engine: sa.Engine, pattern: str, nth: int, *,
                 outage: str | None = None) -> None:
        self.admin_engine = admin_engine
        self.pattern = pattern
        self.nth = nth
        self.outage = outage  # database name: stop it accepting connections too
        self.seen = 0
        self.fired = False

    def __call__(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if self.fired or self.pattern not in statement:
            return
        self.seen += 1
        if self.seen < self.nth:
            return
        self.fired = True
        pid = cursor.connection.info.backend_pid
        with self.admin_engine.connect() as admin:
            if self.outage:
                admin.exec_driver_sql(f'ALTER DATABASE "{self.outage}" ALLOW_CONNECTIONS false')
                admin.execute(sa.text(
                    "SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity "
                    "WHERE datname = :db AND pid <> pg_backend_pid()"), {"db": self.outage})
            else:  # waits (up to 5 s) until the backend is gone
                admin.execute(sa.text("SELECT pg_terminate_backend(:pid, 5000)"), {"pid": pid})


@contextmanager
def killing(killer: ConnectionKiller) -> Iterator[ConnectionKiller]:
    sa.event.listen(sa.engine.Engine, "before_cursor_execute", killer)
    try:
        yield killer
    finally:
        sa.event.remove(sa.engine.Engine, "before_cursor_execute", killer)


def cli_env(monkeypatch: pytest.MonkeyPatch, sandbox_url: str) -> None:
    """`kn-zoho` pointed at the sandbox, no waiting between retries."""
    for line in export_lines(sandbox_url):
        name, value = line.removeprefix("export ").split("=", 1)
        monkeypatch.setenv(name, value.strip("'"))
    monkeypatch.setenv("KN_ZOHO_SECRET_KEY", Fernet.generate_key().decode())
    monkeypatch.setenv("KN_ZOHO_RETRY_BASE_SECONDS", "0")
    monkeypatch.setenv("KN_ZOHO_BOOKS_CALLS_PER_MINUTE", "100000")
    # one rate-limiter statement per call, so a drop keyed on them lands between Books calls
    monkeypatch.setenv("KN_ZOHO_RATE_LIMIT_BLOCK_SECONDS", "0")


def sync_books(database_url: str) -> tuple[Result, dict[str, Any]]:
    """`kn-zoho sync books` in-process: the result and its last line (the JSON summary)."""
    result = CliRunner().invoke(main, ["sync", "books", "--database-url", database_url])
    return result, json.loads(result.stdout.strip().splitlines()[-1])
