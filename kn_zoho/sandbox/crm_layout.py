"""Zoho CRM's field layout per module, ``GET /crm/v8/settings/fields`` and
``GET /crm/v8/users?type=CurrentUser``, and the admin call that changes a layout.

The layout is what the record endpoints accept: a field not in it is dropped from a write, a
unique field ("Do not allow duplicate values") refuses a second record with the same value,
and only Email (the system-defined duplicate check field of Contacts and Leads) and unique
fields may be named in ``duplicate_check_fields``. The demo layout has the standard fields we
use plus the custom fields README asks an admin to create, with Zoho's generated API names.

Reply shapes follow Zoho's OpenAPI description (github.com/zoho/crm-oas, v8.0/fields.json and
v8.0/users.json): ``{"fields": [...]}``; ``{"users": [...], "info": {...}}``.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from kn_zoho.sandbox.crm_common import crm_error
from kn_zoho.sandbox.pipeline import ApiError
from kn_zoho.sandbox.state import SandboxState, sandbox_state

SANDBOX_USER = {"name": "KN Sandbox Admin", "id": "5725767000000411001"}
OWNER = {**SANDBOX_USER, "email": "sandbox-admin@knbiosciences.example"}
# Kaizen #56 (https://help.zoho.com/portal/en/community/topic/kaizen-56-upsert-records-api):
# system-defined duplicate check fields; Leads and Contacts: Email.
SYSTEM_DUPLICATE_CHECK = {"Contacts": ("Email",), "Leads": ("Email",)}
# Zoho lets only these field types be unique (same Kaizen post): Single Line, Email, Phone,
# Number, Long Integer, URL.
UNIQUE_CAPABLE = frozenset({"text", "email", "phone", "integer", "bigint", "website"})
_JSON_TYPES = {"boolean": "boolean", "lookup": "jsonobject", "ownerlookup": "jsonobject",
               "datetime": "string"}
_LAYOUT_KEY = "crm_layout"


@dataclass(frozen=True)
class FieldSpec:
    """One field of a module's layout, as settings/fields describes it."""

    data_type: str
    length: int | None = None
    custom: bool = False
    unique: bool = False
    read_only: bool = False
    mandatory: bool = False
    label: str = ""
    pick_list_values: tuple[str, ...] = ()


def _text(length: int, **kwargs: Any) -> FieldSpec:
    return FieldSpec("text", length, **kwargs)


# Zoho's default Lead Source values, plus the two README asks an admin to add.
LEAD_SOURCES = ("-None-", "Advertisement", "Cold Call", "Employee Referral",
                "External Referral", "Online Store", "Partner", "Public Relations",
                "Sales Email Alias", "Seminar Partner", "Internal Seminar", "Trade Show",
                "Web Download", "Web Research", "Chat", "Contact Us Form", "B2B Quote Request")
_SYSTEM = {
    "Owner": FieldSpec("ownerlookup", read_only=True),
    "Created_By": FieldSpec("ownerlookup", read_only=True),
    "Modified_By": FieldSpec("ownerlookup", read_only=True),
    "Created_Time": FieldSpec("datetime", read_only=True),
    "Modified_Time": FieldSpec("datetime", read_only=True),
}
_PERSON = {
    "Salutation": _text(25), "First_Name": _text(40), "Last_Name": _text(80, mandatory=True),
    "Email": FieldSpec("email", 100), "Secondary_Email": FieldSpec("email", 100),
    "Phone": FieldSpec("phone", 30), "Mobile": FieldSpec("phone", 30),
    "Fax": FieldSpec("phone", 30), "Title": _text(100),
    "Lead_Source": FieldSpec("picklist", 120, pick_list_values=LEAD_SOURCES),
    "Description": FieldSpec("textarea", 32000), "Email_Opt_Out": FieldSpec("boolean"),
}


