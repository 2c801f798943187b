"""The invoice flow keeps the stock lock across a group of invoices (issue 12): other
processes wait for it, and the same thread's own stock writes join it instead of waiting
for themselves (a full refund's never-invoiced record within an invoice group)."""

from __future__ import annotations

import threading

import pytest
import sqlalchemy as sa

from kn_zoho.sync.stock import lock
from kn_zoho.sync.stock.lock import StockLockHold, books_stock_lock
from kn_zoho_tests.sync.stock_helpers import stock_lock_free

ORG = "60000000001"


def _free(engine: sa.Engine) -> bool:
    return stock_lock_free(engine, ORG)


def test_a_hold_keeps_the_lock_until_released_and_its_thread_joins_it(
        engine: sa.Engine) -> None:
    hold = StockLockHold(engine, ORG)
    assert _free(engine)
    held = hold.connection()
    assert hold.connection() is held  # taken once for the group
    assert not _free(engine)
    with books_stock_lock(engine, ORG) as joined:  # would wait for itself without the join
        assert joined is held
    assert not _free(engine)  # leaving the joined block does not let go of the hold
    hold.release()
    assert _free(engine)
    hold.release()  # nothing held: nothing to do
    with books_stock_lock(engine, ORG):
        assert not _free(engine)
    assert _free(engine)


def test_another_thread_waits_for_the_hold(engine: sa.Engine) -> None:
    hold = StockLockHold(engine, ORG)
    hold.connection()
    entered = threading.Event()

    def other() -> None:
        with books_stock_lock(engine, ORG):
            entered.set()

    thread = threading.Thread(target=other)
    thread.start()
    try:
        assert not entered.wait(0.5)
    finally:
        hold.release()
    thread.join(10)
    assert entered.is_set()


def test_a_lock_taken_by_the_helper_thread_is_still_the_owners_to_join(
        engine: sa.Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    """The hold's first write runs on its helper thread, which takes the lock there; the
    owner's own stock write (a never-invoiced record) joins it instead of waiting for it
    (without the join it would wait out the lock timeout, shortened here, and fail)."""
    monkeypatch.setattr(lock, "LOCK_TIMEOUT_MS", 2000)
    hold = StockLockHold(engine, ORG)
    written = hold.in_background(
        lambda conn: (threading.current_thread().name, conn.execute(sa.text(
            "SELECT pg_backend_pid()")).scalar_one()))
    with books_stock_lock(engine, ORG) as joined:
        assert joined.execute(sa.text("SELECT pg_backend_pid()")).scalar_one() == \
            written.result()[1]
    assert written.result()[0] == lock.STOCK_LOCK_HELPER
    assert not _free(engine)
    hold.release()
    assert _free(engine)
    with pytest.raises(RuntimeError, match="another hold"):  # one hold per owner thread
        first, second = StockLockHold(engine, ORG), StockLockHold(engine, ORG)
        first.connection()
        try:
            second.connection()
        finally:
            first.release()
    assert _free(engine)
