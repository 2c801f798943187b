"""Dagster resources: the storefront database and one resource per Zoho product.

Configured from environment variables through ``EnvVar`` (see ``definitions.py``), so secret
values never appear in the Dagster UI. Each process builds its engine and clients once.
"""

from __future__ import annotations

import dataclasses
import functools

import sqlalchemy as sa
from dagster import ConfigurableResource

from kn_zoho.storefront import db
from kn_zoho.zoho.config import DEFAULT_ACCOUNTS_URL, ZohoConfig
from kn_zoho.zoho.factory import ZohoClients, build_zoho_clients
from kn_zoho.zoho.http import HttpSettings


@functools.cache
def _engine(database_url: str | None) -> sa.Engine:
    return db.create_engine(database_url)


@functools.cache
def _clients(engine: sa.Engine, config: ZohoConfig, embedded: bool, settings: HttpSettings
             ) -> ZohoClients:
    return build_zoho_clients(engine, config, embedded_default=embedded, settings=settings)


class StorefrontDatabase(ConfigurableResource):
    """The storefront PostgreSQL (Supabase); unset URL means the embedded default."""

    database_url: str | None = None

    @property
    def embedded(self) -> bool:
        return not self.database_url

    def get_engine(self) -> sa.Engine:
        return _engine(self.database_url)


class ZohoResource(ConfigurableResource):
    """Zoho OAuth client credentials; the access token lives encrypted in the storefront DB."""

    storefront: StorefrontDatabase
    client_id: str
    client_secret: str
    refresh_token: str
    organization_id: str = ""
    accounts_url: str = DEFAULT_ACCOUNTS_URL
    attempts_per_call: int = 4  # in-call retries of one HTTP request; the queue does the rest
    retry_backoff_seconds: float = 1.0

    def get_clients(self) -> ZohoClients:
        config = ZohoConfig(client_id=self.client_id, client_secret=self.client_secret,
                            refresh_token=self.refresh_token,
                            books_organization_id=self.organization_id,
                            accounts_url=self.accounts_url)
        settings = dataclasses.replace(HttpSettings.from_env(),
                                       max_attempts=self.attempts_per_call,
                                       backoff_base=self.retry_backoff_seconds)
        return _clients(self.storefront.get_engine(), config, self.storefront.embedded, settings)


class ZohoCrmResource(ZohoResource):
    """Zoho CRM (Contacts, Leads)."""


class ZohoBooksResource(ZohoResource):
    """Zoho Books (customers, items, invoices, payments, estimates, stock)."""
