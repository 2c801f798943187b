"""Dagster test fixtures: an ephemeral instance and the CRM resources pointed at the sandbox."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from cryptography.fernet import Fernet
from dagster import DagsterInstance

from kn_zoho.defs.resources import StorefrontDatabase, ZohoCrmResource
from kn_zoho.sandbox import credentials


@pytest.fixture
def instance() -> Iterator[DagsterInstance]:
    with DagsterInstance.ephemeral() as instance:
        yield instance


@pytest.fixture
def retry_base_seconds() -> float:
    """The queue's backoff base for the test (a module overrides it to time retries)."""
    return 0.0


@pytest.fixture
def resources(database_url: str, sandbox, retry_base_seconds: float,
              monkeypatch: pytest.MonkeyPatch) -> dict:
    monkeypatch.setenv("KN_ZOHO_SECRET_KEY", Fernet.generate_key().decode())
    monkeypatch.setenv("KN_ZOHO_RETRY_BASE_SECONDS", f"{retry_base_seconds:g}")
    storefront = StorefrontDatabase(database_url=database_url)
    zoho = ZohoCrmResource(
        storefront=storefront, client_id=credentials.DEMO_CLIENT_ID,
        client_secret=credentials.DEMO_CLIENT_SECRET,
        refresh_token=credentials.DEMO_REFRESH_TOKEN, accounts_url=sandbox.base_url,
        attempts_per_call=1, retry_backoff_seconds=0.001)
    return {"storefront": storefront, "zoho_crm": zoho}
