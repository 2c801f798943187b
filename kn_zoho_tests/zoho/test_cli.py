"""`kn-zoho api`: one call through the shared token store, JSON out, exit 1 on errors."""

from __future__ import annotations

import json

import pytest
import responses
from click.testing import CliRunner
from cryptography.fernet import Fernet

from kn_zoho.zoho.cli import api_command
from kn_zoho_tests.zoho.fakes import (
    ACCOUNTS_URL,
    API_DOMAIN,
    CLIENT_SECRET,
    ORGANIZATION_ID,
    REFRESH_TOKEN,
    Accounts,
)


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, database_url: str) -> None:
    for name, value in {
        "ZOHO_ACCOUNTS_URL": ACCOUNTS_URL,
        "ZOHO_CLIENT_ID": "1000.CLIENTID",
        "ZOHO_CLIENT_SECRET": CLIENT_SECRET,
        "ZOHO_REFRESH_TOKEN": REFRESH_TOKEN,
        "ZOHO_BOOKS_ORGANIZATION_ID": ORGANIZATION_ID,
        "KN_ZOHO_SECRET_KEY": Fernet.generate_key().decode(),
        "KN_ZOHO_DATABASE_URL": database_url,
    }.items():
        monkeypatch.setenv(name, value)


def test_books_call_adds_the_organization(env: None, mock: responses.RequestsMock,
                                          accounts: Accounts) -> None:
    mock.get(API_DOMAIN + "/books/v3/invoices",
             json={"code": 0, "message": "success", "invoices": []})
    result = CliRunner().invoke(api_command, ["GET", "/books/v3/invoices?status=paid"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == {"code": 0, "message": "success", "invoices": []}
    assert mock.calls[-1].request.params == {"status": "paid", "organization_id": ORGANIZATION_ID}


def test_post_with_data(env: None, mock: responses.RequestsMock, accounts: Accounts) -> None:
    mock.post(API_DOMAIN + "/crm/v8/Leads", status=201, json={"data": [{"status": "success"}]})
    result = CliRunner().invoke(api_command, ["post", "/crm/v8/Leads", "--data",
                                              '{"data": [{"Last_Name": "Rao"}]}'])
    assert result.exit_code == 0, result.output
    assert json.loads(mock.calls[-1].request.body) == {"data": [{"Last_Name": "Rao"}]}


def test_error_reply_is_printed_and_exits_1(env: None, mock: responses.RequestsMock,
                                            accounts: Accounts) -> None:
    reply = {"code": 1002, "message": "Invoice does not exist."}
    mock.get(API_DOMAIN + "/books/v3/invoices/1", status=404, json=reply)
    result = CliRunner().invoke(api_command, ["GET", "/books/v3/invoices/1"])
    assert result.exit_code == 1
    assert json.loads(result.stdout) == reply


def test_missing_configuration_is_named(env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ZOHO_REFRESH_TOKEN")
    result = CliRunner().invoke(api_command, ["GET", "/crm/v8/Contacts"])
    assert result.exit_code == 1
    assert "ZOHO_REFRESH_TOKEN" in result.output
