"""CRM sync against the sandbox over real HTTP, on real PostgreSQL."""

from __future__ import annotations

import threading

import pytest
import sqlalchemy as sa

from kn_zoho.mapping.crm import CrmFieldConfig
from kn_zoho.storefront import queue
from kn_zoho.storefront.seed import seed
from kn_zoho.sync.crm import ContactsFlow, LeadsFlow
from kn_zoho.sync.runner import run_flow
from kn_zoho.sync.service import crm_flows, run_flows, summary


def _flows(zoho_clients: object) -> list:
    return crm_flows(zoho_clients)


def _scalar(engine: sa.Engine, sql: str) -> object:
    with engine.connect() as conn:
        return conn.execute(sa.text(sql)).scalar()


def test_first_sync_creates_everything_in_batches_and_second_sends_nothing(
        engine: sa.Engine, sandbox, zoho_clients) -> None:
    seed(engine, users=250, products=5, orders=0, inquiries=40, quote_requests=15)
    reports = run_flows(engine, _flows(zoho_clients), retry_base=0)
    result = summary(engine, reports)
    assert (result["synced"], result["failed"], result["pending"]) == (305, 0, 0)
    assert len(sandbox.records("crm_contacts")) == 250
    assert len(sandbox.records("crm_leads")) == 55
    assert _scalar(engine, "SELECT count(*) FROM users WHERE zoho_crm_id IS NULL") == 0
    assert _scalar(engine, "SELECT count(*) FROM contact_submissions "
                           "WHERE zoho_crm_lead_id IS NULL") == 0
    # ceil(250/100) contact upserts + ceil(55/100) lead upserts
    assert sandbox.write_calls("/crm/v8/") == 3 + 1

    second = summary(engine, run_flows(engine, _flows(zoho_clients), retry_base=0))
    assert second["api_calls"] == 0
    assert sandbox.write_calls("/crm/v8/") == 4


def test_profile_edit_updates_the_same_contact_even_when_email_changes(
        engine: sa.Engine, sandbox, zoho_clients) -> None:
    seed(engine, users=3, products=1, orders=0, inquiries=0, quote_requests=0)
    run_flows(engine, _flows(zoho_clients), retry_base=0)
    with engine.begin() as conn:
        user_id, contact_id = conn.execute(sa.text(
            "UPDATE users SET email = 'renamed@example.in', full_name = 'Asha Rao' "
            "WHERE id = (SELECT min(id::text)::uuid FROM users) RETURNING id, zoho_crm_id")).one()
    report = run_flow(engine, ContactsFlow(zoho_clients.crm, CrmFieldConfig()), retry_base=0)
    assert [(r.record_key, r.status, r.operation) for r in report.results] == [
        (str(user_id), "synced", "update")]
    contacts = sandbox.records("crm_contacts")
    assert len(contacts) == 3
    [renamed] = [c for c in contacts if c["id"] == contact_id]
    assert (renamed["Email"], renamed["First_Name"], renamed["Last_Name"]) == (
        "renamed@example.in", "Asha", "Rao")


def test_unchanged_payload_is_not_sent_again(engine: sa.Engine, sandbox, zoho_clients) -> None:
    seed(engine, users=2, products=1, orders=0, inquiries=0, quote_requests=0)
    run_flows(engine, _flows(zoho_clients), retry_base=0)
    with engine.begin() as conn:  # captured change that the CRM payload does not carry
        conn.execute(sa.text("UPDATE users SET shipping_state = 'TN'"))
    report = run_flow(engine, ContactsFlow(zoho_clients.crm, CrmFieldConfig()), retry_base=0)
    assert {r.operation for r in report.results} == {"unchanged"}
    assert report.api_calls == 1  # the run's field check (GET settings/fields), no write
    assert sandbox.write_calls("/crm/v8/Contacts") == 1


def test_bad_records_fail_permanently_with_field_and_do_not_stop_the_batch(
        engine: sa.Engine, sandbox, zoho_clients) -> None:
    seed(engine, users=20, products=1, orders=0, inquiries=0, quote_requests=0)
    with engine.begin() as conn:
        bad_gstin = conn.execute(sa.text(
            "UPDATE users SET gstin = '29ABCDE1234F1Z0' WHERE id = "
            "(SELECT id FROM users ORDER BY id LIMIT 1) RETURNING id")).scalar()
        bad_email = conn.execute(sa.text(
            "UPDATE users SET email = 'not-an-email' WHERE id = "
            "(SELECT id FROM users ORDER BY id DESC LIMIT 1) RETURNING id")).scalar()
    report = run_flow(engine, ContactsFlow(zoho_clients.crm, CrmFieldConfig()), retry_base=0)
    failed = {r.record_key: r for r in report.results if r.status == "failed"}
    assert set(failed) == {str(bad_gstin), str(bad_email)}
    assert "gstin" in failed[str(bad_gstin)].error_message
    assert "email" in failed[str(bad_email)].error_message
    assert report.count("synced") == 18
    assert len(sandbox.records("crm_contacts")) == 18
    # not retried: nothing is due, and another run sends nothing
    assert queue.due_records(engine, "crm_contact") == []
    # the admin fixes the data: the edit re-enqueues it and it syncs
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE users SET gstin = NULL WHERE id = :id"), {"id": bad_gstin})
    again = run_flow(engine, ContactsFlow(zoho_clients.crm, CrmFieldConfig()), retry_base=0)
    assert [(r.record_key, r.status) for r in again.results] == [(str(bad_gstin), "synced")]


