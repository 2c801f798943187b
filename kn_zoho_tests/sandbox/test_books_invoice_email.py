"""Books' invoice create with ``send=true``: sent at creation, stock moved, one email in the
sandbox's outbox; refused (nothing stored) when no contact person has an email."""

from __future__ import annotations

from kn_zoho_tests.sandbox.conftest import Sandbox
from kn_zoho_tests.sandbox.test_books import invoice
from kn_zoho_tests.sandbox.test_books_invoices import stock_of


def _outbox(sandbox: Sandbox) -> list[dict]:
    return sandbox.client.get("/__sandbox/records/books_emails").json()


def test_send_true_creates_the_invoice_sent_moves_stock_and_emails_it_once(
        sandbox: Sandbox) -> None:
    customer = sandbox.customer(email="asha@example.in")
    item = sandbox.item(stock=20)
    body = {"customer_id": customer["contact_id"], "invoice_number": "KN-1",
            "line_items": [{"item_id": item["item_id"], "quantity": 3}]}
    created = invoice(sandbox, body, send="true", ignore_auto_number_generation="true")
    assert (created.status_code, created.json()["invoice"]["status"]) == (201, "sent")
    assert stock_of(sandbox, item) == (17.0, 17.0)
    invoice_id = created.json()["invoice"]["invoice_id"]
    [email] = _outbox(sandbox)
    assert (email["invoice_id"], email["invoice_number"], email["to"]) == (
        invoice_id, "KN-1", ["asha@example.in"])
    # the same number again is refused: no second invoice, no second email, stock moved once
    again = invoice(sandbox, body, send="true", ignore_auto_number_generation="true")
    assert (again.status_code, again.json()["code"]) == (400, 1001)
    # marking the sent invoice sent changes nothing and emails nobody
    sandbox.books("POST", f"invoices/{invoice_id}/status/sent")
    assert len(_outbox(sandbox)) == 1 and stock_of(sandbox, item) == (17.0, 17.0)
    # without send (or send=false) the invoice is a draft, and nothing is emailed
    for params in ({}, {"send": "false"}):
        draft = invoice(sandbox, {**body, "invoice_number": None}, **params)
        assert draft.json()["invoice"]["status"] == "draft"
    assert len(_outbox(sandbox)) == 1 and stock_of(sandbox, item) == (17.0, 17.0)


def test_send_true_without_any_contact_email_is_refused_and_stores_nothing(
        sandbox: Sandbox) -> None:
    customer = sandbox.customer()  # no contact person, so no email
    item = sandbox.item(stock=20)
    body = {"customer_id": customer["contact_id"],
            "line_items": [{"item_id": item["item_id"], "quantity": 3}]}
    refused = invoice(sandbox, body, send="true")
    assert (refused.status_code, refused.json()["code"]) == (400, 4)
    assert "no contact person" in refused.json()["message"]
    assert "email" in refused.json()["message"]
    assert sandbox.books("GET", "invoices").json()["invoices"] == []
    assert _outbox(sandbox) == [] and stock_of(sandbox, item) == (20.0, 20.0)


def test_send_takes_only_true_or_false(sandbox: Sandbox) -> None:
    customer = sandbox.customer(email="asha@example.in")
    body = {"customer_id": customer["contact_id"],
            "line_items": [{"name": "Seeds", "rate": 10, "quantity": 1}]}
    wrong = invoice(sandbox, body, send="yes")
    assert (wrong.status_code, wrong.json()["code"]) == (400, 2)
    assert "send" in wrong.json()["message"]
    assert sandbox.books("GET", "invoices").json()["invoices"] == []
    assert invoice(sandbox, body, send="TRUE").json()["invoice"]["status"] == "sent"
