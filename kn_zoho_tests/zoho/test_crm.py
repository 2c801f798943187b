"""CrmClient: batches of 100, one result per record in order, search and get."""

from __future__ import annotations

import json

import pytest
import responses

from kn_zoho.zoho.crm import CrmClient
from kn_zoho.zoho.errors import ZohoAuthError, ZohoTransientError
from kn_zoho.zoho.http import ZohoHttp
from kn_zoho_tests.zoho.fakes import API_DOMAIN, Accounts

CONTACTS = API_DOMAIN + "/crm/v8/Contacts"


def echo_batch(request: object) -> tuple[int, dict, str]:
    """Zoho-like upsert reply: records without Last_Name fail, the rest succeed in order."""
    body = json.loads(request.body)  # type: ignore[attr-defined]
    items = []
    for record in body["data"]:
        if record.get("Last_Name"):
            items.append({"code": "SUCCESS", "action": "insert", "status": "success",
                          "duplicate_field": None, "message": "record added",
                          "details": {"id": f"id-{record['Email']}"}})
        else:
            items.append({"code": "MANDATORY_NOT_FOUND", "status": "error",
                          "message": "required field not found",
                          "details": {"api_name": "Last_Name", "json_path": "$.data[0].Last_Name"}})
    status = 201 if all(i["status"] == "success" for i in items) else 207
    return status, {}, json.dumps({"data": items})


@pytest.fixture
def crm(http: ZohoHttp, accounts: Accounts) -> CrmClient:
    return CrmClient(http)


def test_upsert_sends_batches_of_100_and_keeps_order(crm: CrmClient,
                                                      mock: responses.RequestsMock) -> None:
    mock.add_callback(responses.POST, CONTACTS + "/upsert", callback=echo_batch)
    records = [{"Email": f"u{i}@example.com", "Last_Name": "" if i == 150 else f"L{i}"}
               for i in range(250)]
    results = crm.upsert("Contacts", records)
    sent = [json.loads(call.request.body) for call in mock.calls
            if call.request.url.startswith(CONTACTS)]
    assert [len(body["data"]) for body in sent] == [100, 100, 50]
    assert all(body["duplicate_check_fields"] == ["Email"] for body in sent)
    assert len(results) == 250
    assert results[0].ok and results[0].action == "insert"
    assert results[0].zoho_id == "id-u0@example.com"
    assert results[249].zoho_id == "id-u249@example.com"
    failed = results[150]
    assert not failed.ok and failed.field == "Last_Name" and failed.code == "MANDATORY_NOT_FOUND"
    assert crm.http.api_calls == {"POST /crm/v8/{module}/upsert": 3}


def test_a_batch_where_every_record_failed_is_not_a_request_error(
    crm: CrmClient, mock: responses.RequestsMock
) -> None:
    mock.post(CONTACTS, status=400, json={"data": [{
        "code": "INVALID_DATA", "status": "error", "message": "invalid data",
        "details": {"api_name": "Email", "json_path": "$.data[0].Email"}}]})
    [result] = crm.insert("Contacts", [{"Last_Name": "X", "Email": "not-an-email"}])
    assert not result.ok and result.field == "Email" and result.code == "INVALID_DATA"


def test_update_puts_records_by_id(crm: CrmClient, mock: responses.RequestsMock) -> None:
    mock.put(CONTACTS, json={"data": [{"code": "SUCCESS", "action": "update",
                                       "status": "success", "message": "record updated",
                                       "details": {"id": "42"}}]})
    [result] = crm.update("Contacts", [{"id": "42", "Last_Name": "Rao"}])
    assert result.ok and result.action == "update" and result.zoho_id == "42"


def test_request_level_errors_are_raised(crm: CrmClient, mock: responses.RequestsMock) -> None:
    mock.post(CONTACTS + "/upsert", status=403, json={
        "code": "NO_PERMISSION", "details": {}, "message": "permission denied",
        "status": "error"})
    with pytest.raises(ZohoAuthError):
        crm.upsert("Contacts", [{"Last_Name": "X", "Email": "x@example.com"}])


def test_a_reply_with_the_wrong_number_of_results_is_suspect(
    crm: CrmClient, mock: responses.RequestsMock
) -> None:
    mock.post(CONTACTS, json={"data": []})
    with pytest.raises(ZohoTransientError) as caught:
        crm.insert("Contacts", [{"Last_Name": "X"}])
    assert caught.value.outcome_unknown


def test_search_by_email_matches_exactly(crm: CrmClient, mock: responses.RequestsMock) -> None:
    mock.get(CONTACTS + "/search", json={"data": [
        {"id": "1", "Email": "Asha@Example.com"},
        {"id": "2", "Email": "other@example.com", "Secondary_Email": "asha@example.com"}],
        "info": {"more_records": False}})
    assert [r["id"] for r in crm.search_by_email("Contacts", "asha@example.com")] == ["1"]
    assert mock.calls[-1].request.params == {"email": "asha@example.com"}


def test_search_without_matches_is_empty(crm: CrmClient, mock: responses.RequestsMock) -> None:
    mock.get(CONTACTS + "/search", status=204)
    assert crm.search_by_email("Contacts", "nobody@example.com") == []


def test_get_by_id(crm: CrmClient, mock: responses.RequestsMock) -> None:
    mock.get(CONTACTS + "/42", json={"data": [{"id": "42", "Last_Name": "Rao"}]})
    mock.get(CONTACTS + "/43", status=204)
    assert crm.get("Contacts", "42") == {"id": "42", "Last_Name": "Rao"}
    assert crm.get("Contacts", "43") is None
