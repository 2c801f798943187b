"""Books v3 invoices and payments: GST totals, stock moved by sent invoices, numbering,
validation, payments, listing."""

from __future__ import annotations

import pytest

from kn_zoho_tests.sandbox.conftest import Sandbox
from kn_zoho_tests.sandbox.test_books import invoice


def test_exclusive_intra_state_invoice_totals(sandbox: Sandbox) -> None:
    customer = sandbox.customer()  # in KA, the organization's state
    item = sandbox.item("SEED-1", rate=100, stock=50)
    reply = invoice(sandbox, {
        "customer_id": customer["contact_id"], "shipping_charge": 40,
        "line_items": [
            {"item_id": item["item_id"], "quantity": 3, "discount": "10%"},
            {"name": "Packing", "rate": 99.99, "quantity": 1, "discount": 5,
             "tax_id": sandbox.tax_id("GST5")},
        ]})
    assert (reply.status_code, reply.json()["message"]) == (201, "The invoice has been created.")
    body = reply.json()["invoice"]
    first, second = body["line_items"]
    assert (first["item_total"], first["discount_amount"], first["tax_name"]) == (
        270.0, 30.0, "GST18")
    assert [t["tax_amount"] for t in first["line_item_taxes"]] == [24.3, 24.3]
    assert second["item_total"] == 94.99
    assert [t["tax_amount"] for t in second["line_item_taxes"]] == [2.38, 2.37]
    assert body["taxes"] == [
        {"tax_name": "CGST9", "tax_amount": 24.3}, {"tax_name": "SGST9", "tax_amount": 24.3},
        {"tax_name": "CGST2.5", "tax_amount": 2.38}, {"tax_name": "SGST2.5", "tax_amount": 2.37}]
    assert (body["sub_total"], body["tax_total"], body["shipping_charge"], body["total"],
            body["balance"]) == (364.99, 53.35, 40.0, 458.34, 458.34)
    assert (body["invoice_number"], body["status"], body["place_of_supply"]) == (
        "INV-000001", "draft", "KA")
    sent = sandbox.books("POST", f"invoices/{body['invoice_id']}/status/sent")
    assert sent.json() == {"code": 0, "message": "Invoice status has been changed to Sent."}
    assert sandbox.books("GET", f"invoices/{body['invoice_id']}").json()["invoice"][
        "status"] == "sent"


def test_inclusive_inter_state_invoice_totals(sandbox: Sandbox) -> None:
    customer = sandbox.customer(place_of_contact="TS")
    reply = invoice(sandbox, {
        "customer_id": customer["contact_id"], "is_inclusive_tax": True,
        "shipping_charge": 60, "line_items": [
            {"name": "Seeds", "rate": 118, "quantity": 2, "discount": "12.5%",
             "tax_id": sandbox.tax_id("IGST18")},
            {"name": "Tray", "rate": 105, "quantity": 1, "tax_id": sandbox.tax_id("IGST5")},
            {"name": "Pots", "rate": 33.33, "quantity": 3, "discount": 1,
             "tax_id": sandbox.tax_id("IGST12")},
        ]})
    body = reply.json()["invoice"]
    assert [line["item_total"] for line in body["line_items"]] == [206.5, 105.0, 98.99]
    assert body["taxes"] == [{"tax_name": "IGST18", "tax_amount": 31.5},
                             {"tax_name": "IGST5", "tax_amount": 5.0},
                             {"tax_name": "IGST12", "tax_amount": 10.61}]
    assert (body["sub_total"], body["tax_total"], body["total"]) == (410.49, 47.11, 470.49)


def test_lines_without_tax_id_take_the_items_preference_for_the_supply(
        sandbox: Sandbox) -> None:
    item = sandbox.item()
    local = sandbox.customer("Local")
    remote = sandbox.customer("Remote", place_of_contact="TS")
    line = {"item_id": item["item_id"], "quantity": 1}
    intra = invoice(sandbox, {"customer_id": local["contact_id"], "line_items": [line]})
    assert intra.json()["invoice"]["line_items"][0]["tax_name"] == "GST18"
    inter = invoice(sandbox, {"customer_id": remote["contact_id"], "line_items": [line]})
    assert inter.json()["invoice"]["line_items"][0]["tax_name"] == "IGST18"
    wrong = invoice(sandbox, {"customer_id": remote["contact_id"], "line_items": [
        {**line, "tax_id": sandbox.tax_id("GST18")}]})
    assert (wrong.status_code, wrong.json()["code"]) == (400, 2)
    assert "IGST" in wrong.json()["message"]


def stock_of(sandbox: Sandbox, item: dict) -> tuple[float, float]:
    got = sandbox.books("GET", f"items/{item['item_id']}").json()["item"]
    return got["stock_on_hand"], got["available_stock"]


