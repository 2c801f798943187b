"""The integration migration: applies cleanly, is idempotent, has every column, locks down."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from kn_zoho.cli import main
from kn_zoho.storefront import db

INTEGRATION_TABLES = ["zoho_sync_queue", "zoho_sync_logs", "zoho_oauth_tokens",
                      "zoho_rate_limits", "stock_movements", "schema_migrations",
                      "sensor_launches",
                      "stock_pushes", "stock_invoices", "stock_levels", "zoho_settings_cache",
                      "stock_credit_notes", "zoho_call_budgets"]

REQUIRED_COLUMNS = {
    ("public", "users"): ["id", "email", "full_name", "phone", "company", "gstin",
                          "customer_type", "billing_state", "shipping_state", "created_at",
                          "updated_at", "zoho_crm_id", "zoho_books_id"],
    ("public", "products"): ["sku", "name", "hsn_code", "gst_rate", "price", "stock_quantity",
                             "is_active", "zoho_crm_id", "zoho_books_id"],
    ("public", "orders"): ["order_number", "user_id", "payment_status", "paid_at",
                           "payment_gateway_id", "shipping_state", "subtotal", "discount_total",
                           "shipping_charge", "tax_total", "grand_total", "zoho_crm_id",
                           "zoho_books_id"],
    ("public", "order_items"): ["order_id", "product_id", "quantity", "unit_price", "discount",
                                "gst_rate", "line_total"],
    ("public", "b2b_quotes"): ["quote_number", "status", "valid_until", "zoho_crm_id",
                               "zoho_books_id"],
    ("public", "b2b_quote_items"): ["quote_id", "product_id", "quantity", "unit_price"],
    ("public", "contact_submissions"): ["name", "email", "message", "zoho_crm_lead_id"],
    ("integration", "zoho_sync_logs"): ["entity", "record_key", "record_id", "operation",
                                        "status", "attempt", "error_code", "error_message",
                                        "zoho_id", "run_id", "run_kind", "started_at",
                                        "finished_at"],
    ("integration", "zoho_sync_queue"): ["entity", "record_key", "status", "attempts",
                                         "next_attempt_at", "change_version", "claimed_until",
                                         "claimed_at", "claimed_by_kind",
                                         "payload_hash", "zoho_id", "last_error_message"],
    ("integration", "zoho_oauth_tokens"): ["account_key", "access_token_encrypted",
                                           "api_domain", "expires_at"],
    ("integration", "sensor_launches"): ["entity", "record_key", "launch_id", "launched_at"],
}


def _ensure_supabase_roles(engine: sa.Engine) -> None:
    """Create Supabase's API roles as they exist on a real project (cluster-wide)."""
    with engine.connect() as conn:
        for role in ("anon", "authenticated"):
            try:
                with conn.begin():
                    conn.exec_driver_sql(f"CREATE ROLE {role} NOLOGIN")
            except sa.exc.ProgrammingError:
                pass  # exists already (roles outlive test databases)


def test_upgrade_on_empty_database_twice_via_cli(empty_database_url: str) -> None:
    runner = CliRunner()
    first = runner.invoke(main, ["db", "upgrade", "--with-baseline",
                                 "--database-url", empty_database_url])
    assert first.exit_code == 0, first.output
    assert "applied 20261120000000_zoho_integration" in first.output
    second = runner.invoke(main, ["db", "upgrade", "--with-baseline",
                                  "--database-url", empty_database_url])
    assert second.exit_code == 0, second.output
    assert "up to date" in second.output


def test_migration_sql_itself_is_idempotent(engine: sa.Engine) -> None:
    """Re-running the raw file (as a Supabase CLI might) must not fail or duplicate."""
    from kn_zoho.storefront.migrations import load_migrations

    with engine.begin() as conn:
        for migration in load_migrations():
            conn.connection.driver_connection.execute(migration.sql)


@pytest.mark.parametrize(("table", "columns"), REQUIRED_COLUMNS.items(),
                         ids=lambda v: ".".join(v) if isinstance(v, tuple) else "")
def test_required_columns_exist(engine: sa.Engine, table: tuple[str, str],
                                columns: list[str]) -> None:
    present = {c["name"] for c in sa.inspect(engine).get_columns(table[1], schema=table[0])}
    assert set(columns) - present == set()


def test_every_integration_table_has_rls_and_no_policy(engine: sa.Engine) -> None:
    with engine.connect() as conn:
        rows = conn.execute(sa.text(
            "SELECT c.relname, c.relrowsecurity, "
            "       (SELECT count(*) FROM pg_policy p WHERE p.polrelid = c.oid) AS policies "
            "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = 'integration' AND c.relkind = 'r'")).all()
    assert sorted(r.relname for r in rows) == sorted(INTEGRATION_TABLES)
    assert all(r.relrowsecurity for r in rows), [r.relname for r in rows if not r.relrowsecurity]
    assert all(r.policies == 0 for r in rows)


