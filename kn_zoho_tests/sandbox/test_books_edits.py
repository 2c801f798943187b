"""Books v3 after creation: contact updates, estimate updates and status marks, with the
rules the sandbox takes from Books' pages (or, where they say nothing, the stricter reading)."""

from __future__ import annotations

from kn_zoho_tests.sandbox.conftest import Sandbox

GSTIN_MH = "27AAPFU0939F1ZV"
GSTIN_KA = "29AAACR5055K1Z3"
DAY = 86_400


def _contact(sandbox: Sandbox) -> dict:
    return sandbox.books("POST", "contacts", json={
        "contact_name": "Green Farms", "gst_treatment": "business_gst", "gst_no": GSTIN_MH,
        "contact_persons": [
            {"first_name": "Ravi", "email": "buy@green.in", "is_primary_contact": True},
            {"first_name": "Meena", "email": "accounts@green.in"}]}).json()["contact"]


def test_a_contact_update_changes_gst_details_and_replaces_the_person_list(
        sandbox: Sandbox) -> None:
    contact = _contact(sandbox)
    path = f"contacts/{contact['contact_id']}"
    primary, other = contact["contact_persons"]
    reply = sandbox.books("PUT", path, json={
        "gst_no": GSTIN_KA, "place_of_contact": "KA",
        "contact_persons": [{"contact_person_id": primary["contact_person_id"],
                             "first_name": "Ravi", "email": "ravi@green.in",
                             "phone": "+919900011111", "is_primary_contact": True}]})
    assert (reply.status_code, reply.json()["message"]) == (
        200, "Contact information has been saved.")
    updated = reply.json()["contact"]
    assert (updated["gst_treatment"], updated["gst_no"], updated["place_of_contact"]) == (
        "business_gst", GSTIN_KA, "KA")
    [person] = updated["contact_persons"]  # the list given is the whole list
    assert (person["contact_person_id"], person["email"], updated["email"],
            updated["phone"]) == (primary["contact_person_id"], "ravi@green.in",
                                  "ravi@green.in", "+919900011111")
    assert other["contact_person_id"] not in {p["contact_person_id"]
                                              for p in updated["contact_persons"]}
    consumer = sandbox.books("PUT", path, json={"gst_treatment": "consumer"}).json()["contact"]
    assert (consumer["gst_treatment"], consumer["gst_no"]) == ("consumer", "")


def test_a_contact_update_is_refused_what_a_create_is(sandbox: Sandbox) -> None:
    contact = _contact(sandbox)
    path = f"contacts/{contact['contact_id']}"
    sandbox.customer("Asha Rao", email="asha@example.in")
    taken = sandbox.books("PUT", path, json={"contact_name": "asha rao"})
    assert (taken.status_code, taken.json()["code"]) == (400, 3062)
    same = sandbox.books("PUT", path, json={"contact_name": "Green Farms"})
    assert same.status_code == 200  # its own name is no clash
    for body, field in ((({"gst_no": "29AAACR5055K1Z4"}), "gst_no"),
                        (({"gst_treatment": "business_gst", "gst_no": ""}), "gst_no"),
                        (({"place_of_contact": "XX"}), "place_of_contact"),
                        (({"contact_persons": [{"contact_person_id": "1",
                                                "email": "x@green.in"}]}),
                         "contact_persons[0].contact_person_id")):
        refused = sandbox.books("PUT", path, json=body)
        assert refused.status_code == 400 and field in refused.json()["message"], body
    missing = sandbox.books("PUT", "contacts/404", json={"company_name": "X"})
    assert (missing.status_code, missing.json()["code"]) == (404, 1002)


def test_invoices_keep_the_gstin_they_were_made_with(sandbox: Sandbox) -> None:
    contact = _contact(sandbox)
    item = sandbox.item()
    made = sandbox.books("POST", "invoices", json={
        "customer_id": contact["contact_id"], "line_items": [{"item_id": item["item_id"]}]}
    ).json()["invoice"]
    assert made["gst_no"] == GSTIN_MH
    sandbox.books("PUT", f"contacts/{contact['contact_id']}",
                  json={"gst_no": GSTIN_KA, "place_of_contact": "KA"})
    kept = sandbox.books("GET", f"invoices/{made['invoice_id']}").json()["invoice"]
    assert (kept["gst_no"], kept["place_of_supply"]) == (GSTIN_MH, made["place_of_supply"])
    later = sandbox.books("POST", "invoices", json={
        "customer_id": contact["contact_id"], "line_items": [{"item_id": item["item_id"]}]}
    ).json()["invoice"]
    assert (later["gst_no"], later["place_of_supply"]) == (GSTIN_KA, "KA")