def test_faults_and_lost_replies_converge_without_duplicates(
        engine: sa.Engine, sandbox, zoho_clients) -> None:
    seed(engine, users=300, products=2, orders=0, inquiries=60, quote_requests=20)
    sandbox.faults(error_rate=0.1, lost_response_rate=0.05)
    for _ in range(12):
        result = summary(engine, run_flows(engine, _flows(zoho_clients), retry_base=0))
        if result["pending"] == 0:
            break
    sandbox.faults(error_rate=0, lost_response_rate=0)
    assert result["pending"] == 0
    assert result["queue_dead"] == 0, result
    contacts = sandbox.records("crm_contacts")
    leads = sandbox.records("crm_leads")
    assert len(contacts) == 300
    assert len({c["Email"] for c in contacts}) == 300
    assert len(leads) == 80
    assert _scalar(engine, "SELECT count(*) FROM users WHERE zoho_crm_id IS NULL") == 0


def test_overlapping_runs_never_double_send(engine: sa.Engine, sandbox, zoho_clients) -> None:
    seed(engine, users=400, products=1, orders=0, inquiries=0, quote_requests=0)
    sandbox.faults(latency_ms=20)
    reports = []

    def work() -> None:
        reports.append(run_flow(engine, ContactsFlow(zoho_clients.crm, CrmFieldConfig()),
                                batch_size=50, retry_base=0))

    threads = [threading.Thread(target=work) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    keys = [r.record_key for report in reports for r in report.results]
    assert len(keys) == len(set(keys)) == 400
    assert sandbox.write_calls("/crm/v8/Contacts") == 8
    assert len(sandbox.records("crm_contacts")) == 400


def test_killed_run_resumes_without_loss_or_duplicates(engine: sa.Engine, sandbox,
                                                       unpaced_crm_clients,
                                                       monkeypatch) -> None:
    """Zoho stored the batch, then the run died before recording it: the lease expires and the
    next run upserts the same Contacts again (matched on Email), creating nothing new."""
    seed(engine, users=150, products=1, orders=0, inquiries=0, quote_requests=0)
    flow = ContactsFlow(unpaced_crm_clients.crm, CrmFieldConfig())

    def die(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt("run killed")

    monkeypatch.setattr(queue, "finish_many", die)
    with pytest.raises(KeyboardInterrupt):
        run_flow(engine, flow, retry_base=0)
    monkeypatch.undo()
    assert len(sandbox.records("crm_contacts")) == 100  # first batch reached Zoho
    with engine.begin() as conn:  # the killed run's lease runs out
        conn.execute(sa.text("UPDATE integration.zoho_sync_queue SET claimed_until = now() "
                             "- interval '1 second' WHERE status = 'in_progress'"))
    report = run_flow(engine, flow, retry_base=0)
    assert report.count("synced") == 150
    contacts = sandbox.records("crm_contacts")
    assert len(contacts) == len({c["Email"] for c in contacts}) == 150


def test_leads_from_one_person_stay_separate_and_retries_do_not_duplicate(
        engine: sa.Engine, sandbox, zoho_clients) -> None:
    with engine.begin() as conn:
        for subject in ("Dosage", "Bulk pricing"):
            conn.execute(sa.text(
                "INSERT INTO contact_submissions (name, email, subject, message) "
                "VALUES ('Ravi Kumar', 'ravi@example.in', :s, 'Please call')"), {"s": subject})
    flow = LeadsFlow(zoho_clients.crm)
    flow.preflight()  # the run's field check, before the replies get lost
    sandbox.faults(lost_response_rate=1.0)
    first = run_flow(engine, flow, retry_base=0)
    assert {r.status for r in first.results} == {"pending"}
    sandbox.faults(lost_response_rate=0)
    second = run_flow(engine, LeadsFlow(zoho_clients.crm), retry_base=0)
    assert {r.status for r in second.results} == {"synced"}
    assert len(sandbox.records("crm_leads")) == 2
