"""What an operator sees and can do: a pass that ends under a steady stream of changes, the
summary counting leased records with their holder, `kn-zoho queue list` and `release`."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from kn_zoho.cli import main
from kn_zoho.mapping.crm import CrmFieldConfig
from kn_zoho.storefront import queue
from kn_zoho.storefront.outcomes import Outcome
from kn_zoho.storefront.seed import seed
from kn_zoho.sync.crm import ContactsFlow
from kn_zoho.sync.runner import run_flow
from kn_zoho.sync.service import summary


def test_a_pass_ends_under_a_steady_stream_of_changes(engine: sa.Engine, sandbox,
                                                      zoho_clients) -> None:
    """New users keep registering while `sync` runs: the pass takes what was due when it
    started and ends; the newcomers wait for the next pass."""
    seed(engine, users=20, products=1, orders=0, quote_requests=0, inquiries=0)
    producing = threading.Event()
    producing.set()

    def register() -> None:
        n = 0
        deadline = time.monotonic() + 20
        while producing.is_set() and time.monotonic() < deadline:
            with engine.begin() as conn:
                conn.execute(sa.text("INSERT INTO public.users (email, full_name) "
                                     "VALUES (:e, 'New User')"), {"e": f"new{n}@example.in"})
            n += 1
            time.sleep(0.005)
        producing.clear()

    producer = threading.Thread(target=register)
    producer.start()
    time.sleep(0.2)
    try:
        report = run_flow(engine, ContactsFlow(zoho_clients.crm, CrmFieldConfig()),
                          batch_size=5, retry_base=0)
        ended_while_producing = producing.is_set()
    finally:
        producing.clear()
        producer.join()
    assert ended_while_producing, "the pass only ended when the changes stopped"
    assert report.count("synced") >= 20


def test_summary_counts_records_a_live_run_holds_separately(engine: sa.Engine) -> None:
    seed(engine, users=3, products=1, orders=0, quote_requests=0, inquiries=0)
    queue.claim(engine, "crm_contact", worker="cli-other", limit=2, kind="cli")
    queue.claim(engine, "crm_contact", worker="cli-gone", limit=1, kind="cli",
                lease=timedelta(seconds=-1))
    from kn_zoho.sync.reports import SyncReport

    result = summary(engine, [SyncReport("crm_contact")])
    assert (result["pending"], result["leased"]) == (1, 2)  # an expired lease is pending
    assert result["leased_by"] == {"cli cli-other": 2}


@pytest.fixture
def cli(database_url: str):
    def invoke(*args: str):
        return CliRunner().invoke(main, ["queue", *args, "--database-url", database_url])
    return invoke


def test_queue_list_shows_holders_and_release_refuses_a_live_one(engine: sa.Engine,
                                                                  cli) -> None:
    seed(engine, users=3, products=1, orders=0, quote_requests=0, inquiries=0)
    [live] = queue.claim(engine, "crm_contact", worker="cli-live", limit=1, kind="cli")
    [gone] = queue.claim(engine, "crm_contact", worker="run-gone", limit=1, kind="dagster",
                         lease=timedelta(seconds=-1))
    [bad] = queue.claim(engine, "crm_contact", worker="w", limit=1,
                        exclude=[live.record_key, gone.record_key])
    with engine.begin() as conn:
        queue.finish(conn, bad, Outcome.failure(
            "map", "INVALID_DATA", "user x: field 'gstin': bad checksum", transient=False),
            worker="w")

    listed = cli("list")
    assert listed.exit_code == 0, listed.output
    lines = {line.split()[1]: line for line in listed.output.splitlines()[1:]}
    assert "cli run cli-live" in lines[live.record_key]
    assert "expired" in lines[gone.record_key] and "dagster run run-gone" in lines[gone.record_key]
    assert "INVALID_DATA: user x: field 'gstin'" in lines[bad.record_key]
    assert cli("list", "--status", "failed").output.count("\n") == 2

    refused = cli("release", "cli-live")
    assert refused.exit_code != 0 and "cli-live holds 1 records with a live lease" in refused.output
    assert cli("release", "run-gone").output.strip() == "released 1 records held by run run-gone"
    assert cli("release", "cli-live", "--force").exit_code == 0
    assert queue.status_counts(engine, "crm_contact")["in_progress"] == 0
