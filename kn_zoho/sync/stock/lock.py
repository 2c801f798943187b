"""The per-organization Books stock lock (a Postgres session advisory lock).

Held by the pull from snapshot to apply, by the push around its adjustment, and by the
invoice flow around marking invoices sent: the writes this integration makes that move
Books stock. A killed process's lock goes with its connection. The invoice flow keeps it
across a group of invoices (:class:`StockLockHold`); while a thread keeps it,
:func:`books_stock_lock` in that thread joins the hold instead of waiting for itself.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa

LOCK_TIMEOUT_MS = 120_000  # a pull of 10,000 items takes ~50 calls; never wait forever

# One statement: the wait's timeout is set for this statement's own transaction (the
# materialized CTE runs before the lock is asked for), so nothing is reset afterwards.
_LOCK_SQL = sa.text("WITH timeout AS MATERIALIZED (SELECT set_config('lock_timeout', :timeout, "
                    "true)) SELECT pg_advisory_lock(hashtextextended(:key, 0)) FROM timeout")
_UNLOCK_SQL = sa.text("SELECT pg_advisory_unlock(hashtextextended(:key, 0))")


_thread = threading.local()


def _holds() -> dict[str, StockLockHold]:
    """The holds this thread keeps, by organization id."""
    if not hasattr(_thread, "holds"):
        _thread.holds = {}
    return _thread.holds


def lock_key(organization_id: str) -> str:
    return f"kn_zoho.books_stock:{organization_id}"


def _locked(engine: sa.Engine, organization_id: str) -> sa.Connection:
    """A connection of its own, in autocommit, holding the organization's lock (waits)."""
    conn = engine.connect().execution_options(isolation_level="AUTOCOMMIT")
    try:
        conn.execute(_LOCK_SQL, {"timeout": f"{LOCK_TIMEOUT_MS}ms",
                                 "key": lock_key(organization_id)})
    except BaseException:
        conn.close()
        raise
    return conn


def _unlock(conn: sa.Connection, organization_id: str) -> None:
    """Let the lock go and give the connection back; a connection that failed is dropped
    (the server ends its session, and the lock with it)."""
    try:
        conn.execute(_UNLOCK_SQL, {"key": lock_key(organization_id)})
    except BaseException:
        conn.invalidate()
        raise
    finally:
        conn.close()


class StockLockHold:
    """The organization's stock lock kept across several writes (a group of invoices marked
    sent: one lock and one unlock for the group, not one each), taken at the first
    :meth:`connection` and let go by :meth:`release`. Keep it short: the stock pull waits."""

    def __init__(self, engine: sa.Engine, organization_id: str) -> None:
        self.engine = engine
        self.organization_id = organization_id
        self._conn: sa.Connection | None = None

    @property
    def held(self) -> bool:
        return self._conn is not None

    def connection(self) -> sa.Connection:
        """The lock's own connection (autocommit), the lock taken if it is not held yet."""
        if self._conn is None:
            if self.organization_id in _holds():
                raise RuntimeError("this thread keeps the stock lock in another hold already")
            self._conn = _locked(self.engine, self.organization_id)
            _holds()[self.organization_id] = self
        return self._conn

    def release(self) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        del _holds()[self.organization_id]
        _unlock(conn, self.organization_id)


@contextmanager
def books_stock_lock(engine: sa.Engine, organization_id: str) -> Iterator[sa.Connection]:
    """Hold the organization's stock lock for the ``with`` block (waits for it).

    Yields the lock's own connection in autocommit mode: a statement the holder runs on it
    is committed before the next one starts (and before the lock is let go), at the cost of
    one round trip each, with no transaction to begin or commit.
    """
    hold = _holds().get(organization_id)
    if hold is not None:  # this thread keeps it already (an invoice group): join
        yield hold.connection()
        return
    conn = _locked(engine, organization_id)
    try:
        yield conn
    finally:
        _unlock(conn, organization_id)
