"""Zoho settings that change rarely (the Books tax table), kept in Postgres for every run.

Every Dagster run is its own process, so reading the tax table once per run would cost one
Books call per sensor run (up to about 2,900 a day at a 30 s sensor, against a daily allowance
of 1,000 to 10,000). The reply is kept in ``integration.zoho_settings_cache`` for
``KN_ZOHO_SETTINGS_CACHE_SECONDS`` (default 600; 0 reads Zoho every time) and shared by every
process. A tax group added in Books is seen within that time; ``kn-zoho doctor`` always asks
Zoho itself.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, Protocol

import sqlalchemy as sa

from kn_zoho.env import env_number

TTL_ENV = "KN_ZOHO_SETTINGS_CACHE_SECONDS"
DEFAULT_TTL_SECONDS = 600.0


class SettingsCache(Protocol):
    def get(self, key: str, fetch: Callable[[], Any]) -> Any:
        """The cached value of ``key`` while fresh, else ``fetch()`` (stored for the next)."""
        ...


class PostgresSettingsCache:
    """A fresh-enough copy in Postgres, on the database clock."""

    _READ = sa.text(
        "SELECT value FROM integration.zoho_settings_cache WHERE key = :key"
        " AND fetched_at > now() - make_interval(secs => :ttl)")
    _WRITE = sa.text(
        "INSERT INTO integration.zoho_settings_cache (key, value, fetched_at)"
        " VALUES (:key, CAST(:value AS jsonb), now())"
        " ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, fetched_at = now()")

    def __init__(self, engine: sa.Engine, *, ttl_seconds: float | None = None) -> None:
        self._engine = engine
        self.ttl_seconds = (env_number(TTL_ENV, DEFAULT_TTL_SECONDS) if ttl_seconds is None
                            else ttl_seconds)

    def get(self, key: str, fetch: Callable[[], Any]) -> Any:
        if self.ttl_seconds <= 0:
            return fetch()
        with self._engine.connect() as conn:
            cached = conn.execute(self._READ, {"key": key, "ttl": self.ttl_seconds}).first()
        if cached is not None:
            return cached.value
        value = fetch()
        with self._engine.begin() as conn:
            conn.execute(self._WRITE, {"key": key, "value": json.dumps(value)})
        return value
