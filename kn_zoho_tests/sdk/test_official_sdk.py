"""Zoho's official CRM v8 Python SDK (PyPI zohocrmsdk8-0) against the sandbox.

A client nobody here wrote is the best proof the sandbox speaks Zoho: it parses every reply
with Zoho's own models, using the field metadata it reads from ``settings/fields``. All traffic
stays on loopback: the SDK gets a custom environment whose API and accounts URLs are the
sandbox's, and the sandbox's demo credentials in its own file token store.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from zohocrmsdk.src.com.zoho.api.authenticator.oauth_token import OAuthToken
from zohocrmsdk.src.com.zoho.api.authenticator.store.file_store import FileStore
from zohocrmsdk.src.com.zoho.api.logger import Logger
from zohocrmsdk.src.com.zoho.crm.api.dc.data_center import DataCenter
from zohocrmsdk.src.com.zoho.crm.api.initializer import Initializer
from zohocrmsdk.src.com.zoho.crm.api.parameter_map import ParameterMap
from zohocrmsdk.src.com.zoho.crm.api.record import (
    ActionWrapper,
    APIException,
    BodyWrapper,
    Field,
    Record,
    RecordOperations,
    ResponseWrapper,
    SearchRecordsParam,
    SuccessResponse,
)
from zohocrmsdk.src.com.zoho.crm.api.sdk_config import SDKConfig

from kn_zoho.sandbox import credentials


@pytest.fixture
def sdk_session(sandbox, tmp_path: Path) -> Iterator[None]:
    base = sandbox.base_url.rstrip("/")
    environment = DataCenter.Environment(base, base + "/oauth/v2/token", base)
    token = OAuthToken(client_id=credentials.DEMO_CLIENT_ID,
                       client_secret=credentials.DEMO_CLIENT_SECRET,
                       refresh_token=credentials.DEMO_REFRESH_TOKEN)
    Initializer.initialize(
        environment=environment, token=token,
        store=FileStore(file_path=str(tmp_path / "sdk_tokens.txt")),
        sdk_config=SDKConfig(auto_refresh_fields=False, pick_list_validation=False,
                             update_api_domain=False),
        resource_path=str(tmp_path),
        logger=Logger.get_instance(level=Logger.Levels.INFO,
                                   file_path=str(tmp_path / "sdk.log")))
    yield


def _ok(response) -> object:
    assert response is not None
    assert response.get_status_code() in (200, 201, 207), response.get_status_code()
    return response.get_object()


def test_sdk_inserts_upserts_gets_and_searches_a_contact(sdk_session: None, sandbox) -> None:
    operations = RecordOperations("Contacts")
    record = Record()
    record.add_field_value(Field.Contacts.last_name(), "Rao")
    record.add_field_value(Field.Contacts.email(), "asha@example.in")
    record.add_key_value("KN_User_ID", "user-1")
    body = BodyWrapper()
    body.set_data([record])
    inserted = _ok(operations.create_records(body))
    assert isinstance(inserted, ActionWrapper)
    [item] = inserted.get_data()
    assert isinstance(item, SuccessResponse), vars(item)
    record_id = item.get_details()["id"]

    record = Record()
    record.add_field_value(Field.Contacts.last_name(), "Rao-Iyer")
    record.add_field_value(Field.Contacts.email(), "new@example.in")
    record.add_key_value("KN_User_ID", "user-1")
    body = BodyWrapper()
    body.set_data([record])
    body.set_duplicate_check_fields(["KN_User_ID", "Email"])
    upserted = _ok(operations.upsert_records(body))
    [item] = upserted.get_data()
    assert isinstance(item, SuccessResponse), vars(item)
    assert item.get_details()["id"] == record_id
    assert item.get_duplicate_field() == "KN_User_ID"
    assert item.get_action().get_value() == "update"

    got = _ok(operations.get_record(int(record_id)))
    assert isinstance(got, ResponseWrapper)
    [contact] = got.get_data()
    assert contact.get_key_value("Last_Name") == "Rao-Iyer"
    assert contact.get_key_value("KN_User_ID") == "user-1"

    params = ParameterMap()
    params.add(SearchRecordsParam.email, "NEW@example.in")
    found = _ok(operations.search_records(params))
    assert [r.get_id() for r in found.get_data()] == [int(record_id)]
    assert found.get_data()[0].get_key_value("Email") == "new@example.in"
    assert found.get_info().get_count() == 1
    assert found.get_info().get_more_records() is False
    # the SDK read each module's layout from settings/fields, every call stayed on loopback
    endpoints = sandbox.stats()["requests_by_endpoint"]
    assert endpoints["GET /crm/v8/settings/fields"] >= 1
    assert sandbox.base_url.startswith("http://127.0.0.1:")


def test_sdk_reads_a_per_record_error(sdk_session: None, sandbox) -> None:
    operations = RecordOperations("Contacts")
    record = Record()
    record.add_field_value(Field.Contacts.email(), "no-last-name@example.in")
    body = BodyWrapper()
    body.set_data([record])
    reply = operations.upsert_records(body)
    assert reply.get_status_code() == 400  # every record of the batch failed
    wrapper = reply.get_object()
    assert isinstance(wrapper, ActionWrapper)
    [item] = wrapper.get_data()
    assert isinstance(item, APIException)
    assert item.get_code().get_value() == "MANDATORY_NOT_FOUND"
    assert item.get_details()["api_name"] == "Last_Name"