def test_sent_invoices_lower_stock_drafts_and_estimates_do_not(sandbox: Sandbox) -> None:
    customer = sandbox.customer()
    item = sandbox.item(stock=50)
    lines = [{"item_id": item["item_id"], "quantity": 3},
             {"item_id": item["item_id"], "quantity": 2}]
    draft = invoice(sandbox, {"customer_id": customer["contact_id"], "line_items": lines})
    assert (draft.status_code, draft.json()["invoice"]["status"]) == (201, "draft")
    assert stock_of(sandbox, item) == (50.0, 50.0)  # a draft is no posted sale
    invoice_id = draft.json()["invoice"]["invoice_id"]
    for _ in range(2):  # marking sent twice moves stock once
        sent = sandbox.books("POST", f"invoices/{invoice_id}/status/sent")
        assert (sent.status_code, sent.json()) == (200, {
            "code": 0, "message": "Invoice status has been changed to Sent."})
    assert stock_of(sandbox, item) == (45.0, 45.0)
    assert sandbox.books("GET", f"invoices/{invoice_id}").json()["invoice"]["status"] == "sent"
    estimate = sandbox.books("POST", "estimates", json={
        "customer_id": customer["contact_id"], "reference_number": "Q-7", "line_items": lines})
    assert (estimate.status_code, estimate.json()["message"]) == (
        201, "The estimate has been created.")
    assert estimate.json()["estimate"]["estimate_number"] == "EST-000001"
    assert stock_of(sandbox, item) == (45.0, 45.0)
    found = sandbox.books("GET", "estimates", params={"reference_number": "Q-7"}).json()
    assert len(found["estimates"]) == 1


def test_voiding_returns_a_sent_invoices_stock_once(sandbox: Sandbox) -> None:
    customer = sandbox.customer()
    item = sandbox.item(stock=10)
    body = {"customer_id": customer["contact_id"],
            "line_items": [{"item_id": item["item_id"], "quantity": 4}]}
    sent_id = invoice(sandbox, body).json()["invoice"]["invoice_id"]
    sandbox.books("POST", f"invoices/{sent_id}/status/sent")
    draft_id = invoice(sandbox, body).json()["invoice"]["invoice_id"]
    assert stock_of(sandbox, item) == (6.0, 6.0)
    for invoice_id in (sent_id, sent_id, draft_id):  # a second void changes nothing
        voided = sandbox.books("POST", f"invoices/{invoice_id}/status/void")
        assert (voided.status_code, voided.json()["message"]) == (
            200, "Invoice status has been changed to Void.")
    assert stock_of(sandbox, item) == (10.0, 10.0)
    assert sandbox.books("GET", f"invoices/{sent_id}").json()["invoice"]["status"] == "void"
    resent = sandbox.books("POST", f"invoices/{sent_id}/status/sent")
    assert (resent.status_code, resent.json()["code"]) == (400, 2)
    assert stock_of(sandbox, item) == (10.0, 10.0)


def test_invoice_numbers_are_unique_per_organization(sandbox: Sandbox) -> None:
    customer = sandbox.customer()
    body = {"customer_id": customer["contact_id"],
            "line_items": [{"name": "Seeds", "rate": 10, "quantity": 1}]}
    manual = invoice(sandbox, {**body, "invoice_number": "INV-000002"},
                     ignore_auto_number_generation="true")
    assert manual.json()["invoice"]["invoice_number"] == "INV-000002"
    again = invoice(sandbox, {**body, "invoice_number": "inv-000002"},
                    ignore_auto_number_generation="true")
    assert (again.status_code, again.json()) == (400, {
        "code": 1001, "message": 'Invoice "inv-000002" already exists.'})
    no_number = invoice(sandbox, body, ignore_auto_number_generation="true")
    assert no_number.json()["code"] == 4
    numbers = [invoice(sandbox, body).json()["invoice"]["invoice_number"] for _ in range(2)]
    assert numbers == ["INV-000001", "INV-000003"]  # auto numbering skips the manual one


@pytest.mark.parametrize(("change", "code"), [
    ({"customer_id": ""}, 4),
    ({"customer_id": "460000000009999"}, 1002),
    ({"line_items": []}, 4),
    ({"line_items": [{"item_id": "460000000009999", "quantity": 1}]}, 1002),
    ({"line_items": [{"name": "x", "rate": 10, "quantity": 0}]}, 2),
    ({"line_items": [{"name": "x", "rate": 10, "discount": 11}]}, 2),
    ({"line_items": [{"name": "x", "rate": "ten"}]}, 2),
    ({"line_items": [{"name": "x"}]}, 4),
    ({"place_of_supply": "XX"}, 2),
    ({"date": "2026-13-01"}, 2),
    ({"is_inclusive_tax": "yes"}, 2),
    ({"reference_number": "R" * 101}, 15),
])
def test_invoice_validation(sandbox: Sandbox, change: dict, code: int) -> None:
    customer = sandbox.customer()
    body = {"customer_id": customer["contact_id"],
            "line_items": [{"name": "Seeds", "rate": 10, "quantity": 1}], **change}
    reply = invoice(sandbox, body)
    assert (reply.status_code, reply.json()["code"]) == (400, code)
    assert sandbox.state.records("books_invoices") == []


