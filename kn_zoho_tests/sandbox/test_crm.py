"""CRM v8 records: the replies and per-record errors the sync layer must handle."""

from __future__ import annotations

import pytest

from kn_zoho_tests.sandbox.conftest import Sandbox


def upsert(sandbox: Sandbox, *records: dict, module: str = "Contacts", **body: object):
    return sandbox.crm("POST", f"{module}/upsert", json={"data": list(records), **body})


def test_upsert_inserts_then_updates_the_record_with_the_same_email(sandbox: Sandbox) -> None:
    inserted = upsert(sandbox, {"Last_Name": "Rao", "Email": "asha@example.in"})
    assert inserted.status_code == 200
    item = inserted.json()["data"][0]
    assert (item["code"], item["action"], item["duplicate_field"], item["message"],
            item["status"]) == ("SUCCESS", "insert", "Email", "record added", "success")
    assert set(item["details"]) == {"id", "Created_Time", "Modified_Time", "Created_By",
                                    "Modified_By"}
    assert item["details"]["Created_Time"] == "2026-01-01T05:30:00+05:30"

    sandbox.clock.advance(60)
    updated = upsert(sandbox, {"Last_Name": "Rao-Iyer", "Email": "ASHA@example.in"})
    assert updated.status_code == 200
    again = updated.json()["data"][0]
    assert (again["action"], again["message"]) == ("update", "record updated")
    assert again["details"]["id"] == item["details"]["id"]
    assert again["details"]["Modified_Time"] == "2026-01-01T05:31:00+05:30"
    stored = sandbox.client.get("/__sandbox/records/crm_contacts").json()
    assert [record["Last_Name"] for record in stored] == ["Rao-Iyer"]
    emptied = upsert(sandbox, {"Last_Name": "", "Email": "asha@example.in"})
    assert emptied.json()["data"][0]["code"] == "MANDATORY_NOT_FOUND"
    partial = upsert(sandbox, {"First_Name": "Asha", "Email": "asha@example.in"})
    assert partial.json()["data"][0]["action"] == "update"  # Last_Name is already stored


def test_mixed_batch_answers_207_with_one_result_per_record_in_order(sandbox: Sandbox) -> None:
    reply = upsert(sandbox, {"Last_Name": "Ok", "Email": "ok@example.in"},
                   {"First_Name": "No last name", "Email": "x@example.in"},
                   {"Last_Name": "Bad", "Email": "not-an-email"},
                   {"Last_Name": "L" * 81})
    assert reply.status_code == 207
    first, missing, bad_email, too_long = reply.json()["data"]
    assert first["status"] == "success"
    assert missing == {"code": "MANDATORY_NOT_FOUND", "message": "required field not found",
                       "status": "error",
                       "details": {"api_name": "Last_Name", "json_path": "$.data[1].Last_Name"}}
    assert bad_email["code"] == "INVALID_DATA"
    assert bad_email["details"] == {"api_name": "Email", "json_path": "$.data[2].Email",
                                    "expected_data_type": "email"}
    assert too_long["details"] == {"api_name": "Last_Name", "json_path": "$.data[3].Last_Name",
                                   "maximum_length": 80}
    assert len(sandbox.state.records("crm_contacts")) == 1


@pytest.mark.parametrize(("field", "limit"), [("First_Name", 40), ("Email", 100),
                                              ("Phone", 30), ("Mobile", 30),
                                              ("Description", 32000)])
def test_fields_longer_than_zohos_maximum_are_invalid(sandbox: Sandbox, field: str,
                                                      limit: int) -> None:
    value = ("a" * (limit - 11) + "@example.in") if field == "Email" else "9" * limit
    assert upsert(sandbox, {"Last_Name": "Fits", field: value}).status_code == 200
    too_long = upsert(sandbox, {"Last_Name": "Long", field: value + "x"})
    assert too_long.status_code == 400
    assert too_long.json()["data"][0]["details"]["maximum_length"] == limit


