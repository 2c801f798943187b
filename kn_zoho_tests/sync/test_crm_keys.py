"""CRM keys that never change, and the field check that stops a flow on a wrong layout."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from kn_zoho.mapping.crm import CrmFieldConfig
from kn_zoho.storefront import queue
from kn_zoho.storefront.seed import seed
from kn_zoho.sync.crm import ContactsFlow, LeadsFlow
from kn_zoho.sync.crm_fields import CrmSetupError, check_fields
from kn_zoho.sync.runner import run_flow
from kn_zoho.sync.service import FlowsStopped, crm_flows, run_flows, summary

USERS = 20


def _change_every_email(engine: sa.Engine) -> dict[str, str]:
    with engine.begin() as conn:
        rows = conn.execute(sa.text(
            "UPDATE users SET email = 'new-' || email RETURNING id::text, email")).all()
    return dict(rows)


def _expire_leases(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE integration.zoho_sync_queue SET claimed_until = now() "
                             "- interval '1 second' WHERE status = 'in_progress'"))


def _assert_one_contact_per_user_with(sandbox, emails: dict[str, str]) -> None:
    contacts = sandbox.records("crm_contacts")
    assert len(contacts) == len(emails)
    assert {c["KN_User_ID"]: c["Email"] for c in contacts} == emails


def test_email_change_after_a_kill_between_zohos_store_and_our_write(
        engine: sa.Engine, sandbox, unpaced_crm_clients, monkeypatch) -> None:
    """Zoho stored the Contacts, the run died before recording their ids, then every user
    changed their email: the next run finds each Contact by the user id, not the email."""
    seed(engine, users=USERS, products=1, orders=0, inquiries=0, quote_requests=0)
    flow = ContactsFlow(unpaced_crm_clients.crm, CrmFieldConfig())

    def die(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt("run killed")

    monkeypatch.setattr(queue, "finish_many", die)
    with pytest.raises(KeyboardInterrupt):
        run_flow(engine, flow, retry_base=0)
    monkeypatch.undo()
    assert len(sandbox.records("crm_contacts")) == USERS
    emails = _change_every_email(engine)
    _expire_leases(engine)
    report = run_flow(engine, ContactsFlow(unpaced_crm_clients.crm, CrmFieldConfig()), retry_base=0)
    assert report.count("synced") == USERS
    _assert_one_contact_per_user_with(sandbox, emails)


def test_email_change_after_four_lost_replies(engine: sa.Engine, sandbox, zoho_clients) -> None:
    seed(engine, users=USERS, products=1, orders=0, inquiries=0, quote_requests=0)
    flow = ContactsFlow(zoho_clients.crm, CrmFieldConfig())
    flow.preflight()
    sandbox.faults(lost_response_rate=1.0)  # every try of the call stores, then loses the reply
    first = run_flow(engine, flow, retry_base=0)
    sandbox.faults(lost_response_rate=0)
    assert {r.status for r in first.results} == {"pending"}
    assert sandbox.stats()["faults_injected"] == 4  # the call and its three retries
    emails = _change_every_email(engine)
    second = run_flow(engine, ContactsFlow(zoho_clients.crm, CrmFieldConfig()), retry_base=0)
    assert {r.status for r in second.results} == {"synced"}
    _assert_one_contact_per_user_with(sandbox, emails)


def test_contacts_made_before_the_key_existed_are_adopted_by_email(
        engine: sa.Engine, sandbox, zoho_clients) -> None:
    """A Contact created by the old Email upsert whose id we never recorded gets the key."""
    seed(engine, users=3, products=1, orders=0, inquiries=0, quote_requests=0)
    with engine.connect() as conn:
        users = conn.execute(sa.text("SELECT id::text, email FROM users ORDER BY id")).all()
    legacy = [{"Last_Name": "Legacy", "Email": email.upper()} for _, email in users]
    zoho_clients.crm.upsert("Contacts", legacy, ("Email",))
    run_flow(engine, ContactsFlow(zoho_clients.crm, CrmFieldConfig()), retry_base=0)
    contacts = sandbox.records("crm_contacts")
    assert sorted(c["KN_User_ID"] for c in contacts) == sorted(uid for uid, _ in users)


def _rename(sandbox, module: str, api_name: str, **change: object) -> None:
    sandbox.post("/__sandbox/crm/fields", {"module": module, "api_name": api_name, **change})


def test_default_layout_takes_every_field_we_send(engine: sa.Engine, sandbox,
                                                  zoho_clients) -> None:
    assert check_fields(zoho_clients.crm, CrmFieldConfig()) == []
    seed(engine, users=30, products=2, orders=0, inquiries=5, quote_requests=5)
    run_flows(engine, crm_flows(zoho_clients), retry_base=0)
    names = {"Contacts": set(), "Leads": set()}
    for module, kind in (("Contacts", "crm_contacts"), ("Leads", "crm_leads")):
        layout = {f["api_name"] for f in zoho_clients.crm.fields(module)}
        for record in sandbox.records(kind):
            names[module] |= set(record)
        assert names[module] <= layout | {"id"}, names[module] - layout
    assert {"KN_User_ID", "GSTIN", "Company_Name"} <= names["Contacts"]
    assert "KN_Reference" in names["Leads"]


def test_renamed_reference_field_stops_lead_sync_and_duplicates_nothing(
        engine: sa.Engine, sandbox, zoho_clients) -> None:
    seed(engine, users=5, products=1, orders=0, inquiries=4, quote_requests=2)
    _rename(sandbox, "Leads", "KN_Reference", rename_to="KN_Ref")
    with pytest.raises(FlowsStopped) as stopped:
        run_flows(engine, crm_flows(zoho_clients), retry_base=0)
    assert [e.module for e in stopped.value.errors] == ["Leads"]
    message = str(stopped.value)
    assert "Leads.KN_Reference" in message and "does not exist" in message
    assert "KN_ZOHO_CRM_LEAD_REFERENCE_FIELD" in message
    contacts, leads = stopped.value.reports
    assert (contacts.entity, contacts.count("synced")) == ("crm_contact", 5)  # still ran
    assert (leads.entity, leads.results) == ("crm_lead", [])
    assert summary(engine, stopped.value.reports)["pending"] == 6
    assert sandbox.records("crm_leads") == []
    counts = queue.status_counts(engine, "crm_lead")
    assert (counts["pending"], counts["failed"], counts["dead"]) == (6, 0, 0)
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT max(attempts) FROM integration.zoho_sync_queue "
                                    "WHERE entity = 'crm_lead'")).scalar() == 0
    # the admin fixes the field (or the setting): the next run syncs every lead once
    _rename(sandbox, "Leads", "KN_Ref", rename_to="KN_Reference")
    report = run_flow(engine, LeadsFlow(zoho_clients.crm), retry_base=0)
    assert report.count("synced") == 6
    assert len(sandbox.records("crm_leads")) == 6


@pytest.mark.parametrize(("change", "words"), [
    ({"unique": False}, "is not unique"),
    ({"remove": True}, "does not exist"),
    ({"data_type": "textarea"}, "is of type 'textarea'"),
])
def test_contacts_key_field_must_exist_be_text_and_unique(
        engine: sa.Engine, sandbox, zoho_clients, change: dict, words: str) -> None:
    seed(engine, users=3, products=1, orders=0, inquiries=0, quote_requests=0)
    _rename(sandbox, "Contacts", "KN_User_ID", **change)
    with pytest.raises(CrmSetupError, match=words):
        run_flow(engine, ContactsFlow(zoho_clients.crm, CrmFieldConfig()), retry_base=0)
    assert sandbox.records("crm_contacts") == []
    assert queue.status_counts(engine, "crm_contact")["pending"] == 3


def test_field_check_runs_once_per_run(engine: sa.Engine, sandbox, zoho_clients) -> None:
    seed(engine, users=250, products=1, orders=0, inquiries=0, quote_requests=0)
    run_flow(engine, ContactsFlow(zoho_clients.crm, CrmFieldConfig()), retry_base=0)
    endpoints = sandbox.stats()["requests_by_endpoint"]
    assert endpoints["GET /crm/v8/settings/fields"] == 1
    assert endpoints["POST /crm/v8/Contacts/upsert"] == 3


def test_two_users_whose_emails_differ_only_in_case_get_two_contacts(
        engine: sa.Engine, sandbox, zoho_clients) -> None:
    """Zoho's Email match ignores case, the storefront's unique email does not: the second
    user must not take over the first user's Contact through an Email match."""
    seed(engine, users=2, products=1, orders=0, inquiries=0, quote_requests=0)
    with engine.begin() as conn:
        ids = [str(r[0]) for r in conn.execute(sa.text("SELECT id FROM users ORDER BY id"))]
        conn.execute(sa.text("UPDATE users SET email = 'Ravi@example.in' WHERE id = :id"),
                     {"id": ids[0]})
        conn.execute(sa.text("UPDATE users SET email = 'ravi@example.in' WHERE id = :id"),
                     {"id": ids[1]})
    report = run_flow(engine, ContactsFlow(zoho_clients.crm, CrmFieldConfig()), retry_base=0)
    assert report.count("synced") == 2
    _assert_one_contact_per_user_with(sandbox, {ids[0]: "Ravi@example.in",
                                                ids[1]: "ravi@example.in"})
