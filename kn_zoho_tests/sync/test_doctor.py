"""`kn-zoho doctor` against the sandbox: passes on the demo org, names each problem."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from cryptography.fernet import Fernet

from kn_zoho.mapping.crm import CrmFieldConfig
from kn_zoho.sandbox import credentials
from kn_zoho.storefront.seed import seed
from kn_zoho.sync.doctor import format_table, run_doctor
from kn_zoho.sync.doctor_cli import doctor_command


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, database_url: str, sandbox) -> None:
    for name, value in {"ZOHO_ACCOUNTS_URL": sandbox.base_url,
                        "ZOHO_CLIENT_ID": credentials.DEMO_CLIENT_ID,
                        "ZOHO_CLIENT_SECRET": credentials.DEMO_CLIENT_SECRET,
                        "ZOHO_REFRESH_TOKEN": credentials.DEMO_REFRESH_TOKEN,
                        "ZOHO_BOOKS_ORGANIZATION_ID": credentials.DEMO_ORGANIZATION_ID,
                        "KN_ZOHO_SECRET_KEY": Fernet.generate_key().decode(),
                        "KN_ZOHO_DATABASE_URL": database_url}.items():
        monkeypatch.setenv(name, value)
    for name in ("KN_ZOHO_BOOKS_ORGANIZATION_STATE", "KN_ZOHO_CRM_LEAD_REFERENCE_FIELD",
                 "KN_ZOHO_BOOKS_REFUND_ACCOUNT_ID",
                 "KN_ZOHO_CRM_CONTACT_KEY_FIELD", "KN_ZOHO_CRM_GSTIN_FIELD",
                 "KN_ZOHO_CRM_CONTACT_COMPANY_FIELD"):
        monkeypatch.delenv(name, raising=False)


def _doctor() -> tuple[int, str]:
    result = CliRunner().invoke(doctor_command, [])
    return result.exit_code, result.output


def test_demo_sandbox_passes(env: None, engine: sa.Engine, sandbox) -> None:
    seed(engine, users=2, products=10, orders=0, inquiries=0, quote_requests=0)
    code, output = _doctor()
    assert code == 0, output
    assert "FAIL" not in output
    for words in ("works for KN Sandbox Admin", "KN_User_ID (unique)", "KN_Reference (unique)",
                  "60012345678", "Karnataka (KA)", "GST 18%",
                  "refunds paid from the only bank account, Gateway settlement account"):
        assert words in output
    assert sandbox.write_calls("/crm/") + sandbox.write_calls("/books/") == 0  # reads only


def test_renamed_reference_field_fails_naming_it(env: None, sandbox) -> None:
    sandbox.post("/__sandbox/crm/fields", {"module": "Leads", "api_name": "KN_Reference",
                                           "rename_to": "KN_Ref"})
    code, output = _doctor()
    assert code == 1
    [line] = [line for line in output.splitlines() if line.startswith("FAIL")]
    assert "Leads.KN_Reference" in line and "does not exist" in line
    assert "KN_ZOHO_CRM_LEAD_REFERENCE_FIELD" in line


def test_each_problem_is_its_own_line(env: None, engine: sa.Engine, sandbox,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    seed(engine, users=1, products=2, orders=0, inquiries=0, quote_requests=0)
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE products SET gst_rate = 7 WHERE id = "
                             "(SELECT min(id::text)::uuid FROM products)"))
    sandbox.post("/__sandbox/crm/fields", {"module": "Contacts", "api_name": "KN_User_ID",
                                           "unique": False})
    sandbox.post("/__sandbox/crm/fields", {"module": "Contacts", "api_name": "GSTIN",
                                           "data_type": "integer"})
    monkeypatch.setenv("KN_ZOHO_BOOKS_ORGANIZATION_STATE", "TN")
    code, output = _doctor()
    assert code == 1
    failures = [line for line in output.splitlines() if line.startswith("FAIL")]
    assert len(failures) == 4, output
    text = "\n".join(failures)
    assert "Contacts.KN_User_ID" in text and "is not unique" in text
    assert "Contacts.GSTIN" in text and "is of type 'integer'" in text
    assert "KN_ZOHO_BOOKS_ORGANIZATION_STATE is TN" in text
    assert "GST 7%" in text


def test_wrong_organization_and_bad_token(engine: sa.Engine, zoho_clients, sandbox) -> None:
    from dataclasses import replace

    from kn_zoho.zoho.books import BooksClient

    wrong_books = BooksClient(zoho_clients.http, "60099999999")
    checks = run_doctor(engine, replace(zoho_clients, books=wrong_books), CrmFieldConfig(),
                        "KA")
    table = format_table(checks)
    assert "'60099999999' is not one of this token's organizations (60012345678)" in table
    failing = [c for c in checks if not c.ok]
    assert [c.area for c in failing] == ["books", "books taxes", "books refunds"]


def test_a_refund_account_that_is_not_a_bank_account_of_the_org_fails(
        env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KN_ZOHO_BOOKS_REFUND_ACCOUNT_ID", "460000000099999")
    code, output = _doctor()
    assert code == 1
    [line] = [line for line in output.splitlines() if line.startswith("FAIL")]
    assert ("KN_ZOHO_BOOKS_REFUND_ACCOUNT_ID='460000000099999' is not an active bank account "
            "of the organization (Gateway settlement account (460000000077001))") in line
    monkeypatch.setenv("KN_ZOHO_BOOKS_REFUND_ACCOUNT_ID", "460000000077001")
    code, output = _doctor()
    assert code == 0 and "refunds paid from Gateway settlement account (460000000077001)" in output