@pytest.mark.parametrize("role", ["anon", "authenticated"])
def test_supabase_api_roles_cannot_read_integration_tables(empty_database_url: str,
                                                           role: str) -> None:
    from kn_zoho.storefront.migrations import upgrade

    engine = db.create_engine(empty_database_url)
    _ensure_supabase_roles(engine)
    upgrade(engine, with_baseline=True)
    with engine.begin() as conn:
        conn.exec_driver_sql("INSERT INTO public.users (email) VALUES ('a@example.in')")
    for table in INTEGRATION_TABLES:
        with engine.connect() as conn, conn.begin():
            conn.exec_driver_sql(f"SET LOCAL ROLE {role}")
            with pytest.raises(sa.exc.ProgrammingError, match="permission denied"):
                conn.exec_driver_sql(f"SELECT * FROM integration.{table}")
    # Even a mistaken grant exposes nothing: RLS without a policy hides every row.
    with engine.begin() as conn:
        conn.exec_driver_sql(f"GRANT USAGE ON SCHEMA integration TO {role}")
        conn.exec_driver_sql(f"GRANT SELECT ON integration.zoho_sync_queue TO {role}")
    with engine.connect() as conn, conn.begin():
        conn.exec_driver_sql(f"SET LOCAL ROLE {role}")
        assert conn.exec_driver_sql("SELECT count(*) FROM integration.zoho_sync_queue"
                                    ).scalar() == 0
    engine.dispose()


def test_storefront_role_edit_is_captured_without_reading_rights(empty_database_url: str
                                                                 ) -> None:
    """A profile edit made through the API role still enqueues (trigger is SECURITY DEFINER)."""
    from kn_zoho.storefront.migrations import upgrade

    engine = db.create_engine(empty_database_url)
    _ensure_supabase_roles(engine)
    upgrade(engine, with_baseline=True)
    with engine.begin() as conn:
        user_id = conn.exec_driver_sql(
            "INSERT INTO public.users (email, full_name) VALUES ('b@example.in', 'B') "
            "RETURNING id").scalar()
        conn.exec_driver_sql("GRANT SELECT, UPDATE ON public.users TO authenticated")
    with engine.connect() as conn, conn.begin():
        conn.exec_driver_sql("SET LOCAL ROLE authenticated")
        conn.execute(sa.text("UPDATE public.users SET phone = '+919812345678' WHERE id = :id"),
                     {"id": user_id})
    with engine.connect() as conn:
        version = conn.execute(sa.text(
            "SELECT change_version FROM integration.zoho_sync_queue "
            "WHERE entity = 'crm_contact' AND record_key = :key"), {"key": str(user_id)}).scalar()
    assert version == 2
    engine.dispose()


def test_upgrade_refuses_an_edited_applied_migration(engine: sa.Engine) -> None:
    from kn_zoho.storefront.migrations import upgrade

    with engine.begin() as conn:
        conn.exec_driver_sql("UPDATE integration.schema_migrations SET checksum = 'x'")
    with pytest.raises(RuntimeError, match="was changed after it was applied"):
        upgrade(engine)


def test_a_storefront_without_refund_tables_still_links_its_invoices(
        empty_database_url: str) -> None:
    """The refund triggers exist only where the storefront has order_refunds: elsewhere the
    invoice write-back must not trip over a table that is not there."""
    from pathlib import Path

    from kn_zoho.storefront import migrations
    from kn_zoho.storefront.migrations import upgrade

    engine = db.create_engine(empty_database_url)
    baseline = (Path(migrations.__file__).parent / "baseline.sql").read_text()
    with engine.begin() as conn:
        migrations._exec_script(conn, baseline)  # the storefront's tables, without refunds
    upgrade(engine)
    with engine.begin() as conn:
        assert conn.execute(sa.text("SELECT to_regclass('public.order_refunds')")).scalar() \
            is None
        user = conn.execute(sa.text(
            "INSERT INTO users (email, full_name) VALUES ('a@example.in', 'A') RETURNING id"
        )).scalar()
        order = conn.execute(sa.text(
            "INSERT INTO orders (order_number, user_id, shipping_state, subtotal, grand_total) "
            "VALUES ('KN-1', :user, 'KA', 100, 100) RETURNING id"), {"user": user}).scalar()
        conn.execute(sa.text("UPDATE orders SET zoho_books_id = 'inv-1' WHERE id = :id"),
                     {"id": order})
        linked = conn.execute(sa.text("SELECT zoho_books_id FROM orders WHERE id = :id"),
                              {"id": order}).scalar()
        # an order decided never invoiced requeues its refunds: here there are none
        conn.execute(sa.text("SELECT integration.requeue_order_refunds(:id)"), {"id": order})
    from kn_zoho.storefront.records import find_records

    found = [(r.entity, r.record_key) for r in find_records(engine, "a@example.in")]
    engine.dispose()
    assert linked == "inv-1"
    assert ("crm_contact", str(user)) in found  # kn-zoho find works without refund tables
