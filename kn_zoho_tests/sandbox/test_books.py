"""Books v3: envelopes, error codes, taxes, contacts, items, inventory adjustments, limits."""

from __future__ import annotations

import json

import pytest

from kn_zoho.sandbox import SandboxConfig
from kn_zoho.sandbox.credentials import DEMO_ORGANIZATION_ID
from kn_zoho_tests.sandbox.conftest import Sandbox, make_sandbox

VALID_GSTIN = "27AAPFU0939F1ZV"


def invoice(sandbox: Sandbox, body: dict, **params: str):
    return sandbox.books("POST", "invoices", json=body, params=params)


def test_every_call_needs_the_organization(sandbox: Sandbox) -> None:
    headers = {"Authorization": f"Zoho-oauthtoken {sandbox.default_token}"}
    missing = sandbox.client.get("/books/v3/items", headers=headers)
    assert (missing.status_code, missing.json()) == (400, {
        "code": 2, "message": "Invalid value passed for organization_id"})
    wrong = sandbox.client.get("/books/v3/items", headers=headers,
                               params={"organization_id": "999"})
    assert (wrong.status_code, wrong.json()["code"]) == (400, 6041)


def test_taxes_are_india_gst_with_fixed_ids(sandbox: Sandbox) -> None:
    reply = sandbox.books("GET", "settings/taxes")
    assert reply.json()["code"] == 0
    taxes = {tax["tax_name"]: tax for tax in reply.json()["taxes"]}
    assert {f"GST{rate}" for rate in (0, 5, 12, 18, 28)} <= set(taxes)
    group = taxes["GST18"]
    assert (group["tax_type"], group["tax_specification"], group["tax_percentage"]) == (
        "tax_group", "intra", 18.0)
    assert [(part["tax_name"], part["tax_percentage"]) for part in group["taxes"]] == [
        ("CGST9", 9.0), ("SGST9", 9.0)]
    igst = taxes["IGST28"]
    assert (igst["tax_type"], igst["tax_specification"], igst["tax_specific_type"]) == (
        "tax", "inter", "igst")
    assert taxes["CGST2.5"]["tax_specific_type"] == "cgst"
    assert make_sandbox().tax_id("GST18") == group["tax_id"]
    one = sandbox.books("GET", f"settings/taxes/{group['tax_id']}").json()
    assert one["tax"]["tax_name"] == "GST18"


def test_contacts_create_get_list_and_refuse_a_taken_name(sandbox: Sandbox) -> None:
    reply = sandbox.books("POST", "contacts", json={
        "contact_name": "Green Farms", "company_name": "Green Farms LLP",
        "contact_persons": [{"first_name": "Ravi", "last_name": "K", "email": "buy@green.in",
                             "phone": "+919876543210", "is_primary_contact": True}],
        "gst_treatment": "business_gst", "gst_no": VALID_GSTIN, "place_of_contact": "MH"})
    assert (reply.status_code, reply.json()["code"], reply.json()["message"]) == (
        201, 0, "The contact has been added.")
    contact = reply.json()["contact"]
    # the contact's email and phone are its primary person's (Books: contact_persons)
    assert (contact["email"], contact["phone"], contact["first_name"]) == (
        "buy@green.in", "+919876543210", "Ravi")
    assert [p["email"] for p in contact["contact_persons"]] == ["buy@green.in"]
    got = sandbox.books("GET", f"contacts/{contact['contact_id']}").json()
    assert (got["message"], got["contact"]) == ("success", contact)
    sandbox.customer("Asha Rao", email="asha@example.in")
    by_email = sandbox.books("GET", "contacts", params={"email": "BUY@green.in"}).json()
    assert [c["contact_name"] for c in by_email["contacts"]] == ["Green Farms"]
    by_text = sandbox.books("GET", "contacts", params={"search_text": "asha"}).json()
    assert [c["contact_name"] for c in by_text["contacts"]] == ["Asha Rao"]
    by_name = sandbox.books("GET", "contacts", params={"contact_name": "green farms"}).json()
    assert len(by_name["contacts"]) == 1
    from_gstin = sandbox.books("POST", "contacts", json={
        "contact_name": "Pune Agro", "gst_treatment": "business_gst", "gst_no": VALID_GSTIN})
    assert from_gstin.json()["contact"]["place_of_contact"] == "MH"  # GSTIN state 27
    taken = sandbox.books("POST", "contacts", json={"contact_name": "green farms"})
    assert (taken.status_code, taken.json()["code"]) == (400, 3062)


