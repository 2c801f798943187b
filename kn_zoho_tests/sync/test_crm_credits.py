"""CRM's API credits end to end: a CRM org with fewer credits than we were told stops our
sync through Zoho's remaining-credits header before Zoho refuses a call, the records wait
without losing attempts, and the rest go once the window has rolled."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from cryptography.fernet import Fernet

from kn_zoho.mapping.crm import CrmFieldConfig
from kn_zoho.sandbox import credentials
from kn_zoho.sandbox.config import SandboxConfig
from kn_zoho.sandbox.server import RunningSandbox, start_sandbox
from kn_zoho.storefront.seed import seed
from kn_zoho.sync.crm import ContactsFlow
from kn_zoho.sync.runner import run_flow
from kn_zoho.zoho.budget import BudgetSettings
from kn_zoho.zoho.budget_ledger import PostgresCallBudget
from kn_zoho.zoho.config import ZohoConfig
from kn_zoho.zoho.factory import build_zoho_clients
from kn_zoho.zoho.http import HttpSettings
from kn_zoho.zoho.ratelimit import RateLimit

CREDITS, WINDOW = 40, 2.0  # Zoho's: 40 credits a 2-second rolling "day"


@pytest.fixture(scope="module")
def few_credits() -> Iterator[RunningSandbox]:
    with start_sandbox(SandboxConfig(seed=13, crm_credits=CREDITS,
                                     crm_credit_window_seconds=WINDOW)) as server:
        yield server


def _statuses(engine: sa.Engine) -> list[sa.Row]:
    with engine.connect() as conn:
        return conn.execute(sa.text(
            "SELECT status, attempts, last_error_code FROM integration.zoho_sync_queue "
            "WHERE entity = 'crm_contact'")).all()


def test_the_credit_header_stops_us_before_zoho_refuses_and_nothing_dies(
        engine: sa.Engine, few_credits: RunningSandbox) -> None:
    seed(engine, users=700, products=0, orders=0, inquiries=0, quote_requests=0)
    config = ZohoConfig(client_id=credentials.DEMO_CLIENT_ID,
                        client_secret=credentials.DEMO_CLIENT_SECRET,
                        refresh_token=credentials.DEMO_REFRESH_TOKEN,
                        books_organization_id=credentials.DEMO_ORGANIZATION_ID,
                        accounts_url=few_credits.base_url)
    # we were told 1,000 credits: only Zoho's header can tell us there are 40
    budget = PostgresCallBudget(engine, BudgetSettings(crm_daily_credits=1000,
                                                       window_seconds=WINDOW, block=1))
    clients = build_zoho_clients(
        engine, config, secret_key=Fernet.generate_key(), budget=budget,
        settings=HttpSettings(backoff_base=0.001, backoff_max=0.01, read_timeout=5,
                              crm_rate_limit=RateLimit(100_000)))
    try:
        first = run_flow(engine, ContactsFlow(clients.crm, CrmFieldConfig()), retry_base=0)
        assert first.paused and first.paused.startswith("daily CRM credit budget spent")
        rows = _statuses(engine)
        counts = Counter(r.status for r in rows)
        assert 0 < counts["synced"] < 700 and counts["synced"] + counts["pending"] == 700
        waiting = [r for r in rows if r.status == "pending"]
        assert {r.attempts for r in waiting} == {0}  # a budget wait is no attempt
        assert "BUDGET" in {r.last_error_code for r in waiting}  # the batch it stopped in
        assert clients.http.rate_limited == 0  # Zoho never had to refuse a call

        for _ in range(10):  # what the sensor does: wait for the window, go again
            time.sleep(WINDOW + 0.1)
            run_flow(engine, ContactsFlow(clients.crm, CrmFieldConfig()), retry_base=0)
            if all(r.status == "synced" for r in _statuses(engine)):
                break
        assert clients.http.rate_limited == 0
    finally:
        clients.close()
    rows = _statuses(engine)
    assert Counter(r.status for r in rows) == {"synced": 700}
    assert max(r.attempts for r in rows) == 1  # a budget wait never cost an attempt
    assert few_credits.state.stats.rate_limited == 0  # the sandbox refused nothing either