def test_every_record_failing_answers_400(sandbox: Sandbox) -> None:
    reply = upsert(sandbox, {"Email": "a@example.in"}, {"Last_Name": 42})
    assert reply.status_code == 400
    codes = [item["code"] for item in reply.json()["data"]]
    assert codes == ["MANDATORY_NOT_FOUND", "INVALID_DATA"]
    assert reply.json()["data"][1]["details"]["expected_data_type"] == "text"


def test_more_than_100_records_is_refused_as_a_whole(sandbox: Sandbox) -> None:
    records = [{"Last_Name": f"N{i}", "Email": f"n{i}@example.in"} for i in range(101)]
    reply = upsert(sandbox, *records)
    assert reply.status_code == 400
    assert reply.json() == {"data": [{
        "code": "LIMIT_EXCEEDED", "message": "count of records in your request exceeds the limit",
        "status": "error", "details": {"maximum_length": 100, "api_name": "data"}}]}
    assert sandbox.state.records("crm_contacts") == []
    assert upsert(sandbox, *records[:100]).status_code == 200


def test_insert_answers_201_and_refuses_an_existing_email_when_asked_to_check(
        sandbox: Sandbox) -> None:
    first = sandbox.crm("POST", "Leads", json={"data": [
        {"Last_Name": "Rao", "Company": "KN", "Email": "lead@example.in"}]})
    assert first.status_code == 201
    item = first.json()["data"][0]
    assert (item["code"], item["message"]) == ("SUCCESS", "record added")
    assert "action" not in item
    unchecked = sandbox.crm("POST", "Leads", json={"data": [
        {"Last_Name": "Rao", "Company": "KN", "Email": "lead@example.in"}]})
    assert unchecked.status_code == 201  # Zoho inserts duplicates unless told to check
    checked = sandbox.crm("POST", "Leads", json={
        "data": [{"Last_Name": "Rao", "Company": "KN", "Email": "Lead@Example.in"}],
        "duplicate_check_fields": ["Email"]})
    assert checked.status_code == 400
    error = checked.json()["data"][0]
    assert error["code"] == "DUPLICATE_DATA"
    assert error["details"]["api_name"] == "Email"
    assert error["details"]["more_records"] is True


def test_update_changes_the_records_named_by_id(sandbox: Sandbox) -> None:
    inserted = upsert(sandbox, {"Last_Name": "Rao", "Email": "old@x.in"})
    record_id = inserted.json()["data"][0]["details"]["id"]
    reply = sandbox.crm("PUT", "Contacts", json={"data": [
        {"id": record_id, "Email": "new@x.in"}, {"Email": "no-id@x.in"},
        {"id": "5725767000000009999", "Last_Name": "Ghost"}, {"id": record_id, "Last_Name": ""}]})
    assert reply.status_code == 207
    updated, no_id, unknown, emptied = reply.json()["data"]
    assert (updated["code"], updated["message"], updated["details"]["id"]) == (
        "SUCCESS", "record updated", record_id)
    assert "action" not in updated
    assert (no_id["code"], no_id["details"]["api_name"]) == ("MANDATORY_NOT_FOUND", "id")
    assert unknown == {"code": "INVALID_DATA", "message": "the id given seems to be invalid",
                       "status": "error",
                       "details": {"api_name": "id", "json_path": "$.data[2].id"}}
    assert emptied["code"] == "MANDATORY_NOT_FOUND"
    stored = sandbox.state.records("crm_contacts")
    assert [(r["Email"], r["Last_Name"]) for r in stored] == [("new@x.in", "Rao")]


def test_upsert_matching_two_records_is_duplicate_data(sandbox: Sandbox) -> None:
    for _ in range(2):
        sandbox.crm("POST", "Contacts", json={"data": [{"Last_Name": "T", "Email": "t@x.in"}]})
    reply = upsert(sandbox, {"Last_Name": "T", "Email": "t@x.in"})
    assert reply.status_code == 400
    assert reply.json()["data"][0]["code"] == "DUPLICATE_DATA"


def test_leads_need_a_company(sandbox: Sandbox) -> None:
    reply = upsert(sandbox, {"Last_Name": "Rao", "Email": "l@x.in"}, module="Leads")
    assert reply.json()["data"][0]["details"] == {"api_name": "Company",
                                                  "json_path": "$.data[0].Company"}


