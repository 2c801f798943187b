"""Build the Zoho clients the sync code and the Dagster resources use.

One :class:`ZohoHttp` (one connection pool, one call counter) and one :class:`TokenStore`
serve both products, so CRM and Books share the access token and its refreshes.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from kn_zoho.zoho.auth import TokenStore, load_secret_key
from kn_zoho.zoho.books import BooksClient
from kn_zoho.zoho.budget import CallBudget
from kn_zoho.zoho.budget_ledger import PostgresCallBudget
from kn_zoho.zoho.config import ZohoConfig
from kn_zoho.zoho.crm import CrmClient
from kn_zoho.zoho.http import HttpSettings, ZohoHttp
from kn_zoho.zoho.ratelimit import PostgresRateLimiter, RateLimiter
from kn_zoho.zoho.redaction import install_log_redaction
from kn_zoho.zoho.session import ZohoSession
from kn_zoho.zoho.settings_cache import PostgresSettingsCache


@dataclass(frozen=True)
class ZohoClients:
    config: ZohoConfig
    tokens: TokenStore
    http: ZohoHttp
    crm: CrmClient
    books: BooksClient

    def close(self) -> None:
        self.http.close()


def build_zoho_clients(
    engine: sa.Engine,
    config: ZohoConfig,
    *,
    secret_key: bytes | None = None,
    embedded_default: bool = False,
    settings: HttpSettings | None = None,
    rate_limiter: RateLimiter | None = None,
    budget: CallBudget | None = None,
) -> ZohoClients:
    """CRM and Books clients on the storefront database's token store and rate limits.

    ``secret_key`` defaults to :func:`load_secret_key` (``embedded_default``: the database is
    the embedded demo one, so a key file may be generated). The rate limiter defaults to the
    Postgres one shared by every process, and so does the daily call budget
    (:class:`PostgresCallBudget`, allowances from the environment). Log redaction is
    switched on for the process.
    """
    install_log_redaction()
    settings = settings or HttpSettings.from_env()
    session = ZohoSession()
    tokens = TokenStore(
        engine,
        config,
        secret_key or load_secret_key(embedded_default),
        session=session,
        timeout=(settings.connect_timeout, settings.read_timeout),
    )
    http = ZohoHttp(
        tokens,
        settings=settings,
        rate_limiter=rate_limiter or PostgresRateLimiter(engine),
        session=session,
        budget=budget or PostgresCallBudget(engine),
    )
    return ZohoClients(
        config=config,
        tokens=tokens,
        http=http,
        crm=CrmClient(http),
        books=BooksClient(http, config.books_organization_id,
                          settings_cache=PostgresSettingsCache(engine)),
    )
