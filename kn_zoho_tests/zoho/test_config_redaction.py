"""Configuration from the environment, and secrets kept out of text."""

from __future__ import annotations

import logging

import pytest

from kn_zoho.zoho.config import DEFAULT_ACCOUNTS_URL, ZohoConfig, ZohoConfigError
from kn_zoho.zoho.errors import ZohoPermanentError
from kn_zoho.zoho.redaction import RedactingFilter, redact, register_secret

ENV = {
    "ZOHO_CLIENT_ID": "1000.CLIENT",
    "ZOHO_CLIENT_SECRET": "top-secret-client-value",
    "ZOHO_REFRESH_TOKEN": "1000.top-secret-refresh",
    "ZOHO_BOOKS_ORGANIZATION_ID": "600123",
}


def test_config_from_env_defaults_to_india() -> None:
    config = ZohoConfig.from_env(ENV)
    assert config.accounts_url == DEFAULT_ACCOUNTS_URL == "https://accounts.zoho.in"
    assert ZohoConfig.from_env({**ENV, "ZOHO_ACCOUNTS_URL": "https://accounts.zoho.com/"}
                               ).accounts_url == "https://accounts.zoho.com"


@pytest.mark.parametrize("missing", sorted(ENV))
def test_missing_variable_is_named(missing: str) -> None:
    env = {k: v for k, v in ENV.items() if k != missing}
    with pytest.raises(ZohoConfigError, match=missing):
        ZohoConfig.from_env(env)


def test_repr_hides_secrets() -> None:
    text = repr(ZohoConfig.from_env(ENV))
    assert "1000.CLIENT" in text and "600123" in text
    assert ENV["ZOHO_CLIENT_SECRET"] not in text and ENV["ZOHO_REFRESH_TOKEN"] not in text


def test_redact_masks_registered_secrets_and_token_patterns() -> None:
    register_secret("s3cr3t-registered-value")
    text = redact(
        "a s3cr3t-registered-value b; Authorization: Zoho-oauthtoken 1000.abc.def; "
        "POST /oauth/v2/token?refresh_token=1000.xyz&client_secret=qq&grant_type=refresh_token; "
        '{"access_token": "1000.ghi", "api_domain": "https://www.zohoapis.in"}'
    )
    for leaked in ("s3cr3t-registered-value", "1000.abc.def", "1000.xyz", "qq&", "1000.ghi"):
        assert leaked not in text
    assert "grant_type=refresh_token" in text and "https://www.zohoapis.in" in text


def test_errors_redact_their_message() -> None:
    register_secret("another-secret-token-value")
    error = ZohoPermanentError("echoed another-secret-token-value", code="X")
    assert "another-secret-token-value" not in str(error)
    assert "another-secret-token-value" not in repr(error)


def test_redacting_filter_for_handlers() -> None:
    register_secret("filter-secret-value")
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "token %s", ("filter-secret-value",),
                               None)
    assert RedactingFilter().filter(record)
    assert record.getMessage() == "token ***"
