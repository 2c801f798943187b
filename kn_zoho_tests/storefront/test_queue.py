"""Change capture and the durable queue: nothing lost, nothing taken twice, backoff, dead."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
import sqlalchemy as sa

from kn_zoho.storefront import queue
from kn_zoho.storefront.claims import Claim
from kn_zoho.storefront.outcomes import Outcome
from kn_zoho.storefront.seed import seed


def _insert_user(conn: sa.Connection, email: str) -> str:
    return str(conn.execute(sa.text(
        "INSERT INTO public.users (email, full_name) VALUES (:e, 'Test User') RETURNING id"),
        {"e": email}).scalar())


def _queue_row(engine: sa.Engine, entity: str, key: str) -> sa.Row:
    with engine.connect() as conn:
        return conn.execute(sa.text(
            "SELECT * FROM integration.zoho_sync_queue WHERE entity = :e AND record_key = :k"),
            {"e": entity, "k": key}).one()


def _finish(engine: sa.Engine, claim: Claim, outcome: Outcome, **kw: object) -> str:
    with engine.begin() as conn:
        return queue.finish(conn, claim, outcome, worker="w1", retry_base_seconds=0, **kw)


def test_transaction_committing_after_a_later_one_is_still_captured(engine: sa.Engine) -> None:
    early = engine.connect()
    early_tx = early.begin()
    early_id = _insert_user(early, "early@example.in")  # starts first, commits last
    with engine.begin() as late:
        late_id = _insert_user(late, "late@example.in")

    first = queue.claim(engine, "crm_contact", worker="w1")
    assert [c.record_key for c in first] == [late_id]
    early_tx.commit()
    early.close()
    second = queue.claim(engine, "crm_contact", worker="w1")
    assert [c.record_key for c in second] == [early_id]


def test_two_workers_never_take_the_same_record(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        for n in range(200):
            _insert_user(conn, f"user{n}@example.in")
    taken: dict[str, list[str]] = {}

    def work(name: str) -> None:
        keys: list[str] = []
        while batch := queue.claim(engine, "crm_contact", worker=name, limit=7):
            keys += [c.record_key for c in batch]
        taken[name] = keys

    threads = [threading.Thread(target=work, args=(f"w{i}",)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    all_keys = [k for keys in taken.values() for k in keys]
    assert len(all_keys) == 200
    assert len(set(all_keys)) == 200


def test_zoho_id_write_back_does_not_reenqueue_but_profile_edit_does(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        user_id = _insert_user(conn, "a@example.in")
    [claim] = queue.claim(engine, "crm_contact", worker="w1")
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE public.users SET zoho_crm_id = 'z1' WHERE id = :id"),
                     {"id": user_id})
        queue.finish(conn, claim, Outcome.success("upsert", "z1", "h1"), worker="w1")
    assert _queue_row(engine, "crm_contact", user_id).status == "synced"
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE public.users SET full_name = 'New Name' WHERE id = :id"),
                     {"id": user_id})
    row = _queue_row(engine, "crm_contact", user_id)
    assert (row.status, row.change_version, row.zoho_id) == ("pending", 2, "z1")


def test_change_during_sync_resyncs_the_new_version(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        user_id = _insert_user(conn, "b@example.in")
    [claim] = queue.claim(engine, "crm_contact", worker="w1")
    with engine.begin() as conn:  # edited while the worker talks to Zoho
        conn.execute(sa.text("UPDATE public.users SET phone = '9876543210' WHERE id = :id"),
                     {"id": user_id})
    assert _finish(engine, claim, Outcome.success("upsert", "z1", "h1")) == "pending"
    [again] = queue.claim(engine, "crm_contact", worker="w1")
    assert (again.version, again.attempt) == (2, 1)


def test_transient_failures_back_off_then_dead_after_five(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        user_id = _insert_user(conn, "c@example.in")
    statuses = []
    for attempt in range(1, 6):
        [claim] = queue.claim(engine, "crm_contact", worker="w1")
        assert claim.attempt == attempt
        statuses.append(_finish(engine, claim, Outcome.failure(
            "upsert", "TOO_MANY_REQUESTS", "slow down", transient=True)))
    assert statuses == ["pending"] * 4 + ["dead"]
    assert queue.claim(engine, "crm_contact", worker="w1") == []
    with engine.connect() as conn:
        logged = conn.execute(sa.text(
            "SELECT attempt, status FROM integration.zoho_sync_logs WHERE record_key = :k "
            "ORDER BY id"), {"k": user_id}).all()
    assert [tuple(r) for r in logged] == [(1, "pending"), (2, "pending"), (3, "pending"),
                                          (4, "pending"), (5, "dead")]


def test_backoff_is_exponential() -> None:
    delays = [queue.backoff_delay(n, 60).total_seconds() for n in range(1, 5)]
    assert delays == [60, 120, 240, 480]


def test_backoff_delays_the_next_claim(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        _insert_user(conn, "d@example.in")
    [claim] = queue.claim(engine, "crm_contact", worker="w1")
    with engine.begin() as conn:
        queue.finish(conn, claim, Outcome.failure("upsert", "500", "boom", transient=True),
                     worker="w1", retry_base_seconds=3600)
    assert queue.claim(engine, "crm_contact", worker="w1") == []
    assert queue.due_records(engine, "crm_contact") == []


def test_permanent_failure_is_not_retried_until_forced(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        user_id = _insert_user(conn, "e@example.in")
    [claim] = queue.claim(engine, "crm_contact", worker="w1")
    assert _finish(engine, claim, Outcome.failure(
        "map", "INVALID_DATA", "user e: field 'gstin': bad checksum", transient=False)
    ) == "failed"
    assert queue.claim(engine, "crm_contact", worker="w1") == []
    [forced] = queue.claim(engine, "crm_contact", worker="admin", keys=[user_id], force=True)
    assert forced.attempt == 1


def test_killed_run_lease_expires_and_record_is_due_again(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        user_id = _insert_user(conn, "f@example.in")
    queue.claim(engine, "crm_contact", worker="killed", lease=timedelta(seconds=-1))
    assert [r.record_key for r in queue.due_records(engine, "crm_contact")] == [user_id]
    [again] = queue.claim(engine, "crm_contact", worker="w2")
    assert again.record_key == user_id


def test_forced_claim_needs_keys(engine: sa.Engine) -> None:
    with pytest.raises(ValueError, match="must name its records"):
        queue.claim(engine, "crm_contact", worker="w", force=True)


def test_business_events_enqueue_the_right_entities(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        user_id = _insert_user(conn, "g@example.in")
        conn.execute(sa.text(
            "INSERT INTO public.products (sku, name, price, stock_quantity) "
            "VALUES ('KNB-1', 'Bio NPK', 100, 10)"))
        conn.execute(sa.text(
            "INSERT INTO public.orders (order_number, user_id, shipping_state) "
            "VALUES ('KN-1', :u, 'KA')"), {"u": user_id})
        conn.execute(sa.text(
            "INSERT INTO public.b2b_quotes (quote_number, user_id) VALUES ('QT-1', :u)"),
            {"u": user_id})
        conn.execute(sa.text(
            "INSERT INTO public.contact_submissions (name, email) VALUES ('X', 'x@example.in')"))
    counts_before = queue.status_counts(engine, "books_invoice")["pending"]
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE public.orders SET payment_status = 'paid'"))
        conn.execute(sa.text("UPDATE public.b2b_quotes SET status = 'approved'"))
        conn.execute(sa.text("SET LOCAL kn_zoho.change_source = 'zoho'"))
        conn.execute(sa.text("UPDATE public.products SET stock_quantity = 7"))
    with engine.connect() as conn:
        entities = sorted(tuple(r) for r in conn.execute(sa.text(
            "SELECT entity, record_key FROM integration.zoho_sync_queue WHERE entity <> "
            "'crm_contact' OR record_key = :u"), {"u": user_id}))
        movements = [tuple(r) for r in conn.execute(sa.text(
            "SELECT sku, delta, quantity_after, source FROM integration.stock_movements "
            "ORDER BY id"))]
    assert counts_before == 0
    assert [e for e, _ in entities] == ["books_estimate", "books_invoice", "books_item",
                                        "crm_contact", "crm_lead", "crm_lead"]
    assert movements == [("KNB-1", 10, 10, "storefront"), ("KNB-1", -3, 7, "zoho")]


def test_excluded_records_are_not_claimed_or_left_leased(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        first = _insert_user(conn, "h@example.in")
        second = _insert_user(conn, "i@example.in")
    taken = queue.claim(engine, "crm_contact", worker="w1", exclude=[first])
    assert [c.record_key for c in taken] == [second]
    assert _queue_row(engine, "crm_contact", first).status == "pending"


def test_a_claim_never_waits_for_a_lost_record_another_transaction_holds(
        engine: sa.Engine) -> None:
    """Dead-lettering a record whose worker died on its last attempt skips a row another
    transaction holds (its run, alive after all, recording it): waiting there, in scan order,
    could close a lock cycle with that recording. The next claim dead-letters it if it is
    still lost."""
    seed(engine, users=2, products=0, orders=0, quote_requests=0, inquiries=0)
    with engine.begin() as conn:
        lost, other = conn.execute(sa.text(
            "SELECT record_key FROM integration.zoho_sync_queue WHERE entity = 'crm_contact' "
            "ORDER BY record_key")).scalars()
        conn.execute(sa.text(
            "UPDATE integration.zoho_sync_queue SET status = 'in_progress', attempts = 5, "
            "claimed_by = 'run-gone', claimed_until = now() - interval '1 minute' "
            "WHERE entity = 'crm_contact' AND record_key = :k"), {"k": lost})
    status = sa.text("SELECT status FROM integration.zoho_sync_queue "
                     "WHERE entity = 'crm_contact' AND record_key = :k")
    with engine.connect() as holder, holder.begin():
        holder.execute(sa.text("SELECT 1 FROM integration.zoho_sync_queue WHERE "
                               "entity = 'crm_contact' AND record_key = :k FOR UPDATE"),
                       {"k": lost})
        with engine.connect() as conn, conn.begin():
            conn.execute(sa.text("SET LOCAL lock_timeout = '2s'"))
            claims = queue.claim(conn, "crm_contact", worker="run-new")
        assert [c.record_key for c in claims] == [other]
        with engine.connect() as conn:
            assert conn.execute(status, {"k": lost}).scalar_one() == "in_progress"
    assert queue.claim(engine, "crm_contact", worker="run-next") == []
    with engine.connect() as conn:
        assert conn.execute(status, {"k": lost}).scalar_one() == "dead"
