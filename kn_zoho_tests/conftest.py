"""Real PostgreSQL for every test.

The server is the one named by ``KN_ZOHO_TEST_DATABASE_URL`` if set (it needs CREATEDB),
else an embedded PostgreSQL started for this test session. Each test gets its own database,
cloned from a template that already has the storefront baseline and every migration, so a
test starts clean in tens of milliseconds.
"""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from kn_zoho.storefront import db, migrations

TEST_DATABASE_URL_ENV = "KN_ZOHO_TEST_DATABASE_URL"


def _with_database(url: str, name: str) -> str:
    """The same server URL pointing at another database."""
    return sa.engine.make_url(url).set(database=name).render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def pg_server_url() -> Iterator[str]:
    """Maintenance URL of the PostgreSQL server the tests run on.

    The embedded server's folder is its own (not under pytest's basetemp, which a concurrent
    pytest session may clean up while this one still runs).
    """
    configured = os.environ.get(TEST_DATABASE_URL_ENV)
    if configured:
        yield db.sqlalchemy_url(configured)
        return
    import pgserver

    server = pgserver.get_server(tempfile.mkdtemp(prefix="kn_zoho_pg_"), cleanup_mode="delete")
    try:
        yield db.sqlalchemy_url(server.get_uri())
    finally:
        server.cleanup()


@pytest.fixture(scope="session")
def admin_engine(pg_server_url: str) -> Iterator[sa.Engine]:
    engine = sa.create_engine(pg_server_url, isolation_level="AUTOCOMMIT")
    yield engine
    engine.dispose()


def _create_database(admin_engine: sa.Engine, template: str | None = None) -> str:
    name = f"kn_zoho_test_{uuid.uuid4().hex[:12]}"
    clause = f' TEMPLATE "{template}"' if template else ""
    with admin_engine.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"{clause}')
    return name


def _drop_database(admin_engine: sa.Engine, name: str) -> None:
    with admin_engine.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def template_database(admin_engine: sa.Engine, pg_server_url: str) -> Iterator[str]:
    """A database with the storefront baseline and all migrations, cloned per test."""
    name = _create_database(admin_engine)
    engine = sa.create_engine(_with_database(pg_server_url, name))
    migrations.upgrade(engine, with_baseline=True)
    engine.dispose()
    yield name
    _drop_database(admin_engine, name)


@pytest.fixture
def database_url(admin_engine: sa.Engine, pg_server_url: str, template_database: str
                 ) -> Iterator[str]:
    """A fresh, fully migrated storefront database for this test."""
    name = _create_database(admin_engine, template=template_database)
    yield _with_database(pg_server_url, name)
    _drop_database(admin_engine, name)


@pytest.fixture
def empty_database_url(admin_engine: sa.Engine, pg_server_url: str) -> Iterator[str]:
    """A fresh database with nothing in it (for migration tests)."""
    name = _create_database(admin_engine)
    yield _with_database(pg_server_url, name)
    _drop_database(admin_engine, name)


@pytest.fixture
def engine(database_url: str) -> Iterator[sa.Engine]:
    engine = db.create_engine(database_url)
    yield engine
    engine.dispose()


# --- the bundled Zoho sandbox over real HTTP, and clients pointed at it ----------------------

@pytest.fixture(scope="session")
def sandbox_server() -> Iterator[object]:
    """One sandbox on a free loopback port for the whole session (reset per test)."""
    from kn_zoho.sandbox.config import SandboxConfig
    from kn_zoho.sandbox.server import start_sandbox

    with start_sandbox(SandboxConfig(seed=7)) as server:
        yield server


@pytest.fixture
def sandbox(sandbox_server: object) -> Iterator[SandboxAdmin]:
    admin = SandboxAdmin(sandbox_server.base_url)
    admin.post("/__sandbox/reset")
    yield admin
    admin.post("/__sandbox/faults", {"error_rate": 0, "write_error_rate": 0,
                                     "lost_response_rate": 0, "latency_ms": 0,
                                     "timeout_rate": 0})


class SandboxAdmin:
    """The sandbox's admin API, for arranging faults and reading what Zoho holds."""

    def __init__(self, base_url: str) -> None:
        import requests

        self.base_url = base_url
        self._session = requests.Session()

    def post(self, path: str, body: dict | None = None) -> dict:
        reply = self._session.post(self.base_url + path, json=body or {}, timeout=10)
        reply.raise_for_status()
        return reply.json() if reply.content else {}

    def records(self, kind: str) -> list[dict]:
        reply = self._session.get(f"{self.base_url}/__sandbox/records/{kind}", timeout=10)
        reply.raise_for_status()
        return reply.json()

    def stats(self) -> dict:
        return self._session.get(f"{self.base_url}/__sandbox/stats", timeout=10).json()

    def faults(self, **faults: float) -> None:
        self.post("/__sandbox/faults", faults)

    def write_calls(self, prefix: str) -> int:
        """API calls other than GET whose endpoint starts with ``prefix``."""
        return sum(n for endpoint, n in self.stats()["requests_by_endpoint"].items()
                   if not endpoint.startswith("GET ") and prefix in endpoint)


@pytest.fixture
def zoho_config(sandbox: SandboxAdmin) -> object:
    from kn_zoho.sandbox import credentials
    from kn_zoho.zoho.config import ZohoConfig

    return ZohoConfig(client_id=credentials.DEMO_CLIENT_ID,
                      client_secret=credentials.DEMO_CLIENT_SECRET,
                      refresh_token=credentials.DEMO_REFRESH_TOKEN,
                      books_organization_id=credentials.DEMO_ORGANIZATION_ID,
                      accounts_url=sandbox.base_url)


def _clients(engine: sa.Engine, zoho_config: object, **settings: object) -> object:
    from cryptography.fernet import Fernet

    from kn_zoho.zoho.factory import build_zoho_clients
    from kn_zoho.zoho.http import HttpSettings

    return build_zoho_clients(
        engine, zoho_config, secret_key=Fernet.generate_key(),
        settings=HttpSettings(backoff_base=0.001, backoff_max=0.01, read_timeout=5,
                              **settings))


@pytest.fixture
def zoho_clients(engine: sa.Engine, zoho_config: object) -> Iterator[object]:
    """CRM and Books clients on this test's database, with near-zero in-call backoff."""
    clients = _clients(engine, zoho_config)
    yield clients
    clients.close()


@pytest.fixture
def unpaced_crm_clients(engine: sa.Engine, zoho_config: object) -> Iterator[object]:
    """As ``zoho_clients``, without our own 100-a-minute CRM pacing (the sandbox's CRM has no
    per-minute limit): for tests whose records go one call each, e.g. after a killed run."""
    from kn_zoho.zoho.ratelimit import RateLimit

    clients = _clients(engine, zoho_config, crm_rate_limit=RateLimit(100_000))
    yield clients
    clients.close()
