"""ZohoHttp with the daily budget: what a call costs, Zoho's signals correct the ledger, and a
spent budget sends nothing."""

from __future__ import annotations

import pytest
import responses
import sqlalchemy as sa

from kn_zoho.zoho.auth import TokenStore
from kn_zoho.zoho.budget import BudgetSettings, ZohoBudgetSpent
from kn_zoho.zoho.budget_ledger import PostgresCallBudget
from kn_zoho.zoho.budget_status import budget_states
from kn_zoho.zoho.errors import ZohoRateLimitError
from kn_zoho.zoho.http import ZohoHttp
from kn_zoho.zoho.ratelimit import LocalRateLimiter
from kn_zoho_tests.zoho.fakes import API_DOMAIN, FAST, ORGANIZATION_ID, Accounts

CONTACTS = API_DOMAIN + "/crm/v8/Contacts"
INVOICES = API_DOMAIN + "/books/v3/invoices"


def _http(tokens: TokenStore, engine: sa.Engine, settings: BudgetSettings) -> ZohoHttp:
    return ZohoHttp(tokens, settings=FAST, rate_limiter=LocalRateLimiter(), sleep=lambda _: None,
                    budget=PostgresCallBudget(engine, settings))


def _sent(mock: responses.RequestsMock, url: str) -> int:
    return sum(1 for call in mock.calls if call.request.url.startswith(url))


def test_crm_upsert_costs_a_credit_per_ten_records_and_zohos_header_corrects_the_count(
        tokens: TokenStore, engine: sa.Engine, mock: responses.RequestsMock,
        accounts: Accounts) -> None:
    http = _http(tokens, engine, BudgetSettings(crm_daily_credits=100, block=1))
    mock.post(CONTACTS + "/upsert", json={"data": []},
              headers={"X-API-CREDITS-REMAINING": "4"})  # others spent most of it
    http.request("POST", "/crm/v8/Contacts/upsert", json={"data": [{}] * 25})
    [state] = budget_states(engine)
    assert state.used == 3  # 25 records: 3 credits
    mock.get(CONTACTS, json={"data": []})
    for _ in range(4):  # Zoho's 4 remaining credits, counted from the next reservation on
        http.request("GET", "/crm/v8/Contacts")
    with pytest.raises(ZohoBudgetSpent, match="daily CRM credit budget spent, resumes at"):
        http.request("GET", "/crm/v8/Contacts")
    assert _sent(mock, CONTACTS) == 5  # the refused call was never sent
    http.close()


def test_books_code_45_spends_the_day_and_later_calls_are_not_sent(
        tokens: TokenStore, engine: sa.Engine, mock: responses.RequestsMock,
        accounts: Accounts) -> None:
    http = _http(tokens, engine, BudgetSettings(books_daily_calls=1000))
    mock.get(INVOICES, status=429, json={"code": 45, "message": "daily limit exceeded"})
    with pytest.raises(ZohoRateLimitError) as refused:
        http.request("GET", "/books/v3/invoices", params={"organization_id": ORGANIZATION_ID})
    assert not isinstance(refused.value, ZohoBudgetSpent) and refused.value.code == 45
    [state] = budget_states(engine)
    assert state.refused_at is not None and state.used == state.allowance == 1000
    with pytest.raises(ZohoBudgetSpent, match="daily Books budget spent, resumes at"):
        http.request("GET", "/books/v3/invoices", params={"organization_id": ORGANIZATION_ID})
    assert _sent(mock, INVOICES) == 1
    assert http.rate_limited == 1
    http.close()
