"""CRM's API credits in the sandbox: 1 a call, 1 per 10 records written, refused past the
window's credits, a remaining-credits header once half is used, credits back as the window
rolls."""

from __future__ import annotations

from kn_zoho.sandbox import SandboxConfig
from kn_zoho_tests.sandbox.conftest import make_sandbox


def _contacts(n: int, start: int = 0) -> dict:
    return {"data": [{"Last_Name": f"Rao {i}", "Email": f"c{i}@example.in"}
                     for i in range(start, start + n)]}


def test_writes_cost_a_credit_per_ten_records_and_a_call_past_the_credits_is_refused() -> None:
    sandbox = make_sandbox(SandboxConfig(crm_credits=30, crm_credit_window_seconds=100))
    first = sandbox.crm("POST", "Contacts/upsert", json=_contacts(100))  # 10 credits
    assert first.status_code == 200 and "X-API-CREDITS-REMAINING" not in first.headers
    second = sandbox.crm("POST", "Contacts/upsert", json=_contacts(91, 100))  # 10 more
    assert second.headers["X-API-CREDITS-REMAINING"] == "10"  # half used: Zoho says so
    read = sandbox.crm("GET", "Contacts/search", params={"email": "c1@example.in"})
    assert read.headers["X-API-CREDITS-REMAINING"] == "9"  # a read costs 1

    refused = sandbox.crm("POST", "Contacts/upsert", json=_contacts(100, 300))  # 10 > 9 left
    assert refused.status_code == 429
    assert refused.json()["code"] == "TOO_MANY_REQUESTS"
    assert "X-API-CREDITS-REMAINING" not in refused.headers  # undocumented: not relied on
    stored = sandbox.client.get("/__sandbox/records/crm_contacts").json()
    assert len(stored) == 191  # the refused call wrote nothing

    assert sandbox.crm("POST", "Contacts/upsert", json=_contacts(90, 300)).status_code == 200
    assert sandbox.crm("GET", "Contacts/search",
                       params={"email": "c1@example.in"}).status_code == 429

    sandbox.clock.advance(100)  # the first calls leave the rolling window
    again = sandbox.crm("POST", "Contacts/upsert", json=_contacts(100, 300))
    assert again.status_code == 200
    assert "X-API-CREDITS-REMAINING" not in again.headers  # 10 of 30 used: under half


def test_default_credits_are_the_standard_editions_base() -> None:
    assert SandboxConfig().crm_credits == 50_000
    assert SandboxConfig(minute_seconds=0.01).crm_credit_window == 14.4  # a scaled day
