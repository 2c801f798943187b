"""CRM field layout: settings/fields, users, unique fields, duplicate_check_fields, admin."""

from __future__ import annotations

from kn_zoho_tests.sandbox.conftest import Sandbox


def upsert(sandbox: Sandbox, *records: dict, module: str = "Contacts", **body: object):
    return sandbox.crm("POST", f"{module}/upsert", json={"data": list(records), **body})


def fields(sandbox: Sandbox, module: str) -> dict[str, dict]:
    reply = sandbox.crm("GET", "settings/fields", params={"module": module})
    assert reply.status_code == 200
    return {field["api_name"]: field for field in reply.json()["fields"]}


def change(sandbox: Sandbox, **body: object) -> dict:
    reply = sandbox.client.post("/__sandbox/crm/fields", json=body)
    assert reply.status_code == 200, reply.text
    return reply.json()


def test_settings_fields_lists_standard_and_custom_fields_as_the_oas_types_them(
        sandbox: Sandbox) -> None:
    contacts = fields(sandbox, "Contacts")
    key = contacts["KN_User_ID"]
    assert (key["data_type"], key["custom_field"], key["unique"]) == (
        "text", True, {"casesensitive": "false"})
    assert contacts["Email"]["unique"] is None
    assert contacts["Account_Name"]["data_type"] == "lookup"
    assert "Company" not in contacts  # a Contact's company is the Account_Name lookup
    assert isinstance(key["id"], str) and isinstance(key["length"], int)
    leads = fields(sandbox, "Leads")
    assert leads["KN_Reference"]["unique"] and leads["Company"]["system_mandatory"]
    assert "Online Store" in [v["actual_value"] for v in leads["Lead_Source"]["pick_list_values"]]
    missing = sandbox.crm("GET", "settings/fields")
    assert (missing.status_code, missing.json()["code"]) == (400, "REQUIRED_PARAM_MISSING")
    assert sandbox.crm("GET", "settings/fields",
                       params={"module": "Deals"}).json()["code"] == "INVALID_DATA"


def test_current_user(sandbox: Sandbox) -> None:
    reply = sandbox.crm("GET", "users", params={"type": "CurrentUser"})
    body = reply.json()
    assert reply.status_code == 200
    assert body["info"] == {"per_page": 200, "count": 1, "page": 1, "more_records": False}
    assert body["users"][0]["email"] == "sandbox-admin@knbiosciences.example"
    assert sandbox.crm("GET", "users", params={"type": "Nobody"}).status_code == 400
    assert sandbox.crm("GET", "users", headers={"Authorization": "Zoho-oauthtoken x"}
                       ).status_code == 401


def test_upsert_on_a_unique_custom_field_first_then_email(sandbox: Sandbox) -> None:
    check = ["KN_User_ID", "Email"]
    first = upsert(sandbox, {"Last_Name": "Rao", "Email": "old@x.in", "KN_User_ID": "u1"},
                   duplicate_check_fields=check).json()["data"][0]
    assert (first["action"], first["duplicate_field"]) == ("insert", "KN_User_ID")
    moved = upsert(sandbox, {"Last_Name": "Rao", "Email": "new@x.in", "KN_User_ID": "u1"},
                   duplicate_check_fields=check).json()["data"][0]
    assert (moved["action"], moved["duplicate_field"]) == ("update", "KN_User_ID")
    assert moved["details"]["id"] == first["details"]["id"]
    # a Contact made before the key existed is adopted by its Email
    legacy = upsert(sandbox, {"Last_Name": "Iyer", "Email": "legacy@x.in"}).json()["data"][0]
    adopted = upsert(sandbox, {"Last_Name": "Iyer", "Email": "LEGACY@x.in", "KN_User_ID": "u2"},
                     duplicate_check_fields=check).json()["data"][0]
    assert (adopted["action"], adopted["duplicate_field"]) == ("update", "Email")
    assert adopted["details"]["id"] == legacy["details"]["id"]
    stored = sorted((c["KN_User_ID"], c["Email"]) for c in sandbox.state.records("crm_contacts"))
    assert stored == [("u1", "new@x.in"), ("u2", "LEGACY@x.in")]


def test_unique_fields_refuse_a_second_record_with_the_same_value(sandbox: Sandbox) -> None:
    upsert(sandbox, {"Last_Name": "A", "Email": "a@x.in", "KN_User_ID": "u1"})
    clash = upsert(sandbox, {"Last_Name": "B", "Email": "b@x.in", "KN_User_ID": "U1"},
                   duplicate_check_fields=["Email"])
    item = clash.json()["data"][0]
    assert (clash.status_code, item["code"], item["details"]["api_name"]) == (
        400, "DUPLICATE_DATA", "KN_User_ID")
    inserted = sandbox.crm("POST", "Contacts", json={"data": [
        {"Last_Name": "C", "KN_User_ID": "u1"}]}).json()["data"][0]
    assert inserted["code"] == "DUPLICATE_DATA"
    other = upsert(sandbox, {"Last_Name": "D", "Email": "d@x.in", "KN_User_ID": "u4"}
                   ).json()["data"][0]["details"]["id"]
    update = sandbox.crm("PUT", "Contacts", json={"data": [{"id": other, "KN_User_ID": "u1"}]})
    assert update.json()["data"][0]["code"] == "DUPLICATE_DATA"


