"""The Books tax table is read from Zoho once per cache period, whatever the number of runs
(processes), and `kn-zoho doctor` still reads it live."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from kn_zoho.sync.books import BooksCatalog
from kn_zoho.zoho.settings_cache import PostgresSettingsCache
from kn_zoho_tests.sync.books_fixtures import *  # noqa: F403 - pytest fixtures
from kn_zoho_tests.sync.books_fixtures import make_clients


def _tax_reads(sandbox) -> int:
    return sandbox.calls()["GET /books/v3/settings/taxes"]


def test_runs_in_separate_processes_share_one_read_of_the_taxes(
        engine: sa.Engine, books_sandbox) -> None:
    tables = []
    for _ in range(3):  # three runs: each builds its own clients and catalog, as a process would
        clients = make_clients(engine, books_sandbox)
        try:
            tables.append(BooksCatalog(clients.books).taxes())
        finally:
            clients.close()
    assert _tax_reads(books_sandbox) == 1
    assert tables[0] == tables[1] == tables[2]


def test_a_stale_copy_is_read_again_and_doctor_always_reads_live(
        engine: sa.Engine, books_sandbox) -> None:
    clients = make_clients(engine, books_sandbox)
    try:
        clients.books.list_taxes()
        with engine.begin() as conn:  # the copy is older than the cache period
            conn.execute(sa.text("UPDATE integration.zoho_settings_cache "
                                 "SET fetched_at = now() - interval '11 minutes'"))
        clients.books.list_taxes()
        assert _tax_reads(books_sandbox) == 2
        clients.books.list_taxes(fresh=True)  # what doctor asks for
        assert _tax_reads(books_sandbox) == 3
        clients.books.list_taxes()  # the fresh copy from the second read is still valid
        assert _tax_reads(books_sandbox) == 3
    finally:
        clients.close()


def test_a_zero_period_reads_zoho_every_time(engine: sa.Engine,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KN_ZOHO_SETTINGS_CACHE_SECONDS", "0")
    cache = PostgresSettingsCache(engine)
    reads = []
    for _ in range(2):
        cache.get("k", lambda: reads.append(1) or [{"tax_id": "1"}])
    assert len(reads) == 2
    monkeypatch.setenv("KN_ZOHO_SETTINGS_CACHE_SECONDS", "ten")
    with pytest.raises(ValueError, match="KN_ZOHO_SETTINGS_CACHE_SECONDS must be a number"):
        PostgresSettingsCache(engine)