def default_layout() -> dict[str, dict[str, FieldSpec]]:
    """The demo org: Zoho's standard fields we touch plus the custom fields README lists."""
    return {
        "Contacts": {
            **_SYSTEM, **_PERSON, "Account_Name": FieldSpec("lookup"),
            "Department": _text(100), "Mailing_Street": _text(250),
            "Mailing_City": _text(100), "Mailing_State": _text(100), "Mailing_Zip": _text(30),
            "Mailing_Country": _text(100),
            "KN_User_ID": _text(64, custom=True, unique=True, label="KN User ID"),
            "GSTIN": _text(15, custom=True, label="GSTIN"),
            "Company_Name": _text(255, custom=True, label="Company Name"),
        },
        "Leads": {
            **_SYSTEM, **_PERSON, "Company": _text(200, mandatory=True),
            "Designation": _text(100), "Lead_Status": _text(120), "Industry": _text(120),
            "Website": FieldSpec("website", 255), "Street": _text(250), "City": _text(100),
            "State": _text(100), "Zip_Code": _text(30), "Country": _text(100),
            "KN_Reference": _text(64, custom=True, unique=True, label="KN Reference"),
        },
        # Only the layout: Contacts' Account_Name looks it up, so clients (the SDK) read it.
        "Accounts": {
            **_SYSTEM, "Account_Name": _text(200, mandatory=True), "Phone": FieldSpec("phone", 30),
            "Website": FieldSpec("website", 255), "Billing_State": _text(100),
            "Billing_Country": _text(100), "Description": FieldSpec("textarea", 32000),
        },
    }


def layout(state: SandboxState, module: str) -> dict[str, FieldSpec]:
    """The module's current layout (the default until the admin API changes it)."""
    with state.lock:
        stored = state.data.setdefault(_LAYOUT_KEY, {
            name: {api: asdict(spec) for api, spec in fields.items()}
            for name, fields in default_layout().items()})
        return {api: FieldSpec(**{**spec, "pick_list_values": tuple(spec["pick_list_values"])})
                for api, spec in stored[module].items()}


def unique_fields(fields: dict[str, FieldSpec]) -> list[str]:
    return [name for name, spec in fields.items() if spec.unique]


# --- GET /crm/v8/settings/fields ----------------------------------------------------------

def _field_id(module: str, api_name: str) -> str:
    return str(5725767000000002000 + sum(map(ord, module + "." + api_name)) * 7)


# The OAS's other required keys, with the values a plain field has.
_FIELD_DEFAULTS: dict[str, Any] = {
    "blueprint_supported": False, "customizable_properties": [],
    "available_in_user_layout": True, "pick_list_values_sorted_lexically": False,
    "layout_associations": [], "enable_colour_code": False, "display_type": -1,
    "colour_code_enabled_by_system": False, "quick_sequence_number": "",
    "created_time": None, "modified_time": None, "show_type": 7, "category": 0,
    "multi_module_lookup": None, "file_upolad_optionlist": [], "allowed_modules": [],
    "profiles": [{"permission_type": "read_write", "name": "Administrator",
                  "id": "5725767000000026011"}],
    "additional_column": None, "common.picklist": None, "hipaa_compliance_enabled": False,
    "_update_existing_records": False, "number_separator": False, "static_field": False,
    "rollup_summary": None, "email_parser": None, "refer_from_field": None,
    "sharing_properties": None, "sub_module": None, "convert_mapping": None,
    "multiuserlookup": None, "autonumber": None, "association_details": None,
    "hipaa_compliance": None, "textarea": None,
}
_UI_TYPES = {"text": 1, "textarea": 3, "email": 25, "phone": 33, "picklist": 2,
             "boolean": 301, "lookup": 133, "ownerlookup": 8, "datetime": 802, "website": 21}


