"""A fake Zoho accounts server, fake credentials and helpers for the Zoho client tests.

The fake Zoho lives at 127.0.0.1 URLs answered by ``responses``: nothing leaves the process.
"""

from __future__ import annotations

import json
import time
from typing import Any

import responses
import sqlalchemy as sa

from kn_zoho.zoho.http import HttpSettings
from kn_zoho.zoho.ratelimit import RateLimit

ACCOUNTS_URL = "http://127.0.0.1:9/accounts"
TOKEN_URL = ACCOUNTS_URL + "/oauth/v2/token"
API_DOMAIN = "http://127.0.0.1:9/api"
CLIENT_SECRET = "client-secret-0123456789abcdef"
REFRESH_TOKEN = "1000.refresh-token-0123456789abcdef"
ORGANIZATION_ID = "60012345678"

FAST = HttpSettings(
    backoff_base=0.01,
    backoff_max=0.01,
    books_rate_limit=RateLimit(1_000_000),
    crm_rate_limit=RateLimit(1_000_000),
)


def token_reply(n: int, expires_in: int = 3600) -> dict[str, Any]:
    return {
        "access_token": access_token(n),
        "expires_in": expires_in,
        "api_domain": API_DOMAIN,
        "token_type": "Bearer",
        "scope": "ZohoCRM.modules.ALL,ZohoBooks.fullaccess.all",
    }


def access_token(n: int) -> str:
    return f"1000.access-token-{n:04d}-abcdef0123456789"


class Accounts:
    """A fake accounts server: hands out numbered tokens, counts refreshes."""

    def __init__(self, mock: responses.RequestsMock, expires_in: int = 3600) -> None:
        self.refreshes = 0
        self.expires_in = expires_in
        self.reply: dict[str, Any] | None = None  # set to answer with an error instead
        self.delay = 0.0  # seconds each refresh takes (widens race windows)
        mock.add_callback(responses.POST, TOKEN_URL, callback=self._answer)

    def _answer(self, request: Any) -> tuple[int, dict[str, str], str]:
        self.refreshes += 1
        time.sleep(self.delay)
        body = self.reply or token_reply(self.refreshes, self.expires_in)
        return 200, {"Content-Type": "application/json"}, json.dumps(body)


def database_text(engine: sa.Engine) -> str:
    """Every row of every table in the public and integration schemas, as one text."""
    with engine.connect() as conn:
        tables = conn.execute(sa.text(
            "SELECT format('%I.%I', schemaname, tablename) FROM pg_tables"
            " WHERE schemaname IN ('public', 'integration')"
        )).scalars().all()
        return "\n".join(
            str(row)
            for table in tables
            for row in conn.execute(sa.text(f"SELECT row_to_json(t)::text FROM {table} t"))
            .scalars()
        )
