"""The CRM sandbox indexes a module's records per write request; within one batch, a record
written earlier is matched by a later one exactly as a scan would match it."""

from __future__ import annotations

from kn_zoho_tests.sandbox.conftest import Sandbox
from kn_zoho_tests.sandbox.test_crm import upsert


def test_one_batch_sees_its_own_writes_like_a_scan(sandbox: Sandbox) -> None:
    upsert(sandbox, {"Last_Name": "Old", "Email": "first@example.in"})
    reply = upsert(sandbox,
                   {"Last_Name": "Rao", "Email": "asha@example.in"},
                   # the same email in another case: the record the batch just inserted
                   {"Last_Name": "Rao-Iyer", "Email": "ASHA@example.in"},
                   # moves the first record to a new email ...
                   {"Last_Name": "Old", "Email": "FIRST@example.in"},
                   {"Last_Name": "Iyer", "Email": "new@example.in"})
    actions = [(item["action"], item["details"]["id"]) for item in reply.json()["data"]]
    assert [action for action, _ in actions] == ["insert", "update", "update", "insert"]
    assert actions[0][1] == actions[1][1]
    stored = sandbox.client.get("/__sandbox/records/crm_contacts").json()
    assert sorted(record["Last_Name"] for record in stored) == ["Iyer", "Old", "Rao-Iyer"]


def test_a_unique_value_taken_earlier_in_the_batch_is_refused(sandbox: Sandbox) -> None:
    reply = upsert(sandbox,
                   {"Last_Name": "One", "Email": "one@example.in", "KN_User_ID": "u-1"},
                   {"Last_Name": "Two", "Email": "two@example.in", "KN_User_ID": "U-1"},
                   duplicate_check_fields=["Email"])
    first, second = reply.json()["data"]
    assert first["action"] == "insert"
    assert (second["code"], second["details"]["id"]) == ("DUPLICATE_DATA",
                                                         first["details"]["id"])