def field_json(module: str, api_name: str, spec: FieldSpec, sequence: int) -> dict[str, Any]:
    """One field as settings/fields answers it (the OAS's ``fields`` schema, main keys)."""
    label = spec.label or api_name.replace("_", " ")
    field: dict[str, Any] = {
        "api_name": api_name, "id": _field_id(module, api_name), "field_label": label,
        "display_label": label, "column_name": api_name.upper(), "data_type": spec.data_type,
        "json_type": _JSON_TYPES.get(spec.data_type, "string"),
        "length": spec.length or 0, "decimal_place": None, "custom_field": spec.custom,
        "system_mandatory": spec.mandatory, "read_only": spec.read_only,
        "field_read_only": spec.read_only, "visible": True, "sequence_number": sequence,
        "created_source": "crm" if spec.custom else "default", "type": "used",
        "unique": {"casesensitive": "false"} if spec.unique else None,
        "lookup": ({"module": {"api_name": "Accounts", "id": "5725767000000002177"},
                    "display_label": "Account Name", "api_name": None, "id": None,
                    "query_details": {}, "revalidate_filter_during_edit": False,
                    "show_fields": []}
                   if spec.data_type == "lookup" else None),
        "pick_list_values": [
            {"display_value": value, "actual_value": value, "sequence_number": index,
             "type": "used", "id": str(5725767000000100000 + index)}
            for index, value in enumerate(spec.pick_list_values, start=1)],
        "filterable": True, "sortable": True, "searchable": True, "mass_update": False,
        "webhook": True, "virtual_field": False, "businesscard_supported": True,
        "display_field": api_name == "Last_Name", "separator": False,
        "associated_module": None, "auto_number": None, "crypt": None,
        "formula": None, "currency": None, "multiselectlookup": None, "subform": None,
        "tooltip": None, "history_tracking": None, "external": None,
        **_FIELD_DEFAULTS,
        "ui_type": _UI_TYPES.get(spec.data_type, 1),
        "view_type": {"view": True, "edit": not spec.read_only, "create": not spec.read_only,
                      "quick_create": spec.mandatory},
        "operation_type": {"web_update": not spec.read_only, "api_create": not spec.read_only,
                           "web_create": not spec.read_only, "api_update": not spec.read_only},
    }
    return field


async def list_fields(request: Request, state: SandboxState) -> Response:
    """GET /crm/v8/settings/fields?module=...: the module is mandatory."""
    module = request.query_params.get("module")
    if not module:
        raise crm_error(400, "REQUIRED_PARAM_MISSING", "required param is missing",
                        {"param_name": "module"})
    if module not in default_layout():
        raise crm_error(400, "INVALID_DATA", "the given module is not supported in api",
                        {"param_name": "module"})
    fields = layout(state, module)
    return JSONResponse({"fields": [field_json(module, name, spec, index)
                                    for index, (name, spec) in enumerate(fields.items(), 1)]})


# --- GET /crm/v8/users ----------------------------------------------------------------------

CURRENT_USER = {
    "id": SANDBOX_USER["id"], "zuid": "808233918", "full_name": SANDBOX_USER["name"],
    "first_name": "KN Sandbox", "last_name": "Admin", "email": OWNER["email"],
    "status": "active", "confirm": True, "role": {"name": "CEO", "id": "5725767000000026005"},
    "profile": {"name": "Administrator", "id": "5725767000000026011"},
    "country": "IN", "locale": "en_IN", "language": "en_US", "time_zone": "Asia/Kolkata",
    "time_format": "hh:mm a", "date_format": "dd/MM/yyyy", "country_locale": "en_IN",
    "decimal_separator": "Period", "number_separator": "Comma", "category": "regular_user",
    "Isonline": True, "personal_account": False, "sandboxDeveloper": False, "microsoft": False,
}