def test_contact_email_outside_contact_persons_is_not_stored(sandbox: Sandbox) -> None:
    """A top-level email is no documented create argument: ignored, so neither stored nor
    found by the email filter; an undocumented filter filters nothing."""
    reply = sandbox.books("POST", "contacts", json={"contact_name": "Top Level",
                                                    "email": "top@level.in"})
    assert reply.status_code == 201
    assert reply.json()["contact"]["email"] == ""
    found = sandbox.books("GET", "contacts", params={"email": "top@level.in"}).json()
    assert found["contacts"] == []
    sandbox.customer("Other", email="other@x.in")
    unfiltered = sandbox.books("GET", "contacts", params={"customer_email": "nobody"}).json()
    assert len(unfiltered["contacts"]) == 2
    unknown = sandbox.books("GET", "contacts/460000000009999")
    assert (unknown.status_code, unknown.json()) == (404, {
        "code": 1002, "message": "Contact does not exist."})


@pytest.mark.parametrize(("fields", "code"), [
    ({}, 4),                                                         # no contact_name
    ({"contact_name": "X", "gst_treatment": "business_gst"}, 4),     # GSTIN required
    ({"contact_name": "X", "gst_treatment": "business_gst", "gst_no": "27AAPFU0939F1ZX"}, 2),
    ({"contact_name": "X", "gst_treatment": "retail"}, 2),
    ({"contact_name": "X", "place_of_contact": "ZZ"}, 2),
    ({"contact_name": "X", "contact_persons": [{"email": "not-an-email"}]}, 2),
    ({"contact_name": "X" * 201}, 15),
])
def test_contact_validation(sandbox: Sandbox, fields: dict, code: int) -> None:
    reply = sandbox.books("POST", "contacts", json=fields)
    assert (reply.status_code, reply.json()["code"]) == (400, code)


def test_items_keep_name_and_sku_unique_and_update_with_put(sandbox: Sandbox) -> None:
    item = sandbox.item("SEED-1", stock=12)
    assert (item["stock_on_hand"], item["available_stock"]) == (12.0, 12.0)
    assert item["item_tax_preferences"][0]["tax_name"] == "GST18"
    same_sku = sandbox.books("POST", "items", json={"name": "Other", "sku": "seed-1",
                                                    "rate": 5})
    assert (same_sku.status_code, same_sku.json()["code"]) == (400, 1001)
    same_name = sandbox.books("POST", "items", json={"name": "Item SEED-1", "rate": 5})
    assert same_name.json()["code"] == 1001
    no_rate = sandbox.books("POST", "items", json={"name": "No rate"})
    assert no_rate.json()["code"] == 4
    stock_on_service = sandbox.books("POST", "items", json={
        "name": "Advice", "rate": 5, "item_type": "sales", "initial_stock": 3})
    assert stock_on_service.json()["code"] == 2
    updated = sandbox.books("PUT", f"items/{item['item_id']}",
                            json={"rate": 120, "stock_on_hand": 999})
    assert updated.json()["message"] == "Item details have been saved."
    assert (updated.json()["item"]["rate"], updated.json()["item"]["stock_on_hand"]) == (
        120.0, 12.0)
    listed = sandbox.books("GET", "items", params={"name": "item seed-1"}).json()
    assert [i["item_id"] for i in listed["items"]] == [item["item_id"]]
    assert listed["page_context"]["has_more_page"] is False


def test_items_list_active_ones_by_default_and_have_no_sku_filter(sandbox: Sandbox) -> None:
    """Books: List Items lists active items unless filter_by says otherwise; it has no sku
    filter, and search_text searches name and description, not the SKU."""
    kept, hidden = sandbox.item("SEED-1"), sandbox.item("SEED-2")

    def listed(**params: str) -> list[str]:
        reply = sandbox.books("GET", "items", params=params)
        assert reply.status_code == 200, reply.text
        return sorted(item["sku"] for item in reply.json()["items"])
    inactive = sandbox.books("POST", f"items/{hidden['item_id']}/inactive")
    assert (inactive.status_code, inactive.json()) == (200, {
        "code": 0, "message": "The item has been marked as inactive."})
    assert listed() == listed(filter_by="Status.Active") == ["SEED-1"]
    assert listed(filter_by="Status.Inactive") == ["SEED-2"]
    assert listed(filter_by="Status.All") == ["SEED-1", "SEED-2"]
    assert listed(sku="SEED-2", filter_by="Status.All") == ["SEED-1", "SEED-2"]
    assert listed(search_text="SEED-2", filter_by="Status.All") == ["SEED-2"]  # its name
    assert listed(search_text="12099190") == []  # the HSN is not searched either
    bad = sandbox.books("GET", "items", params={"filter_by": "Status.Everything"})
    assert (bad.status_code, bad.json()["code"]) == (400, 2)
    customer = sandbox.customer()
    refused = invoice(sandbox, {"customer_id": customer["contact_id"],
                                "line_items": [{"item_id": hidden["item_id"]}]})
    assert (refused.status_code, refused.json()["code"]) == (400, 2)
    active = sandbox.books("POST", f"items/{hidden['item_id']}/active")
    assert active.json()["message"] == "The item has been marked as active."
    assert listed() == ["SEED-1", "SEED-2"]
    assert kept["status"] == "active"
    unknown = sandbox.books("POST", "items/460000000009999/active")
    assert (unknown.status_code, unknown.json()["code"]) == (404, 1002)


