"""Zoho ids written back onto storefront rows lock those rows in id order, so a storefront
transaction that updates several of them in id order (as a scan of the primary key does)
waits for the write-back instead of deadlocking with it."""

from __future__ import annotations

import threading
import time

import sqlalchemy as sa

from kn_zoho.storefront.seed import seed
from kn_zoho.storefront.zoho_ids import store_ids


def test_a_write_back_and_a_storefront_update_of_the_same_rows_never_deadlock(
        engine: sa.Engine) -> None:
    seed(engine, users=2, products=0, orders=0, quote_requests=0, inquiries=0)
    with engine.connect() as conn:
        low, high = conn.execute(sa.text("SELECT id FROM public.users ORDER BY id")).scalars()
    for user_id in (high, low):  # the newest row versions lie in this order: high first
        with engine.begin() as conn:
            conn.execute(sa.text("UPDATE public.users SET full_name = full_name WHERE id = :id"),
                         {"id": user_id})
    written: list[object] = []

    def write_back() -> None:
        try:
            # the higher id first in the table, in the batch and so in the scan of either
            with engine.begin() as conn:
                store_ids(conn, "users", "zoho_books_id", {high: "b-high", low: "b-low"})
            written.append("done")
        except sa.exc.OperationalError as error:
            written.append(error)

    touch = sa.text("UPDATE public.users SET full_name = full_name || '.' WHERE id = :id")
    with engine.connect() as storefront:
        with storefront.begin():
            storefront.execute(sa.text("SET LOCAL lock_timeout = '5s'"))
            storefront.execute(touch, {"id": low})
            writing = threading.Thread(target=write_back)
            writing.start()
            time.sleep(0.5)  # the write-back waits now, for the row the storefront holds
            storefront.execute(touch, {"id": high})
        writing.join(timeout=30)
    assert written == ["done"]
    with engine.connect() as conn:
        assert dict(conn.execute(sa.text("SELECT id, zoho_books_id FROM public.users")).all()) \
            == {low: "b-low", high: "b-high"}
