"""The /__sandbox admin API: counters, records, faults, reset, Books-side actions, and
persistence."""

from __future__ import annotations

from pathlib import Path

import pytest

from kn_zoho.sandbox import SandboxConfig
from kn_zoho_tests.sandbox.conftest import Sandbox, make_sandbox


def test_stats_count_calls_by_endpoint_but_not_admin_calls(sandbox: Sandbox) -> None:
    token = sandbox.token()
    sandbox.crm("POST", "Contacts/upsert", json={"data": [{"Last_Name": "A"}]})
    record_id = sandbox.state.records("crm_contacts")[0]["id"]
    sandbox.crm("GET", f"Contacts/{record_id}")
    sandbox.books("GET", "invoices/460000000000123")
    sandbox.client.get("/__sandbox/records/crm_contacts")
    stats = sandbox.client.get("/__sandbox/stats").json()
    assert stats["requests_by_endpoint"] == {
        "GET /books/v3/invoices/{id}": 1,
        "GET /crm/v8/Contacts/{id}": 1,
        "POST /crm/v8/Contacts/upsert": 1,
        "POST /oauth/v2/token": 2,
    }
    assert stats["requests_total"] == 5
    assert stats["issued_access_tokens"] == [token, sandbox.default_token]
    assert stats["faults"]["error_rate"] == 0


@pytest.mark.parametrize("kind", ["crm_contacts", "crm_leads", "books_contacts", "books_items",
                                  "books_invoices", "books_estimates", "books_payments",
                                  "books_adjustments"])
def test_every_record_kind_is_listed(sandbox: Sandbox, kind: str) -> None:
    assert sandbox.client.get(f"/__sandbox/records/{kind}").json() == []


def test_unknown_record_kind_is_404(sandbox: Sandbox) -> None:
    reply = sandbox.client.get("/__sandbox/records/crm_deals")
    assert reply.status_code == 404
    assert "books_items" in reply.json()["kinds"]


def test_reset_forgets_records_tokens_counters_and_faults(sandbox: Sandbox) -> None:
    token = sandbox.token()
    sandbox.customer()
    sandbox.client.post("/__sandbox/faults", json={"latency_ms": 5})
    assert sandbox.client.post("/__sandbox/reset").json() == {"reset": True}
    assert sandbox.state.records("books_contacts") == []
    stats = sandbox.client.get("/__sandbox/stats").json()
    assert (stats["requests_total"], stats["faults"]["latency_ms"]) == (0, 0)
    assert sandbox.books("GET", "items", token=token).status_code == 401


def test_error_rate_fails_calls_without_doing_them(sandbox: Sandbox) -> None:
    token = sandbox.default_token
    sandbox.client.post("/__sandbox/faults", json={"error_rate": 1})
    crm = sandbox.crm("POST", "Contacts", json={"data": [{"Last_Name": "A"}]}, token=token)
    assert (crm.status_code, crm.json()["code"]) == (500, "INTERNAL_ERROR")
    books = sandbox.books("POST", "contacts", json={"contact_name": "A"}, token=token)
    assert (books.status_code, books.json()) == (500, {"code": 1000,
                                                       "message": "Internal error"})
    assert "access_token" in sandbox.refresh().json()  # OAuth is never faulted
    assert sandbox.state.records("crm_contacts") == []
    assert sandbox.state.records("books_contacts") == []
    assert sandbox.client.get("/__sandbox/stats").json()["faults_injected"] == 2


def test_a_lost_response_still_stores_the_write(sandbox: Sandbox) -> None:
    token = sandbox.default_token
    sandbox.client.post("/__sandbox/faults", json={"lost_response_rate": 1})
    reply = sandbox.crm("POST", "Contacts/upsert", token=token,
                        json={"data": [{"Last_Name": "Kept", "Email": "kept@x.in"}]})
    assert reply.status_code == 502
    assert "Bad Gateway" in reply.text
    assert [r["Last_Name"] for r in sandbox.state.records("crm_contacts")] == ["Kept"]
    sandbox.client.post("/__sandbox/faults", json={"lost_response_rate": 0})
    retried = sandbox.crm("POST", "Contacts/upsert", token=token,
                          json={"data": [{"Last_Name": "Kept", "Email": "kept@x.in"}]})
    assert retried.json()["data"][0]["action"] == "update"


def test_faults_are_drawn_from_the_seeded_rng() -> None:
    def outcomes() -> list[int]:
        sandbox = make_sandbox(SandboxConfig(seed=7))
        token = sandbox.default_token
        sandbox.client.post("/__sandbox/faults", json={"error_rate": 0.5})
        return [sandbox.crm("GET", "Contacts/1", token=token).status_code for _ in range(20)]

    first = outcomes()
    assert first == outcomes()
    assert {204, 500} == set(first)