def test_bodies_may_come_as_the_jsonstring_form_field(sandbox: Sandbox) -> None:
    reply = sandbox.books("POST", "contacts",
                          data={"JSONString": json.dumps({"contact_name": "Form Farm"})})
    assert reply.status_code == 201
    broken = sandbox.books("POST", "contacts", content=b"{not json",
                           headers={"Content-Type": "application/json"})
    assert (broken.status_code, broken.json()["code"]) == (400, 1038)


def test_inventory_adjustments_change_stock(sandbox: Sandbox) -> None:
    item = sandbox.item(stock=10)
    body = {"date": "2026-01-02", "reason": "Damaged in transit", "adjustment_type": "quantity",
            "reference_number": "kn-adj-1",
            "line_items": [{"item_id": item["item_id"], "quantity_adjusted": -4}]}
    reply = sandbox.books("POST", "inventoryadjustments", json=body)
    assert (reply.status_code, reply.json()["message"]) == (
        201, "Inventory Adjustment has been added.")
    assert reply.json()["inventory_adjustment"]["line_items"][0]["quantity_adjusted"] == -4.0
    assert sandbox.books("GET", f"items/{item['item_id']}").json()["item"][
        "stock_on_hand"] == 6.0
    listed = sandbox.books("GET", "inventoryadjustments").json()
    assert len(listed["inventory_adjustments"]) == 1
    no_reason = sandbox.books("POST", "inventoryadjustments", json={**body, "reason": ""})
    assert no_reason.json()["code"] == 4
    no_type = {key: value for key, value in body.items() if key != "adjustment_type"}
    assert sandbox.books("POST", "inventoryadjustments", json=no_type).json()["code"] == 4


def test_zoho_inventory_serves_the_same_adjustments(sandbox: Sandbox) -> None:
    """Zoho Inventory's documented endpoint, same organization and records; its list
    documents no filter, so reference_number filters nothing (clients match exactly)."""
    item = sandbox.item(stock=10)
    headers = {"Authorization": f"Zoho-oauthtoken {sandbox.default_token}"}
    params = {"organization_id": DEMO_ORGANIZATION_ID}
    for number, quantity in ((1, 5), (2, -1)):
        reply = sandbox.client.post("/inventory/v1/inventoryadjustments", headers=headers,
                                    params=params, json={
                                        "date": "2026-01-02", "reason": "Recount",
                                        "adjustment_type": "quantity",
                                        "reference_number": f"kn-adj-{number}",
                                        "line_items": [{"item_id": item["item_id"],
                                                        "quantity_adjusted": quantity}]})
        assert reply.status_code == 201, reply.text
    assert sandbox.books("GET", f"items/{item['item_id']}").json()["item"][
        "stock_on_hand"] == 14.0
    listed = sandbox.client.get("/inventory/v1/inventoryadjustments", headers=headers,
                                params={**params, "reference_number": "kn-adj-1"}).json()
    assert sorted(a["reference_number"] for a in listed["inventory_adjustments"]) == [
        "kn-adj-1", "kn-adj-2"]
    via_books = sandbox.books("GET", "inventoryadjustments").json()["inventory_adjustments"]
    assert len(via_books) == 2
    anonymous = sandbox.client.get("/inventory/v1/inventoryadjustments", params=params)
    assert anonymous.status_code == 401


def test_per_minute_limit_answers_429_code_44_until_the_window_slides() -> None:
    sandbox = make_sandbox(SandboxConfig(rate_limit_per_minute=3, minute_seconds=2.0))
    for _ in range(3):
        assert sandbox.books("GET", "items").status_code == 200
        sandbox.clock.advance(0.5)
    limited = sandbox.books("GET", "items")
    assert (limited.status_code, limited.json()["code"]) == (429, 44)
    sandbox.clock.advance(0.5)  # the first call is now 2 s old
    assert sandbox.books("GET", "items").status_code == 200
    assert sandbox.client.get("/__sandbox/stats").json()["rate_limited"] == 1


def test_daily_limit_answers_429_code_45_and_headers_count_down() -> None:
    sandbox = make_sandbox(SandboxConfig(daily_limit=2))
    first = sandbox.books("GET", "items")
    assert (first.headers["X-Rate-Limit-Limit"], first.headers["X-Rate-Limit-Remaining"]) == (
        "2", "1")
    sandbox.books("GET", "items")
    limited = sandbox.books("GET", "items")
    assert (limited.status_code, limited.json()["code"]) == (429, 45)
    sandbox.clock.advance(86_400)
    assert sandbox.books("GET", "items", token=sandbox.token()).status_code == 200