def test_payments_settle_sent_invoices_only(sandbox: Sandbox) -> None:
    customer = sandbox.customer()
    created = invoice(sandbox, {"customer_id": customer["contact_id"], "line_items": [
        {"name": "Seeds", "rate": 100, "quantity": 1}]}).json()["invoice"]  # untaxed: 100
    payment = {"customer_id": customer["contact_id"], "payment_mode": "banktransfer",
               "date": "2026-01-01", "reference_number": "pay_1"}
    on_draft = sandbox.books("POST", "customerpayments", json={
        **payment, "amount": 100, "invoices": [
            {"invoice_id": created["invoice_id"], "amount_applied": 100}]})
    assert (on_draft.status_code, on_draft.json()["code"]) == (400, 2)
    assert "draft" in on_draft.json()["message"]
    sandbox.books("POST", f"invoices/{created['invoice_id']}/status/sent")
    too_much = sandbox.books("POST", "customerpayments", json={
        **payment, "amount": 200, "invoices": [
            {"invoice_id": created["invoice_id"], "amount_applied": 100.01}]})
    assert (too_much.status_code, too_much.json()["code"]) == (400, 2)
    over_amount = sandbox.books("POST", "customerpayments", json={
        **payment, "amount": 10, "invoices": [
            {"invoice_id": created["invoice_id"], "amount_applied": 20}]})
    assert over_amount.json()["code"] == 2
    part = sandbox.books("POST", "customerpayments", json={
        **payment, "amount": 40, "invoices": [
            {"invoice_id": created["invoice_id"], "amount_applied": 40}]})
    assert (part.status_code, part.json()["message"]) == (201, "The payment has been created.")
    assert part.json()["payment"]["invoices"][0]["balance_amount"] == 60.0
    half = sandbox.books("GET", f"invoices/{created['invoice_id']}").json()["invoice"]
    assert (half["status"], half["balance"], half["payment_made"]) == (
        "partially_paid", 60.0, 40.0)
    sandbox.books("POST", "customerpayments", json={
        **payment, "reference_number": "pay_2", "amount": 60, "invoices": [
            {"invoice_id": created["invoice_id"], "amount_applied": 60}]})
    paid = sandbox.books("GET", f"invoices/{created['invoice_id']}").json()["invoice"]
    assert (paid["status"], paid["balance"]) == ("paid", 0.0)
    listed = sandbox.books("GET", "customerpayments", params={"reference_number": "pay_2"})
    assert [p["amount"] for p in listed.json()["customerpayments"]] == [60.0]
    unvoidable = sandbox.books("POST", f"invoices/{created['invoice_id']}/status/void")
    assert (unvoidable.status_code, unvoidable.json()["code"]) == (400, 2)


@pytest.mark.parametrize("mode", ["Bank Transfer", "razorpay", "BANKTRANSFER", ""])
def test_payment_mode_must_be_a_documented_value(sandbox: Sandbox, mode: str) -> None:
    customer = sandbox.customer()
    reply = sandbox.books("POST", "customerpayments", json={
        "customer_id": customer["contact_id"], "payment_mode": mode, "amount": 10,
        "date": "2026-01-01"})
    assert reply.status_code == 400
    assert reply.json() == ({"code": 4, "message": "Please enter a value for payment_mode."}
                            if not mode else
                            {"code": 2, "message": "Invalid value passed for payment_mode"})


def test_invoice_list_filters_and_pages(sandbox: Sandbox) -> None:
    asha, ravi = sandbox.customer("Asha"), sandbox.customer("Ravi")
    for number, customer in enumerate((asha, ravi, asha)):
        invoice(sandbox, {"customer_id": customer["contact_id"],
                          "reference_number": f"ORD-{number}",
                          "line_items": [{"name": "Seeds", "rate": 10}]})

    def numbers(**params: object) -> list[str]:
        reply = sandbox.books("GET", "invoices", params=params).json()
        return [entry["invoice_number"] for entry in reply["invoices"]]
    assert numbers(reference_number="ORD-1") == ["INV-000002"]
    assert numbers(invoice_number="INV-000003") == ["INV-000003"]
    assert numbers(customer_id=asha["contact_id"]) == ["INV-000003", "INV-000001"]
    assert numbers(search_text="ravi") == ["INV-000002"]
    assert numbers(reference_number_startswith="ORD-") == ["INV-000003", "INV-000002",
                                                           "INV-000001"]
    page = sandbox.books("GET", "invoices", params={"per_page": 2, "page": 1}).json()
    assert page["page_context"]["has_more_page"] is True
    assert page["page_context"]["per_page"] == 2
    last = sandbox.books("GET", "invoices", params={"per_page": 2, "page": 2}).json()
    assert [i["invoice_number"] for i in last["invoices"]] == ["INV-000001"]
    assert last["page_context"]["has_more_page"] is False
    unknown = sandbox.books("GET", "invoices/460000000009999")
    assert (unknown.status_code, unknown.json()) == (404, {
        "code": 1002, "message": "Invoice does not exist."})
