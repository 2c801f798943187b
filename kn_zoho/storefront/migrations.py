"""Apply the SQL migrations in ``supabase/migrations`` in order, once each.

The same files run on the live Supabase database; this runner records what it applied in
``integration.schema_migrations`` and holds an advisory lock so two upgrades never interleave.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import sqlalchemy as sa

# Arbitrary constant naming the "schema upgrade" advisory lock.
_UPGRADE_LOCK_ID = 0x6B6E5A4F484F01


@dataclass(frozen=True)
class Migration:
    version: str
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def migrations_dir() -> Path:
    """``supabase/migrations`` in a source checkout, else the copy packaged in the wheel."""
    source_tree = Path(__file__).resolve().parents[2] / "supabase" / "migrations"
    if source_tree.is_dir():
        return source_tree
    return Path(str(resources.files("kn_zoho.storefront") / "migrations"))


def load_migrations(folder: Path | None = None) -> list[Migration]:
    """Every ``<version>_<name>.sql`` file, ordered by version."""
    found = []
    for path in sorted((folder or migrations_dir()).glob("*.sql")):
        version, _, name = path.stem.partition("_")
        if not version.isdigit():
            raise ValueError(f"migration file {path.name} must start with a numeric version")
        found.append(Migration(version, name, path.read_text()))
    return found


def baseline_sql() -> str:
    """baseline.sql, then its continuations (``baseline_<concept>.sql``, in name order)."""
    here = Path(__file__).parent
    parts = [here / "baseline.sql", *sorted(here.glob("baseline_*.sql"))]
    return "\n".join(part.read_text() for part in parts)


def _exec_script(conn: sa.Connection, sql: str) -> None:
    """Run a multi-statement SQL script on the current transaction.

    Sent through the driver without parameters, so ``%`` in the SQL (format('%I')) is literal.
    """
    conn.connection.driver_connection.execute(sql)


def upgrade(engine: sa.Engine, *, with_baseline: bool = False) -> list[str]:
    """Apply pending migrations (after the storefront baseline if asked); return what ran."""
    applied_now: list[str] = []
    with engine.begin() as conn:
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:id)"), {"id": _UPGRADE_LOCK_ID})
        if with_baseline:
            _exec_script(conn, baseline_sql())
        conn.exec_driver_sql(
            """
            CREATE SCHEMA IF NOT EXISTS integration;
            CREATE TABLE IF NOT EXISTS integration.schema_migrations (
                version     text PRIMARY KEY,
                name        text NOT NULL,
                checksum    text NOT NULL,
                applied_at  timestamptz NOT NULL DEFAULT now()
            );
            ALTER TABLE integration.schema_migrations ENABLE ROW LEVEL SECURITY;
            """
        )
        done = {
            row.version: row.checksum
            for row in conn.execute(
                sa.text("SELECT version, checksum FROM integration.schema_migrations")
            )
        }
        for migration in load_migrations():
            if migration.version in done:
                if done[migration.version] != migration.checksum:
                    raise RuntimeError(
                        f"migration {migration.version}_{migration.name} was changed after it "
                        "was applied; add a new migration instead of editing an applied one"
                    )
                continue
            _exec_script(conn, migration.sql)
            conn.execute(
                sa.text(
                    "INSERT INTO integration.schema_migrations (version, name, checksum) "
                    "VALUES (:version, :name, :checksum)"
                ),
                {"version": migration.version, "name": migration.name,
                 "checksum": migration.checksum},
            )
            applied_now.append(f"{migration.version}_{migration.name}")
    return applied_now
