"""Books credit notes and their refunds in the sandbox, as Books documents them: numbering,
crediting a posted invoice (never beyond it), opening returns inventory lines' stock only,
refunds within the balance from a bank account."""

from __future__ import annotations

from typing import Any

from kn_zoho.sandbox.books.credit_notes import BANK_ACCOUNT
from kn_zoho_tests.sandbox.conftest import Sandbox


def _sold(sandbox: Sandbox, quantity: int = 3) -> tuple[dict[str, Any], dict[str, Any]]:
    """A sent invoice for ``quantity`` units of a 100-rupee item, and the item."""
    customer = sandbox.customer()
    item = sandbox.item(stock=50)
    reply = sandbox.books("POST", "invoices", json={
        "customer_id": customer["contact_id"], "place_of_supply": "KA",
        "is_inclusive_tax": True,
        "line_items": [{"item_id": item["item_id"], "quantity": quantity}]})
    invoice = reply.json()["invoice"]
    sandbox.books("POST", f"invoices/{invoice['invoice_id']}/status/sent")
    return invoice, item


def _note(sandbox: Sandbox, invoice: dict[str, Any], lines: list[dict[str, Any]],
          number: str = "RF-2026-000001") -> Any:
    return sandbox.books("POST", "creditnotes", params={
        "invoice_id": invoice["invoice_id"], "ignore_auto_number_generation": "true"}, json={
        "customer_id": invoice["customer_id"], "creditnote_number": number,
        "reference_number": "KN-1", "place_of_supply": "KA", "is_inclusive_tax": True,
        "line_items": lines})


def _stock(sandbox: Sandbox, item: dict[str, Any]) -> float:
    return sandbox.books("GET", f"items/{item['item_id']}").json()["item"]["stock_on_hand"]


def test_a_credit_note_credits_its_invoice_and_returns_only_item_lines_when_open(
        sandbox: Sandbox) -> None:
    invoice, item = _sold(sandbox)
    reply = _note(sandbox, invoice, [
        {"item_id": item["item_id"], "quantity": 1},
        {"name": "Kept by the customer", "hsn_or_sac": "12099190", "rate": 100, "quantity": 1,
         "tax_id": sandbox.tax_id("GST18")}])
    assert reply.status_code == 201, reply.text
    note = reply.json()["creditnote"]
    assert (note["status"], note["invoice_id"], note["total"], note["balance"]) == (
        "draft", invoice["invoice_id"], 200.0, 200.0)
    assert {tax["tax_name"] for tax in note["taxes"]} == {"CGST9", "SGST9"}
    assert _stock(sandbox, item) == 47.0  # a draft returns nothing
    for _ in range(2):  # opening twice returns the stock once
        opened = sandbox.books("POST", f"creditnotes/{note['creditnote_id']}/status/open")
        assert opened.status_code == 200
    assert _stock(sandbox, item) == 48.0  # the item line only
    found = sandbox.books("GET", "creditnotes",
                          params={"creditnote_number": "RF-2026-000001"}).json()
    assert [n["creditnote_id"] for n in found["creditnotes"]] == [note["creditnote_id"]]


def test_numbers_are_unique_and_no_invoice_is_credited_beyond_its_total(
        sandbox: Sandbox) -> None:
    invoice, item = _sold(sandbox, quantity=2)
    line = [{"item_id": item["item_id"], "quantity": 1}]
    assert _note(sandbox, invoice, line).status_code == 201
    again = _note(sandbox, invoice, line)
    assert (again.status_code, again.json()["code"]) == (400, 12018)
    assert _note(sandbox, invoice, line, "RF-2026-000002").status_code == 201
    beyond = _note(sandbox, invoice, line, "RF-2026-000003")
    assert beyond.status_code == 400 and "exceeds" in beyond.json()["message"]
    assert len(sandbox.books("GET", "creditnotes").json()["creditnotes"]) == 2


def test_a_draft_invoice_or_another_place_of_supply_cannot_be_credited(
        sandbox: Sandbox) -> None:
    invoice, item = _sold(sandbox)
    draft = sandbox.books("POST", "invoices", json={
        "customer_id": invoice["customer_id"],
        "line_items": [{"item_id": item["item_id"], "quantity": 1}]}).json()["invoice"]
    refused = _note(sandbox, draft, [{"item_id": item["item_id"], "quantity": 1}])
    assert (refused.status_code, refused.json()["code"]) == (400, 12005)
    elsewhere = sandbox.books("POST", "creditnotes", params={
        "invoice_id": invoice["invoice_id"]}, json={
        "customer_id": invoice["customer_id"], "place_of_supply": "TN",
        "line_items": [{"item_id": item["item_id"], "quantity": 1}]})
    assert elsewhere.status_code == 400
    assert sandbox.books("GET", "creditnotes").json()["creditnotes"] == []


def test_refunds_need_an_open_note_a_bank_account_and_stay_within_the_balance(
        sandbox: Sandbox) -> None:
    invoice, item = _sold(sandbox)
    note = _note(sandbox, invoice, [{"item_id": item["item_id"], "quantity": 1}]
                 ).json()["creditnote"]
    path = f"creditnotes/{note['creditnote_id']}/refunds"
    refund = {"date": "2026-11-21", "amount": 100, "refund_mode": "banktransfer",
              "reference_number": "rfnd_1", "from_account_id": BANK_ACCOUNT["account_id"]}
    assert sandbox.books("POST", path, json=refund).status_code == 400  # still a draft
    sandbox.books("POST", f"creditnotes/{note['creditnote_id']}/status/open")
    no_account = sandbox.books("POST", path, json={**refund, "from_account_id": None})
    assert no_account.status_code == 400
    too_much = sandbox.books("POST", path, json={**refund, "amount": 100.01})
    assert too_much.status_code == 400 and "exceeds" in too_much.json()["message"]
    done = sandbox.books("POST", path, json=refund)
    assert done.status_code == 201, done.text
    assert done.json()["creditnote_refund"]["reference_number"] == "rfnd_1"
    after = sandbox.books("GET", f"creditnotes/{note['creditnote_id']}").json()["creditnote"]
    assert (after["status"], after["balance"]) == ("closed", 0.0)
    assert sandbox.books("POST", path, json=refund).status_code == 400
    listed = sandbox.books("GET", path).json()["creditnote_refunds"]
    assert [r["reference_number"] for r in listed] == ["rfnd_1"]
