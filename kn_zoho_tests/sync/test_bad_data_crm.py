"""Awkward storefront data on its way to Zoho CRM, against the sandbox on real PostgreSQL:
emails that differ only in letter case never merge two accounts into one Contact; phone
numbers with letters are left out (and said so), never turned into keypad digits."""

from __future__ import annotations

import json
import logging

import pytest
import sqlalchemy as sa

from kn_zoho.mapping.crm import CrmFieldConfig
from kn_zoho.storefront import queue
from kn_zoho.sync.crm import ContactsFlow, LeadsFlow
from kn_zoho.sync.runner import run_flow

# (the account that registered first, its case twin)
EMAIL_TWINS = [
    ("Asha.Rao@example.in", "asha.rao@example.in"),
    ("RAVI.KUMAR@KISAN.IN", "ravi.kumar@kisan.in"),
    ("meena.k@agro.co.in", "Meena.K@agro.co.in"),
]


def _insert_user(engine: sa.Engine, email: str, name: str, **columns: object) -> str:
    names = ", ".join(["email", "full_name", *columns])
    values = ", ".join([":email", ":name", *(f":{c}" for c in columns)])
    with engine.begin() as conn:
        return str(conn.execute(sa.text(
            f"INSERT INTO users ({names}) VALUES ({values}) RETURNING id"),
            {"email": email, "name": name, **columns}).scalar())


def _contacts(sandbox: object) -> dict[str, str]:
    """CRM contact id -> its stored record as canonical JSON (byte-for-byte comparison)."""
    return {c["id"]: json.dumps(c, sort_keys=True) for c in sandbox.records("crm_contacts")}


def _contacts_flow(zoho_clients: object) -> ContactsFlow:
    return ContactsFlow(zoho_clients.crm, CrmFieldConfig())


@pytest.mark.parametrize(("first", "twin"), EMAIL_TWINS)
def test_email_case_twin_gets_its_own_contact_and_the_first_one_stays_untouched(
        engine: sa.Engine, sandbox, zoho_clients, first: str, twin: str) -> None:
    """Two storefront accounts are two Contacts (matched on the user-id key alone, see
    sync/crm.py); the first account's Contact is never overwritten."""
    owner = _insert_user(engine, first, "Asha Rao", phone="9845012345")
    run_flow(engine, _contacts_flow(zoho_clients), retry_base=0)
    before = _contacts(sandbox)

    other = _insert_user(engine, twin, "Another Person", phone="9000000001")
    report = run_flow(engine, _contacts_flow(zoho_clients), retry_base=0)

    assert [(r.record_key, r.status) for r in report.results] == [(other, "synced")]
    after = _contacts(sandbox)
    assert len(after) == 2 and all(after[key] == value for key, value in before.items())
    with engine.connect() as conn:
        ids = dict(conn.execute(sa.text("SELECT id::text, zoho_crm_id FROM users")).all())
    assert ids[owner] != ids[other]


@pytest.mark.parametrize("phone", ["98450ABCDE", "98450-KISAN", "+91 98450 KISAN"])
def test_phone_with_letters_is_left_out_of_the_contact_and_said_so(
        engine: sa.Engine, sandbox, zoho_clients, phone: str,
        caplog: pytest.LogCaptureFixture) -> None:
    user_id = _insert_user(engine, "farmer@example.in", "Lakshmi Devi", phone=phone)
    with caplog.at_level(logging.WARNING, logger="kn_zoho.sync.crm"):
        report = run_flow(engine, _contacts_flow(zoho_clients), retry_base=0)
    [result] = report.results
    assert (result.record_key, result.status) == (user_id, "synced")
    [contact] = sandbox.records("crm_contacts")
    assert contact.get("Phone") is None  # never keypad digits such as 9845054726
    assert f"Phone as entered: {phone}" in contact["Description"]
    warning = result.metadata["warnings"]
    assert f"field 'phone': '{phone}' contains letters" in warning
    assert warning in caplog.text


def test_inquiry_with_a_lettered_phone_still_becomes_a_lead(
        engine: sa.Engine, sandbox, zoho_clients) -> None:
    with engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO contact_submissions (name, email, phone, message) "
                             "VALUES ('Gopal', 'gopal@example.in', '98450-KISAN', 'Price?')"))
    report = run_flow(engine, LeadsFlow(zoho_clients.crm), retry_base=0)
    assert [r.status for r in report.results] == ["synced"]
    [lead] = sandbox.records("crm_leads")
    assert lead.get("Phone") is None and "98450-KISAN" in lead["Description"]
    assert queue.due_records(engine, "crm_lead") == []