def _estimate(sandbox: Sandbox, **fields: object) -> dict:
    customer, item = sandbox.customer(), sandbox.item()
    reply = sandbox.books("POST", "estimates", json={
        "customer_id": customer["contact_id"], "date": "2026-01-01",
        "line_items": [{"item_id": item["item_id"], "quantity": 2}], **fields})
    assert reply.status_code == 201, reply.json()
    return reply.json()["estimate"]


def _mark(sandbox: Sandbox, estimate: dict, status: str) -> tuple[int, str]:
    reply = sandbox.books("POST", f"estimates/{estimate['estimate_id']}/status/{status}")
    return reply.status_code, reply.json()["message"]


def _status(sandbox: Sandbox, estimate: dict) -> str:
    return sandbox.books("GET", f"estimates/{estimate['estimate_id']}").json()["estimate"][
        "status"]


def test_estimate_marks_follow_the_documented_order(sandbox: Sandbox) -> None:
    estimate = _estimate(sandbox)
    assert _mark(sandbox, estimate, "declined")[0] == 400  # a draft is not declined
    assert _mark(sandbox, estimate, "accepted")[0] == 400
    assert _mark(sandbox, estimate, "sent") == (200, "Estimate status has been changed to Sent.")
    assert _mark(sandbox, estimate, "sent")[0] == 400  # sent only from draft
    assert _mark(sandbox, estimate, "declined")[0] == 200
    assert _status(sandbox, estimate) == "declined"
    assert _mark(sandbox, estimate, "declined")[0] == 400
    expire = sandbox.books("POST", f"estimates/{estimate['estimate_id']}/status/expired")
    assert expire.status_code in (404, 405)  # Books has no such call


def test_a_sent_estimate_expires_after_its_expiry_date_and_an_update_can_extend_it(
        sandbox: Sandbox) -> None:
    estimate = _estimate(sandbox, expiry_date="2026-01-02")  # the clock starts 2026-01-01
    _mark(sandbox, estimate, "sent")
    assert _status(sandbox, estimate) == "sent"
    sandbox.clock.advance(2 * DAY)
    sandbox._token = sandbox.token()  # the access token of two days ago has expired
    assert _status(sandbox, estimate) == "expired"
    assert _mark(sandbox, estimate, "declined")[0] == 400
    path = f"estimates/{estimate['estimate_id']}"
    extended = sandbox.books("PUT", path, json={"expiry_date": "2026-01-31"})
    assert extended.json()["estimate"]["status"] == "sent"
    early = sandbox.books("PUT", path, json={"expiry_date": "2025-12-31"})  # before its date
    assert (early.status_code, early.json()["message"]) == (
        400, "Invalid value passed for expiry_date")


def test_an_estimate_update_reprices_it_but_not_once_accepted(sandbox: Sandbox) -> None:
    estimate = _estimate(sandbox)
    path = f"estimates/{estimate['estimate_id']}"
    item_id = estimate["line_items"][0]["item_id"]
    updated = sandbox.books("PUT", path, json={
        "line_items": [{"item_id": item_id, "quantity": 5}], "notes": "Delivery by March"})
    assert updated.status_code == 200
    body = updated.json()["estimate"]
    assert (body["line_items"][0]["quantity"], body["notes"], body["estimate_number"]) == (
        5.0, "Delivery by March", estimate["estimate_number"])
    assert body["total"] > estimate["total"]
    _mark(sandbox, estimate, "sent")
    _mark(sandbox, estimate, "accepted")
    refused = sandbox.books("PUT", path, json={"notes": "more"})
    assert (refused.status_code, refused.json()["message"]) == (
        400, "An estimate that is accepted cannot be edited.")
