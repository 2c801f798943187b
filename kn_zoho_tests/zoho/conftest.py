"""Fixtures for the Zoho client tests: fake credentials, a token store on the per-test
database, and a ZohoHttp whose sleeps are recorded instead of slept."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import responses
import sqlalchemy as sa
from cryptography.fernet import Fernet

from kn_zoho.zoho.auth import TokenStore
from kn_zoho.zoho.config import ZohoConfig
from kn_zoho.zoho.http import ZohoHttp
from kn_zoho.zoho.ratelimit import LocalRateLimiter
from kn_zoho_tests.zoho.fakes import (
    ACCOUNTS_URL,
    CLIENT_SECRET,
    FAST,
    ORGANIZATION_ID,
    REFRESH_TOKEN,
    Accounts,
)


@pytest.fixture
def config() -> ZohoConfig:
    return ZohoConfig(
        client_id="1000.CLIENTID",
        client_secret=CLIENT_SECRET,
        refresh_token=REFRESH_TOKEN,
        books_organization_id=ORGANIZATION_ID,
        accounts_url=ACCOUNTS_URL,
    )


@pytest.fixture
def secret_key() -> bytes:
    return Fernet.generate_key()


@pytest.fixture
def mock() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        yield rsps


@pytest.fixture
def accounts(mock: responses.RequestsMock) -> Accounts:
    return Accounts(mock)


@pytest.fixture
def tokens(engine: sa.Engine, config: ZohoConfig, secret_key: bytes) -> TokenStore:
    return TokenStore(engine, config, secret_key)


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def http(tokens: TokenStore, sleeps: list[float]) -> ZohoHttp:
    return ZohoHttp(tokens, settings=FAST, rate_limiter=LocalRateLimiter(), sleep=sleeps.append)
