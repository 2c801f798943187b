"""Real PostgreSQL for every test.

The server is the one named by ``KN_ZOHO_TEST_DATABASE_URL`` if set (it needs CREATEDB),
else an embedded PostgreSQL started for this test session. Each test gets its own database,
cloned from a template that already has the storefront baseline and every migration, so a
test starts clean in tens of milliseconds.
"""

from __future__ import annotations

import os
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
def pg_server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Maintenance URL of the PostgreSQL server the tests run on."""
    configured = os.environ.get(TEST_DATABASE_URL_ENV)
    if configured:
        yield db.sqlalchemy_url(configured)
        return
    import pgserver

    server = pgserver.get_server(tmp_path_factory.mktemp("pg"), cleanup_mode="delete")
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