async def list_users(request: Request, state: SandboxState) -> Response:
    """GET /crm/v8/users: only ``type=CurrentUser`` (and the default, active users) here."""
    kind = request.query_params.get("type", "AllUsers")
    known = {"AllUsers", "ActiveUsers", "CurrentUser", "ActiveConfirmedUsers",
             "ConfirmedUsers", "AdminUsers", "ActiveConfirmedAdmins", "DeactiveUsers",
             "NotConfirmedUsers", "DeletedUsers"}
    if kind not in known:
        raise crm_error(400, "INVALID_DATA", "invalid data", {"param_name": "type"})
    if kind in {"DeactiveUsers", "NotConfirmedUsers", "DeletedUsers"}:
        return Response(status_code=204)
    return JSONResponse({"users": [dict(CURRENT_USER)],
                         "info": {"per_page": 200, "count": 1, "page": 1,
                                  "more_records": False}})


# --- GET /crm/v8/org (https://www.zoho.com/crm/developer/docs/api/v8/get-org-data.html) ------

ORG = {
    "id": "5725767000000411003", "zgid": "60012345678", "company_name": "KN Biosciences",
    "alias": None, "primary_email": OWNER["email"], "primary_zuid": CURRENT_USER["zuid"],
    "country": "India", "country_code": "IN", "iso_code": "INR", "currency": "Indian Rupee - INR",
    "currency_symbol": "₹", "currency_locale": "en_IN", "time_zone": "Asia/Kolkata",
    "state": "Karnataka", "city": "Bengaluru", "street": None, "zip": "560001",
    "phone": None, "mobile": None, "fax": None, "website": None, "description": None,
    "employee_count": None, "domain_name": "org60012345678", "photo_id": None,
    "mc_status": False, "gapps_enabled": False, "translation_enabled": False,
    "privacy_settings": False, "hipaa_compliance_enabled": False, "lite_users_enabled": False,
    "deletable_org_account": False, "oauth_presence": False, "max_per_page": 200,
    "type": "production", "zia_portal_id": None, "ezgid": None, "call_icon": None,
    "license_details": {"paid": True, "paid_type": "enterprise", "trial_type": None,
                        "trial_expiry": None, "paid_expiry": None, "users_license_purchased": 10},
}


async def get_org(request: Request, state: SandboxState) -> Response:
    """GET /crm/v8/org: the organization's profile (the SDK reads it for its token store)."""
    return JSONResponse({"org": [dict(ORG)]})


# --- admin: change a layout -----------------------------------------------------------------

def _admin_error(message: str) -> ApiError:
    return ApiError(JSONResponse({"error": message}, status_code=400))


async def change_field(request: Request) -> Response:
    """POST /__sandbox/crm/fields {"module", "api_name", then one of "rename_to",
    "remove": true, "unique": bool, "data_type", "length", or "add": {FieldSpec...}}:
    what an admin does in Setup > Modules and Fields. A rename keeps the stored values."""
    state = sandbox_state(request)
    try:
        body = json.loads(await request.body() or b"{}")
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise _admin_error("the body must be a JSON object")
    module, name = body.get("module"), body.get("api_name")
    if module not in default_layout() or not isinstance(name, str):
        raise _admin_error("give a module (Contacts, Leads or Accounts) and an api_name")
    with state.lock:
        layout(state, module)
        stored = state.data[_LAYOUT_KEY][module]
        records = state.collection("crm", module).values()
        if "add" in body:
            try:
                spec = FieldSpec(**{"custom": True, **body["add"]})
            except TypeError as error:
                raise _admin_error(str(error)) from None
            stored[name] = {**asdict(spec), "pick_list_values": list(spec.pick_list_values)}
        elif name not in stored:
            raise _admin_error(f"{module} has no field {name!r}")
        elif "rename_to" in body:
            new = str(body["rename_to"])
            stored[new] = stored.pop(name)
            for record in records:
                if name in record:
                    record[new] = record.pop(name)
        elif body.get("remove"):
            del stored[name]
            for record in records:
                record.pop(name, None)
        else:
            for key in ("unique", "data_type", "length"):
                if key in body:
                    stored[name][key] = body[key]
        state.save()
        return JSONResponse({"module": module,
                             "fields": sorted(state.data[_LAYOUT_KEY][module])})
