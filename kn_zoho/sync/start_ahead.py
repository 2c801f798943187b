"""The next group's start, run on a helper thread while this group's Zoho calls are in
flight (issue 12).

A Books order is started alone, right before its calls: one statement that counts its
attempt, logs it ``in_progress`` and renews its lease, committed before any of its calls.
Started one group ahead, that statement still comes before the group's calls, and its round
trip overlaps the previous order's calls instead of adding to the run. The cost: a run killed
(or a lease broken) during one group leaves the next group started, not reached: one attempt
counted for it (logged abandoned, as for any killed attempt) and, when it is taken over, the
lookups of a retry. Records whose last worker died are never started ahead (they go alone).
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import Future, wait
from datetime import timedelta

import sqlalchemy as sa

from kn_zoho.storefront import db, queue
from kn_zoho.storefront.claims import Claim
from kn_zoho.sync.background import BackgroundThread

START_AHEAD_THREAD = "kn-zoho-start-ahead"  # the helper thread's name


def _keys(claims: Sequence[Claim]) -> list[str]:
    return [claim.record_key for claim in claims]


class StartAhead:
    """One pass's starts ahead: at most one group pending, started on the helper thread's own
    connection (autocommit); :meth:`close` waits for it and gives the connection back."""

    def __init__(self, engine: sa.Engine, *, worker: str, run_id: str, kind: str,
                 lease: timedelta) -> None:
        self.engine = engine
        self._options = {"worker": worker, "run_id": run_id, "kind": kind, "lease": lease}
        self._thread: BackgroundThread | None = None
        self._conn: sa.Connection | None = None
        self._pending: tuple[list[Claim], Future[list[Claim]]] | None = None

    def submit(self, group: list[Claim]) -> None:
        """Start ``group`` now, on the helper thread."""
        if self._pending is not None:
            raise RuntimeError("a group is started ahead already")
        if self._thread is None:
            self._thread = BackgroundThread(START_AHEAD_THREAD)
        self._pending = (group, self._thread.run(lambda: self._start(group)))

    def _start(self, group: list[Claim]) -> list[Claim]:
        if self._conn is None:
            self._conn = db.autocommit(self.engine)
        try:
            return queue.start(self._conn, group, **self._options)
        except BaseException:
            conn, self._conn = self._conn, None
            conn.invalidate()  # in doubt: never hand it back to the pool
            conn.close()
            raise

    def take(self, group: Sequence[Claim]) -> list[Claim] | None:
        """The claims of ``group`` still held, started, if it was started ahead (waits for
        it; the start's error is raised here); None if it was not."""
        if self._pending is None:
            return None
        pending, future = self._pending
        self._pending = None
        if _keys(pending) != _keys(group):
            wait([future])
            raise RuntimeError(f"started {_keys(pending)} ahead, but {_keys(group)} is next")
        return future.result()

    def settle(self) -> tuple[list[Claim], list[Claim]]:
        """After the pass stopped short (a budget pause, an error): the group started ahead,
        if any, as (its claims, those of them started); a failed start started none."""
        if self._pending is None:
            return [], []
        pending, future = self._pending
        self._pending = None
        wait([future])
        return pending, ([] if future.exception() is not None else future.result())

    def close(self) -> None:
        self.settle()
        if self._thread is None:
            return
        thread, self._thread = self._thread, None
        wait([thread.run(self._close_connection)])
        thread.stop()

    def _close_connection(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()