def test_upsert_refuses_a_check_field_that_is_not_unique_or_unknown(sandbox: Sandbox) -> None:
    for name in ("Phone", "Not_A_Field", "GSTIN"):
        reply = upsert(sandbox, {"Last_Name": "A", "Phone": "1"},
                       duplicate_check_fields=[name])
        assert (reply.status_code, reply.json()["code"]) == (400, "INVALID_DATA"), name
        assert reply.json()["details"]["api_name"] == "duplicate_check_fields"
    assert sandbox.state.records("crm_contacts") == []


def test_without_check_fields_system_fields_then_unique_fields_are_used(
        sandbox: Sandbox) -> None:
    upsert(sandbox, {"Last_Name": "Ref", "Company": "KN", "KN_Reference": "inquiry-1"},
           module="Leads")
    again = upsert(sandbox, {"Last_Name": "Ref2", "Company": "KN", "KN_Reference": "inquiry-1"},
                   module="Leads").json()["data"][0]
    assert (again["action"], again["duplicate_field"]) == ("update", "KN_Reference")


def test_insert_without_a_match_has_no_duplicate_field(sandbox: Sandbox) -> None:
    item = upsert(sandbox, {"Last_Name": "NoKey"}).json()["data"][0]
    assert item["action"] == "insert" and "duplicate_field" not in item


def test_admin_renames_removes_and_unmarks_fields(sandbox: Sandbox) -> None:
    upsert(sandbox, {"Last_Name": "Ref", "Company": "KN", "KN_Reference": "inquiry-1"},
           module="Leads")
    change(sandbox, module="Leads", api_name="KN_Reference", rename_to="KN_Ref")
    leads = fields(sandbox, "Leads")
    assert "KN_Reference" not in leads and leads["KN_Ref"]["unique"]
    assert sandbox.state.records("crm_leads")[0]["KN_Ref"] == "inquiry-1"
    refused = upsert(sandbox, {"Last_Name": "X", "Company": "KN", "KN_Reference": "inquiry-2"},
                     module="Leads", duplicate_check_fields=["KN_Reference"])
    assert refused.status_code == 400
    change(sandbox, module="Contacts", api_name="KN_User_ID", unique=False)
    assert fields(sandbox, "Contacts")["KN_User_ID"]["unique"] is None
    change(sandbox, module="Contacts", api_name="GSTIN", remove=True)
    assert "GSTIN" not in fields(sandbox, "Contacts")
    change(sandbox, module="Contacts", api_name="Loyalty", add={"data_type": "text",
                                                                "length": 20})
    assert fields(sandbox, "Contacts")["Loyalty"]["custom_field"] is True
    bad = sandbox.client.post("/__sandbox/crm/fields", json={"module": "Contacts",
                                                            "api_name": "Nope", "remove": True})
    assert bad.status_code == 400
    sandbox.client.post("/__sandbox/reset")  # forgets tokens too
    reply = sandbox.crm("GET", "settings/fields", token=sandbox.token(), params={"module": "Leads"})
    assert "KN_Reference" in {field["api_name"] for field in reply.json()["fields"]}


# The ``required`` list of the ``fields`` schema in github.com/zoho/crm-oas v8.0/fields.json.
OAS_FIELD_REQUIRED = (
    "associated_module", "data_type", "operation_type", "system_mandatory", "webhook",
    "blueprint_supported", "virtual_field", "field_read_only", "customizable_properties",
    "read_only", "custom_field", "businesscard_supported", "filterable", "visible",
    "available_in_user_layout", "display_field", "pick_list_values_sorted_lexically",
    "sortable", "layout_associations", "separator", "searchable", "enable_colour_code",
    "mass_update", "json_type", "created_source", "type", "display_label", "column_name",
    "api_name", "display_type", "ui_type", "colour_code_enabled_by_system", "length",
    "decimal_place", "quick_sequence_number", "email_parser", "rollup_summary",
    "refer_from_field", "created_time", "modified_time", "show_type", "category", "id",
    "multi_module_lookup", "sharing_properties", "currency", "file_upolad_optionlist", "lookup",
    "profiles", "view_type", "unique", "sub_module", "subform", "external", "formula",
    "convert_mapping", "multiselectlookup", "multiuserlookup", "autonumber", "auto_number",
    "pick_list_values", "crypt", "tooltip", "history_tracking", "association_details",
    "allowed_modules", "additional_column", "field_label", "common.picklist",
    "hipaa_compliance_enabled", "hipaa_compliance", "_update_existing_records",
    "number_separator", "textarea", "static_field",
)


def test_every_field_carries_the_keys_the_oas_requires(sandbox: Sandbox) -> None:
    for module in ("Contacts", "Leads", "Accounts"):
        for name, field in fields(sandbox, module).items():
            missing = [key for key in OAS_FIELD_REQUIRED if key not in field]
            assert missing == [], (module, name, missing)
