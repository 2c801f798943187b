"""Which PostgreSQL to use, and how to connect to it.

Order of precedence: an explicit URL (``--database-url``), then ``KN_ZOHO_DATABASE_URL``,
then an embedded PostgreSQL (pgserver) under ``KN_ZOHO_DATA_DIR`` (default ``.kn_zoho``), so a
newcomer needs no server. The storefront is never SQLite.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import sqlalchemy as sa

DATABASE_URL_ENV = "KN_ZOHO_DATABASE_URL"
DATA_DIR_ENV = "KN_ZOHO_DATA_DIR"
DEFAULT_DATA_DIR = ".kn_zoho"


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
    which Supabase's transaction pooler does not support.
    """
    return sa.create_engine(
        sqlalchemy_url(resolve_database_url(url)),
        pool_pre_ping=True,
        connect_args={"prepare_threshold": None},
        **kwargs,
    )
