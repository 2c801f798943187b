"""The per-organization Books stock lock (a Postgres session advisory lock).

Held by the pull from snapshot to apply, by the push around its adjustment, and by the
invoice flow around marking an invoice sent: the writes this integration makes that move
Books stock. A killed process's lock goes with its connection.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa

LOCK_TIMEOUT_MS = 120_000  # a pull of 10,000 items takes ~50 calls; never wait forever

# One statement: the wait's timeout is set for this statement's own transaction (the
# materialized CTE runs before the lock is asked for), so nothing is reset afterwards.
_LOCK_SQL = sa.text("WITH timeout AS MATERIALIZED (SELECT set_config('lock_timeout', :timeout, "
                    "true)) SELECT pg_advisory_lock(hashtextextended(:key, 0)) FROM timeout")
_UNLOCK_SQL = sa.text("SELECT pg_advisory_unlock(hashtextextended(:key, 0))")


def lock_key(organization_id: str) -> str:
    return f"kn_zoho.books_stock:{organization_id}"


@contextmanager
def books_stock_lock(engine: sa.Engine, organization_id: str) -> Iterator[sa.Connection]:
    """Hold the organization's stock lock for the ``with`` block (waits for it).

    Yields the lock's own connection in autocommit mode: a statement the holder runs on it
    is committed before the next one starts (and before the lock is let go), at the cost of
    one round trip each, with no transaction to begin or commit.
    """
    key = lock_key(organization_id)
    with engine.connect() as conn:
        conn = conn.execution_options(isolation_level="AUTOCOMMIT")
        conn.execute(_LOCK_SQL, {"timeout": f"{LOCK_TIMEOUT_MS}ms", "key": key})
        try:
            yield conn
        finally:
            conn.execute(_UNLOCK_SQL, {"key": key})
