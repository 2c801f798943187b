"""Leases that fit the work: a retried run takes its own back, a manual retry takes a dead
run's record or fails naming the live run that holds it, a live run keeps its records."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
import sqlalchemy as sa
from cryptography.fernet import Fernet
from dagster import DagsterInstance, materialize

from kn_zoho.defs.crm.assets import crm_contacts
from kn_zoho.defs.resources import StorefrontDatabase, ZohoCrmResource
from kn_zoho.sandbox import credentials
from kn_zoho.storefront import leases, queue
from kn_zoho.storefront.outcomes import Outcome
from kn_zoho.storefront.seed import seed
from kn_zoho.sync.books import InvoicesFlow
from kn_zoho.sync.runner import run_flow
from kn_zoho_tests.sync.books_fixtures import *  # noqa: F403 - pytest fixtures


def test_a_retried_run_takes_its_own_leases_back(engine: sa.Engine, books_sandbox,
                                                  books_clients) -> None:
    """A Dagster step retried under the same run id finds the records its first try held."""
    seed(engine, users=2, products=2, orders=3, paid_fraction=1.0, quote_requests=0,
         inquiries=0)
    keys = [c.record_key for c in queue.claim(engine, "books_invoice", worker="run-7")]
    assert len(keys) == 3
    other = run_flow(engine, InvoicesFlow(books_clients.books), run_id="run-8", keys=keys)
    assert other.results == []  # held by a live lease: not another run's to take
    again = run_flow(engine, InvoicesFlow(books_clients.books), run_id="run-7", keys=keys)
    assert again.count("synced") == 3


@pytest.fixture
def dagster_resources(database_url: str, sandbox, monkeypatch: pytest.MonkeyPatch) -> dict:
    monkeypatch.setenv("KN_ZOHO_SECRET_KEY", Fernet.generate_key().decode())
    storefront = StorefrontDatabase(database_url=database_url)
    return {"zoho_crm": ZohoCrmResource(
        storefront=storefront, client_id=credentials.DEMO_CLIENT_ID,
        client_secret=credentials.DEMO_CLIENT_SECRET,
        refresh_token=credentials.DEMO_REFRESH_TOKEN, accounts_url=sandbox.base_url,
        attempts_per_call=1, retry_backoff_seconds=0.001)}


def test_manual_retry_of_a_record_held_by_a_live_run_fails_naming_it_and_by_a_dead_run_syncs(
        engine: sa.Engine, dagster_resources: dict, sandbox) -> None:
    seed(engine, users=2, products=1, orders=0, quote_requests=0, inquiries=0)
    with DagsterInstance.ephemeral() as instance:
        with engine.connect() as conn:
            first, second = sorted(conn.execute(sa.text("SELECT id::text FROM users")).scalars())
        instance.add_dynamic_partitions("crm_contacts", [first, second])
        # a finished Dagster run (it synced `second`) ...
        done = materialize([crm_contacts], instance=instance, partition_key=second,
                           resources=dagster_resources)
        assert done.success
        # ... and a live CLI run hold `first` in turn
        queue.claim(engine, "crm_contact", worker="cli-live", keys=[first], force=True)
        held = materialize([crm_contacts], instance=instance, partition_key=first,
                           resources=dagster_resources, raise_on_error=False)
        assert not held.success
        [failure] = [e for e in held.all_events if e.event_type_value == "STEP_FAILURE"]
        message = failure.step_failure_data.error.message
        assert "held by cli run cli-live" in message and "still running" in message

        # the finished Dagster run held it (its lease still live): the retry breaks it
        with engine.begin() as conn:
            conn.execute(sa.text(
                "UPDATE integration.zoho_sync_queue SET claimed_by = :run, "
                "claimed_by_kind = 'dagster' WHERE record_key = :k"),
                {"run": done.run_id, "k": first})
        retried = materialize([crm_contacts], instance=instance, partition_key=first,
                              resources=dagster_resources)
        assert retried.success
        assert queue.status_counts(engine, "crm_contact")["synced"] == 2


def test_a_run_slower_than_its_lease_keeps_its_records(
        engine: sa.Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    """The heartbeat renews the lease while the run lives: another run cannot take them."""
    seed(engine, users=3, products=1, orders=0, quote_requests=0, inquiries=0)
    monkeypatch.setenv("KN_ZOHO_LEASE_SECONDS", "1")
    monkeypatch.setenv("KN_ZOHO_HEARTBEAT_SECONDS", "0.2")
    seen: list[list[str]] = []

    class Slow:
        entity = "crm_contact"

        def attempt(self, engine: sa.Engine, claims, *, force: bool):
            time.sleep(2.5)  # two and a half leases
            seen.append([c.record_key for c in queue.claim(engine, "crm_contact",
                                                           worker="intruder")])
            return {c.record_key: Outcome.success("upsert", "z") for c in claims}

        def write_back(self, conn, done) -> None:
            pass

        def api_calls(self) -> int:
            return 0

    report = run_flow(engine, Slow(), retry_base=0)
    assert report.count("synced") == 3
    assert seen == [[]]


@pytest.mark.slow
def test_a_dropped_connection_fails_the_dagster_step_and_its_retry_finishes_the_work(
        engine: sa.Engine, admin_engine: sa.Engine, dagster_resources: dict, sandbox) -> None:
    """The step fails (not a green run, no record charged), Dagster's retry policy runs it
    again under the same run id, and the retry syncs everything."""
    from kn_zoho_tests.queue.faults import ConnectionKiller, killing

    seed(engine, users=3, products=1, orders=0, quote_requests=0, inquiries=0)
    with engine.connect() as conn:
        keys = sorted(conn.execute(sa.text("SELECT id::text FROM users")).scalars())
    with DagsterInstance.ephemeral() as instance:
        instance.add_dynamic_partitions("crm_contacts", keys)
        # the first reservation is the CRM field check (before any claim), the second the upsert
        with killing(ConnectionKiller(admin_engine, "INSERT INTO integration.zoho_rate_limits",
                                      2)) as killer:
            result = materialize([crm_contacts], instance=instance, partition_key=keys[0],
                                 resources=dagster_resources)
        assert killer.fired and result.success
        events = [e.event_type_value for e in result.all_events]
        assert "STEP_UP_FOR_RETRY" in events and "STEP_RESTARTED" in events
        failure = next(e for e in result.all_events if e.event_type_value == "STEP_UP_FOR_RETRY")
        assert "database connection failed" in failure.event_specific_data.error.to_string()
    with engine.connect() as conn:
        logged = conn.execute(sa.text(
            "SELECT attempt, status, run_id, run_kind FROM integration.zoho_sync_logs "
            "WHERE record_key = :k ORDER BY id"), {"k": keys[0]}).all()
    assert [tuple(r) for r in logged] == [(1, "interrupted", result.run_id, "dagster"),
                                          (1, "success", result.run_id, "dagster")]


def test_renewing_leases_while_outcomes_are_recorded_never_deadlocks(engine: sa.Engine) -> None:
    """Outcomes lock their queue rows in key order; the heartbeat's renewal locks the same
    worker's rows, so it must take them in that order too. Here the higher key comes first
    in the table and in due time (the order of every index the renewal could scan but the
    key's), the recording holds the lower key and then asks for the higher one while the
    renewal runs: in any other order the two would wait on each other (a deadlock, one of
    them failing after deadlock_timeout; the four-overlapping-runs test met it)."""
    seed(engine, users=2, products=0, orders=0, quote_requests=0, inquiries=0)
    low, high = (c.record_key for c in queue.claim(engine, "crm_contact", worker="run-1"))
    for key, due in ((high, "2 minutes"), (low, "1 minute")):  # newest row versions: high first
        with engine.begin() as conn:
            conn.execute(sa.text(
                "UPDATE integration.zoho_sync_queue SET updated_at = now(), "
                "next_attempt_at = now() - CAST(:due AS interval) "
                "WHERE entity = 'crm_contact' AND record_key = :k"), {"k": key, "due": due})
    lock = sa.text("SELECT 1 FROM integration.zoho_sync_queue WHERE entity = 'crm_contact' "
                   "AND record_key = :k FOR UPDATE")
    renewed: list[object] = []
    with engine.connect() as recording:
        with recording.begin():
            recording.execute(sa.text("SET LOCAL lock_timeout = '5s'"))
            recording.execute(lock, {"k": low})
            renewal = threading.Thread(target=lambda: renewed.append(_renew_or_error(engine)))
            renewal.start()
            time.sleep(0.5)  # the renewal is waiting now, for the row the recording holds
            recording.execute(lock, {"k": high})
        renewal.join(timeout=30)
    assert renewed == [2]


def _renew_or_error(engine: sa.Engine) -> object:
    try:
        return leases.renew(engine, "run-1", timedelta(minutes=5))
    except sa.exc.OperationalError as error:
        return error
