"""Which PostgreSQL to use, and how to connect to it.

Order of precedence: an explicit URL (``--database-url``), then ``KN_ZOHO_DATABASE_URL``,
then an embedded PostgreSQL (pgserver) under ``KN_ZOHO_DATA_DIR`` (default ``.kn_zoho``), so a
newcomer needs no server. The storefront is never SQLite.
"""

from __future__ import annotations

import os
import select
import time
import warnings
from pathlib import Path
from typing import Any

import sqlalchemy as sa

DATABASE_URL_ENV = "KN_ZOHO_DATABASE_URL"
DATA_DIR_ENV = "KN_ZOHO_DATA_DIR"
DEFAULT_DATA_DIR = ".kn_zoho"
# A pooled connection idle this long is pinged before use even if its socket is quiet: a
# firewall or pooler may have dropped it without a word.
PING_AFTER_IDLE_SECONDS = 30.0


def data_dir() -> Path:
    """Local folder for the embedded database and other demo state."""
    return Path(os.environ.get(DATA_DIR_ENV, DEFAULT_DATA_DIR)).resolve()


def embedded_database_url(pgdata: Path | None = None) -> str:
    """Start (or reuse) the embedded PostgreSQL and return its URL.

    The server is left running when this process exits, so the CLI, Dagster runs and the
    webserver all share it; pgserver reuses a running server for the same folder.
    """
    with warnings.catch_warnings():
        # pgserver asks platformdirs for a runtime dir it does not use on this path.
        warnings.simplefilter("ignore", category=UserWarning)
        import pgserver  # imported lazily: only the embedded default needs it

        folder = pgdata or data_dir() / "pgdata"
        folder.mkdir(parents=True, exist_ok=True)
        server = pgserver.get_server(folder, cleanup_mode=None)
    return server.get_uri()


def uses_embedded(explicit: str | None = None) -> bool:
    """Whether :func:`resolve_database_url` falls back to the embedded PostgreSQL."""
    return not (explicit or os.environ.get(DATABASE_URL_ENV))


def resolve_database_url(explicit: str | None = None) -> str:
    """The storefront database URL: explicit, else the environment, else embedded."""
    if uses_embedded(explicit):
        return embedded_database_url()
    return explicit or os.environ[DATABASE_URL_ENV]


def sqlalchemy_url(url: str) -> str:
    """Use the psycopg 3 driver for plain ``postgres://`` / ``postgresql://`` URLs."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    if url.startswith("postgresql+psycopg://"):
        return url
    raise ValueError(
        f"unsupported database URL scheme in {redact_url(url)!r}: kn_zoho needs PostgreSQL"
    )


def redact_url(url: str) -> str:
    """The URL with any password masked, for messages and logs."""
    try:
        return sa.engine.make_url(url).render_as_string(hide_password=True)
    except sa.exc.ArgumentError:
        return "<unparseable database URL>"


def create_engine(url: str | None = None, **kwargs: object) -> sa.Engine:
    """An engine on the resolved storefront database.

    ``prepare_threshold=None`` keeps psycopg from using server-side prepared statements,
    which Supabase's transaction pooler does not support. Connections are checked at
    check-out without a round trip (:func:`check_at_checkout`), not pinged every time.
    """
    engine = sa.create_engine(
        sqlalchemy_url(resolve_database_url(url)),
        connect_args={"prepare_threshold": None},
        **kwargs,
    )
    check_at_checkout(engine)
    return engine


def autocommit(engine: sa.Engine) -> sa.Connection:
    """A connection whose statements each commit on their own (``with autocommit(e) as c``).

    For one self-contained statement or a read of one statement: a transaction around it
    would cost two more round trips (BEGIN, COMMIT) and make it no safer.
    """
    return engine.connect().execution_options(isolation_level="AUTOCOMMIT")


def check_at_checkout(engine: sa.Engine) -> None:
    """Replace a dead pooled connection before anyone uses it, pinging only when in doubt.

    ``pool_pre_ping`` costs a round trip per check-out, several per batch. A connection the
    server closed (restart, ``pg_terminate_backend``, ``idle_session_timeout``) has already
    said so on its socket: PostgreSQL sends its FATAL error or the socket's end, and an idle
    connection (no LISTEN here) receives nothing else. So a connection is pinged only when
    its socket has something to read or it idled longer than ``PING_AFTER_IDLE_SECONDS``;
    a failed ping makes the pool connect anew (SQLAlchemy's DisconnectionError protocol).
    """
    dialect = engine.dialect

    @sa.event.listens_for(engine, "checkin")
    def remember_idle_since(dbapi_connection: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @sa.event.listens_for(engine, "checkout")
    def replace_if_dead(dbapi_connection: Any, record: Any, proxy: Any) -> None:
        idle_since = record.info.pop("idle_since", None)
        if idle_since is None:  # just connected
            return
        if dbapi_connection.closed or dbapi_connection.broken:
            raise sa.exc.DisconnectionError("the connection was closed")
        if (not _socket_readable(dbapi_connection.fileno())
                and time.monotonic() - idle_since < PING_AFTER_IDLE_SECONDS):
            return
        try:
            dialect.do_ping(dbapi_connection)
        except Exception as exc:
            raise sa.exc.DisconnectionError(f"the connection is gone: {type(exc).__name__}"
                                            ) from exc


def _socket_readable(fd: int) -> bool:
    """Whether the socket has data or its end waiting, without blocking."""
    if hasattr(select, "poll"):
        poller = select.poll()
        poller.register(fd, select.POLLIN | select.POLLERR | select.POLLHUP)
        return bool(poller.poll(0))
    return bool(select.select([fd], [], [fd], 0)[0])  # Windows: no poll()
