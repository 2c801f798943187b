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


def lock_key(organization_id: str) -> str:
    return f"kn_zoho.books_stock:{organization_id}"


@contextmanager
def books_stock_lock(engine: sa.Engine, organization_id: str) -> Iterator[None]:
    """Hold the organization's stock lock for the ``with`` block (waits for it)."""
    key = lock_key(organization_id)
    with engine.connect() as conn:
        conn.execute(sa.text(f"SET lock_timeout = {LOCK_TIMEOUT_MS}"))
        conn.execute(sa.text("SELECT pg_advisory_lock(hashtextextended(:key, 0))"),
                     {"key": key})
        conn.commit()
        try:
            yield
        finally:
            conn.execute(sa.text("SELECT pg_advisory_unlock(hashtextextended(:key, 0))"),
                         {"key": key})
            conn.execute(sa.text("RESET lock_timeout"))
            conn.commit()
