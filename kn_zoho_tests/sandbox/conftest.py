"""A sandbox app per test, driven in-process with a clock the test controls."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.exceptions import StarletteDeprecationWarning

from kn_zoho.sandbox import (
    DEMO_CLIENT_ID,
    DEMO_CLIENT_SECRET,
    DEMO_ORGANIZATION_ID,
    DEMO_REFRESH_TOKEN,
    SandboxConfig,
    SandboxState,
    create_app,
)

with warnings.catch_warnings():  # starlette suggests httpx2, which the project does not use
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from starlette.testclient import TestClient

START = 1_767_225_600.0  # 2026-01-01T00:00:00Z, 05:30 in India

REFRESH_PARAMS = {
    "grant_type": "refresh_token",
    "client_id": DEMO_CLIENT_ID,
    "client_secret": DEMO_CLIENT_SECRET,
    "refresh_token": DEMO_REFRESH_TOKEN,
}


class FakeClock:
    """Time that moves only when the test says so."""

    def __init__(self, now: float = START) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def in_process_client(app: Starlette) -> TestClient:
    return TestClient(app)


@dataclass
class Sandbox:
    """One in-process sandbox: raw client, its state and clock, and an access token."""

    client: TestClient
    state: SandboxState
    clock: FakeClock

    def refresh(self, **overrides: str) -> httpx.Response:
        return self.client.post("/oauth/v2/token", params={**REFRESH_PARAMS, **overrides})

    def token(self) -> str:
        return self.refresh().json()["access_token"]

    def crm(self, method: str, path: str, token: str | None = None,
            headers: dict[str, str] | None = None, **kwargs: Any) -> httpx.Response:
        return self.client.request(method, f"/crm/v8/{path}",
                                   headers=self._auth(token, headers), **kwargs)

    def books(self, method: str, path: str, token: str | None = None,
              params: dict[str, Any] | None = None, headers: dict[str, str] | None = None,
              **kwargs: Any) -> httpx.Response:
        params = {"organization_id": DEMO_ORGANIZATION_ID, **(params or {})}
        return self.client.request(method, f"/books/v3/{path}", params=params,
                                   headers=self._auth(token, headers), **kwargs)

    def _auth(self, token: str | None, headers: dict[str, str] | None) -> dict[str, str]:
        return {"Authorization": f"Zoho-oauthtoken {token or self.default_token}",
                **(headers or {})}

    @property
    def default_token(self) -> str:
        if not hasattr(self, "_token"):
            self._token = self.token()
        return self._token

    def tax_id(self, name: str) -> str:
        taxes = self.books("GET", "settings/taxes").json()["taxes"]
        return next(tax["tax_id"] for tax in taxes if tax["tax_name"] == name)

    def customer(self, name: str = "Asha Rao", email: str | None = None,
                 **fields: Any) -> dict[str, Any]:
        """A consumer contact; ``email`` goes to its primary contact person, as in Books."""
        body = {"contact_name": name, "gst_treatment": "consumer", "place_of_contact": "KA",
                **fields}
        if email is not None:
            body["contact_persons"] = [{"email": email, "is_primary_contact": True}]
        reply = self.books("POST", "contacts", json=body)
        assert reply.status_code == 201, reply.text
        return reply.json()["contact"]

    def item(self, sku: str = "SEED-1", rate: float = 100, stock: float = 50,
             **fields: Any) -> dict[str, Any]:
        body = {
            "name": f"Item {sku}", "sku": sku, "rate": rate, "product_type": "goods",
            "item_type": "inventory", "hsn_or_sac": "12099190", "initial_stock": stock,
            "item_tax_preferences": [
                {"tax_id": self.tax_id("GST18"), "tax_specification": "intra"},
                {"tax_id": self.tax_id("IGST18"), "tax_specification": "inter"},
            ],
            **fields,
        }
        reply = self.books("POST", "items", json=body)
        assert reply.status_code == 201, reply.text
        return reply.json()["item"]


def make_sandbox(config: SandboxConfig | None = None) -> Sandbox:
    clock = FakeClock()
    app = create_app(config, clock=clock)
    return Sandbox(in_process_client(app), app.state.sandbox, clock)


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    yield make_sandbox()