def test_fault_settings_are_checked(sandbox: Sandbox) -> None:
    for body in ({"error_rate": 2}, {"latency_ms": -1}, {"flakiness": 0.1},
                 {"error_rate": "often"}):
        assert sandbox.client.post("/__sandbox/faults", json=body).status_code == 400
    assert sandbox.client.post("/__sandbox/faults", content=b"[1]").status_code == 400


def test_offline_sale_invoices_the_walk_in_customer_and_lowers_stock(sandbox: Sandbox) -> None:
    sandbox.item("SEED-9", rate=118, stock=20)
    reply = sandbox.client.post("/__sandbox/books/offline-sale",
                                json={"sku": "SEED-9", "quantity": 3})
    assert reply.status_code == 201
    sold = reply.json()["invoice"]
    assert (sold["customer_name"], sold["total"], sold["tax_total"]) == (
        "Walk-in Customer", 354.0, 54.0)
    item = sandbox.state.records("books_items")[0]
    assert (item["stock_on_hand"], item["available_stock"]) == (17.0, 17.0)
    again = sandbox.client.post("/__sandbox/books/offline-sale", json={"sku": "SEED-9"})
    assert again.json()["invoice"]["customer_id"] == sold["customer_id"]
    missing = sandbox.client.post("/__sandbox/books/offline-sale", json={"sku": "NOPE"})
    assert missing.status_code == 404
    assert sandbox.client.get("/__sandbox/stats").json()["requests_by_endpoint"].get(
        "POST /__sandbox/books/offline-sale") is None


def test_adjust_stock_records_an_inventory_adjustment(sandbox: Sandbox) -> None:
    sandbox.item("SEED-9", stock=20)
    reply = sandbox.client.post("/__sandbox/books/adjust-stock", json={
        "sku": "SEED-9", "quantity_adjusted": 5, "reason": "Recount"})
    assert reply.status_code == 201
    assert reply.json()["inventory_adjustment"]["reason"] == "Recount"
    assert sandbox.state.records("books_items")[0]["stock_on_hand"] == 25.0
    bad = sandbox.client.post("/__sandbox/books/adjust-stock", json={"sku": "SEED-9"})
    assert (bad.status_code, bad.json()["code"]) == (400, 4)



def test_credit_note_returns_stock_and_void_returns_a_sent_invoices_stock(
        sandbox: Sandbox) -> None:
    sandbox.item("SEED-9", rate=118, stock=20)
    note = sandbox.client.post("/__sandbox/books/credit-note",
                               json={"sku": "SEED-9", "quantity": 2})
    assert note.status_code == 201 and note.json()["creditnote"]["status"] == "open"
    assert sandbox.state.records("books_items")[0]["stock_on_hand"] == 22.0
    assert len(sandbox.state.records("books_creditnotes")) == 1
    for bad in ({"sku": "SEED-9", "quantity": 0}, {"sku": "SEED-9", "quantity": 1.5}):
        assert sandbox.client.post("/__sandbox/books/credit-note", json=bad).status_code == 400

    sale = sandbox.client.post("/__sandbox/books/offline-sale",
                               json={"sku": "SEED-9", "quantity": 5}).json()["invoice"]
    assert sandbox.state.records("books_items")[0]["stock_on_hand"] == 17.0
    for _ in range(2):  # voiding twice returns the stock once
        voided = sandbox.client.post("/__sandbox/books/void-invoice",
                                     json={"invoice_id": sale["invoice_id"]})
        assert voided.status_code == 200 and voided.json()["invoice"]["status"] == "void"
    assert sandbox.state.records("books_items")[0]["stock_on_hand"] == 22.0
    assert sandbox.client.post("/__sandbox/books/void-invoice",
                               json={"invoice_id": "1"}).status_code == 404

def test_state_file_round_trip(tmp_path: Path) -> None:
    config = SandboxConfig(state_file=tmp_path / "zoho.json")
    first = make_sandbox(config)
    token = first.default_token
    first.customer()
    first.crm("POST", "Contacts/upsert", json={"data": [{"Last_Name": "A", "Email": "a@x.in"}]})

    second = make_sandbox(config)
    assert second.state.records("books_contacts") == first.state.records("books_contacts")
    assert second.state.records("crm_contacts") == first.state.records("crm_contacts")
    assert second.books("GET", "contacts", token=token).status_code == 200  # token survives
    new_customer = second.customer("Next")
    assert new_customer["contact_id"] != first.state.records("books_contacts")[0]["contact_id"]
    assert second.token() != token

    second.client.post("/__sandbox/reset")
    assert make_sandbox(config).state.records("books_contacts") == []


def test_same_seed_same_ids_other_seed_other_ids() -> None:
    def first_contact_id(seed: int) -> str:
        return make_sandbox(SandboxConfig(seed=seed)).customer()["contact_id"]

    assert first_contact_id(3) == first_contact_id(3)
    assert first_contact_id(3) != first_contact_id(4)