@pytest.mark.parametrize(("user_sql", "quote_sql", "line_sql", "flag"), [
    ("gstin = '29ABCDE1234F1Z0'", "", "", "field 'gstin'"),
    ("", "shipping_state = 'Karnataka'", "", "field 'shipping_state': 'Karnataka'"),
    ("", "", "discount = -25", "line 1: field 'discount': -25.00 is negative"),
])
def test_quote_request_with_books_only_problems_still_reaches_sales_as_a_lead(
        engine: sa.Engine, sandbox, zoho_clients, user_sql: str, quote_sql: str,
        line_sql: str, flag: str) -> None:
    user = _insert_user(engine, "buyer@agro.in", "Suresh Patil")
    with engine.begin() as conn:
        product = conn.execute(sa.text(
            "INSERT INTO products (sku, name, hsn_code, price) VALUES ('KNB-1', 'Neem oil', "
            "'3808', 118) RETURNING id")).scalar()
        quote = conn.execute(sa.text(
            "INSERT INTO b2b_quotes (quote_number, user_id, shipping_state, grand_total) "
            "VALUES ('Q-9', :u, 'KA', 118) RETURNING id"), {"u": user}).scalar()
        conn.execute(sa.text(
            "INSERT INTO b2b_quote_items (quote_id, product_id, quantity, unit_price, gst_rate, "
            "line_total) VALUES (:q, :p, 1, 118, 18, 118)"), {"q": quote, "p": product})
        for table, sql in (("users", user_sql), ("b2b_quotes", quote_sql),
                           ("b2b_quote_items", line_sql)):
            if sql:
                conn.execute(sa.text(f"UPDATE {table} SET {sql}"))
    report = run_flow(engine, LeadsFlow(zoho_clients.crm), retry_base=0)
    [result] = report.results
    assert (result.record_key, result.status) == ("quote-Q-9", "synced")
    assert flag in result.metadata["warnings"]
    [lead] = sandbox.records("crm_leads")
    assert lead["Email"] == "buyer@agro.in" and flag in lead["Description"]


@pytest.mark.parametrize(("first", "twin"), [("Q-77", "q-77"), ("QT/2026/5", "qt/2026/5"),
                                            ("B2B-Q1", "b2b-q1")])
def test_quote_number_case_twin_never_overwrites_the_other_requests_lead(
        engine: sa.Engine, sandbox, zoho_clients, first: str, twin: str) -> None:
    user = _insert_user(engine, "buyer@agro.in", "Suresh Patil")

    def request(number: str) -> None:
        with engine.begin() as conn:
            conn.execute(sa.text("INSERT INTO b2b_quotes (quote_number, user_id, notes) "
                                 "VALUES (:n, :u, :notes)"),
                         {"n": number, "u": user, "notes": f"request {number}"})

    request(first)
    run_flow(engine, LeadsFlow(zoho_clients.crm), retry_base=0)
    before = {lead["id"]: json.dumps(lead, sort_keys=True)
              for lead in sandbox.records("crm_leads")}

    request(twin)
    [result] = run_flow(engine, LeadsFlow(zoho_clients.crm), retry_base=0).results
    assert (result.record_key, result.status) == (f"quote-{twin}", "failed")
    assert f"quote {twin}: field 'quote_number': '{twin}' differs only in letter case" in (
        result.error_message)
    assert {lead["id"]: json.dumps(lead, sort_keys=True)
            for lead in sandbox.records("crm_leads")} == before

    # the admin renumbers the second request: its Lead is made under the new number
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE b2b_quotes SET quote_number = :new WHERE quote_number = "
                             ":old"), {"new": f"{twin}-2", "old": twin})
    results = {r.record_key: r for r in run_flow(engine, LeadsFlow(zoho_clients.crm),
                                                 retry_base=0).results}
    assert {key: (r.status, r.operation) for key, r in results.items()} == {
        f"quote-{twin}": ("synced", "superseded"),
        f"quote-{twin}-2": ("synced", "upsert:insert")}
    leads = {lead["id"]: json.dumps(lead, sort_keys=True) for lead in sandbox.records("crm_leads")}
    assert len(leads) == 2 and all(leads[key] == value for key, value in before.items())