def test_layout_fields_are_kept_and_unknown_fields_dropped(sandbox: Sandbox) -> None:
    reply = upsert(sandbox, {"Last_Name": "Rao", "Email": "c@x.in", "GSTIN": "36AABCU9603R1ZM",
                             "GSTIN__c": "36AABCU9603R1ZM", "Not_A_Field": "x",
                             "Created_Time": "2020-01-01T00:00:00+05:30"})
    assert reply.status_code == 200
    record_id = reply.json()["data"][0]["details"]["id"]
    record = sandbox.crm("GET", f"Contacts/{record_id}").json()["data"][0]
    assert record["GSTIN"] == "36AABCU9603R1ZM"
    assert "Not_A_Field" not in record and "GSTIN__c" not in record
    assert record["Created_Time"] == "2026-01-01T05:30:00+05:30"  # read-only: ignored
    assert record["Owner"]["name"] == "KN Sandbox Admin"


def test_search_by_email_answers_204_when_nothing_matches(sandbox: Sandbox) -> None:
    assert sandbox.crm("GET", "Contacts/search", params={"email": "x@x.in"}).status_code == 204
    upsert(sandbox, {"Last_Name": "Rao", "Email": "x@x.in"})
    found = sandbox.crm("GET", "Contacts/search", params={"email": "X@x.in"})
    assert found.status_code == 200
    assert found.json()["info"] == {"per_page": 200, "count": 1, "page": 1,
                                    "more_records": False}
    criteria = sandbox.crm("GET", "Contacts/search", params={"criteria": "(Email:equals:x@x.in)"})
    assert criteria.json()["data"][0]["Last_Name"] == "Rao"
    no_param = sandbox.crm("GET", "Contacts/search")
    assert no_param.json()["code"] == "REQUIRED_PARAM_MISSING"


def test_get_by_id_answers_204_for_an_unknown_id(sandbox: Sandbox) -> None:
    assert sandbox.crm("GET", "Contacts/5725767000000009999").status_code == 204


def test_list_requires_fields_and_pages(sandbox: Sandbox) -> None:
    missing = sandbox.crm("GET", "Contacts")
    assert (missing.status_code, missing.json()) == (400, {
        "code": "REQUIRED_PARAM_MISSING", "details": {"param_name": "fields"},
        "message": "required param is missing", "status": "error"})
    assert sandbox.crm("GET", "Contacts", params={"fields": "Email"}).status_code == 204
    upsert(sandbox, *({"Last_Name": f"N{i}", "Email": f"n{i}@x.in"} for i in range(5)))
    page = sandbox.crm("GET", "Contacts", params={"fields": "Email", "per_page": 2, "page": 2})
    body = page.json()
    assert [row["Email"] for row in body["data"]] == ["n2@x.in", "n1@x.in"]  # newest first
    assert set(body["data"][0]) == {"id", "Email"}
    assert (body["info"]["page"], body["info"]["count"], body["info"]["more_records"]) == (
        2, 2, True)
    too_big = sandbox.crm("GET", "Contacts", params={"fields": "Email", "per_page": 201})
    assert too_big.status_code == 400


def test_unknown_module_and_bad_bodies(sandbox: Sandbox) -> None:
    module = upsert(sandbox, {"Last_Name": "x"}, module="Deals")
    assert module.json()["code"] == "INVALID_MODULE"
    no_data = sandbox.crm("POST", "Contacts/upsert", json={"records": []})
    assert no_data.json()["code"] == "MANDATORY_NOT_FOUND"
    not_json = sandbox.crm("POST", "Contacts/upsert", content=b"{")
    assert (not_json.status_code, not_json.json()["code"]) == (400, "INVALID_DATA")
    wrong_method = sandbox.crm("DELETE", "Contacts/upsert")
    assert wrong_method.json()["code"] == "INVALID_REQUEST_METHOD"
    unknown_path = sandbox.crm("GET", "Contacts/1/Notes/2")
    assert (unknown_path.status_code, unknown_path.json()["code"]) == (404,
                                                                       "INVALID_URL_PATTERN")
