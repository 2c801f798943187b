"""The per-organization Books stock lock (a Postgres session advisory lock).

Held by the pull from snapshot to apply, by the push around its adjustment, and by the
invoice flow around marking invoices sent: the writes this integration makes that move
Books stock. A killed process's lock goes with its connection. The invoice flow keeps it
across a group of invoices (:class:`StockLockHold`); while a thread keeps it,
:func:`books_stock_lock` in that thread joins the hold instead of waiting for itself.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future, wait
from contextlib import contextmanager
from typing import Any, TypeVar

import sqlalchemy as sa

from kn_zoho.sync.background import BackgroundThread

LOCK_TIMEOUT_MS = 120_000  # a pull of 10,000 items takes ~50 calls; never wait forever

# One statement: the wait's timeout is set for this statement's own transaction (the
# materialized CTE runs before the lock is asked for), so nothing is reset afterwards.
_LOCK_SQL = sa.text("WITH timeout AS MATERIALIZED (SELECT set_config('lock_timeout', :timeout, "
                    "true)) SELECT pg_advisory_lock(hashtextextended(:key, 0)) FROM timeout")
_UNLOCK_SQL = sa.text("SELECT pg_advisory_unlock(hashtextextended(:key, 0))")


_thread = threading.local()
STOCK_LOCK_HELPER = "kn-zoho-stock-lock"  # the name of a hold's helper thread
T = TypeVar("T")


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
    :meth:`connection` and let go by :meth:`release`. Keep it short: the stock pull waits.

    The hold belongs to the thread that made it (its :func:`books_stock_lock` joins it), also
    while :meth:`in_background` runs a write on a helper thread; the owner's next use of the
    connection waits for that write, so one thread at a time uses it.
    """

    def __init__(self, engine: sa.Engine, organization_id: str) -> None:
        self.engine = engine
        self.organization_id = organization_id
        self._conn: sa.Connection | None = None
        self._registry = _holds()  # the owner thread's holds
        self._pending: Future[Any] | None = None
        self._helper: BackgroundThread | None = None

    @property
    def held(self) -> bool:
        return self._conn is not None or self._pending is not None

    def connection(self) -> sa.Connection:
        """The lock's own connection (autocommit), the lock taken if it is not held yet;
        after the background write in flight, if any (whose error it leaves to its future)."""
        self._settle_background()
        return self._connect()

    def in_background(self, work: Callable[[sa.Connection], T]) -> Future[T]:
        """Run ``work`` on the lock's connection in a helper thread (taking the lock there if
        it is not held yet), so the owner's Zoho call overlaps its round trip."""
        self._settle_background()
        if self.organization_id not in self._registry:
            self._registry[self.organization_id] = self  # the owner joins it from now on
        if self._helper is None:
            self._helper = BackgroundThread(STOCK_LOCK_HELPER)
        future = self._helper.run(lambda: work(self._connect()))
        self._pending = future
        return future

    def _settle_background(self) -> None:
        pending, self._pending = self._pending, None
        if pending is not None:
            wait([pending])

    def _connect(self) -> sa.Connection:
        if self._conn is None:
            if self._registry.get(self.organization_id, self) is not self:
                raise RuntimeError("this thread keeps the stock lock in another hold already")
            self._conn = _locked(self.engine, self.organization_id)
            self._registry[self.organization_id] = self
        return self._conn

    def release(self) -> None:
        self._settle_background()
        if self._helper is not None:
            self._helper.stop()
            self._helper = None
        conn, self._conn = self._conn, None
        if self._registry.get(self.organization_id) is self:
            del self._registry[self.organization_id]
        if conn is not None:
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
