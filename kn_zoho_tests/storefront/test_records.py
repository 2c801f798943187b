"""A record findable by what an admin knows: email, phone, order/quote number, SKU, name."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from kn_zoho.cli import main
from kn_zoho.storefront.records import find_records
from kn_zoho.storefront.seed import seed


@pytest.fixture
def seeded(engine: sa.Engine) -> sa.Engine:
    seed(engine, users=20, products=5, orders=10, paid_fraction=1.0, inquiries=3,
         quote_requests=2, approved_quotes=1)
    return engine


def _one(engine: sa.Engine, sql: str) -> sa.Row:
    with engine.connect() as conn:
        return conn.execute(sa.text(sql)).one()


def test_find_by_email_gives_the_contact_and_that_users_orders(seeded: sa.Engine) -> None:
    user = _one(seeded, "SELECT u.id::text AS id, u.email FROM users u "
                        "JOIN orders o ON o.user_id = u.id LIMIT 1")
    found = {(r.entity, r.record_key) for r in find_records(seeded, user.email.upper())}
    assert ("crm_contact", user.id) in found
    with seeded.connect() as conn:
        orders = {r[0] for r in conn.execute(sa.text(
            "SELECT order_number FROM orders WHERE user_id = :u"), {"u": user.id})}
    assert {("books_invoice", o) for o in orders} <= found
    assert all(e in {"crm_contact", "books_invoice", "books_estimate", "crm_lead"}
               for e, _ in found)


def test_find_by_phone_order_number_sku_and_nothing(seeded: sa.Engine) -> None:
    user = _one(seeded, "SELECT id::text AS id, phone FROM users WHERE phone LIKE '+91%' "
                        "LIMIT 1")
    spaced = f"{user.phone[3:8]} {user.phone[8:]}"  # typed as people do: 98123 45678
    assert ("crm_contact", user.id) in {(r.entity, r.record_key)
                                        for r in find_records(seeded, spaced)}
    order = _one(seeded, "SELECT order_number FROM orders LIMIT 1").order_number
    assert [r.record_key for r in find_records(seeded, order)
            if r.entity == "books_invoice"] == [order]
    sku = _one(seeded, "SELECT sku FROM products LIMIT 1").sku
    assert [(r.entity, r.record_key) for r in find_records(seeded, sku)] == [("books_item", sku)]
    assert find_records(seeded, "no-such-thing@nowhere") == []
    assert find_records(seeded, "%_%_%") == []  # LIKE wildcards are literal


def test_find_command_prints_state_error_and_a_link(seeded: sa.Engine, database_url: str,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KN_ZOHO_DAGSTER_URL", "http://dagster.local:3000")
    user = _one(seeded, "SELECT id::text AS id, email FROM users LIMIT 1")
    with seeded.begin() as conn:
        conn.execute(sa.text(
            "UPDATE integration.zoho_sync_queue SET status = 'failed', attempts = 1, "
            "last_error_code = 'INVALID_DATA', last_error_message = 'field ''gstin'': bad' "
            "WHERE record_key = :k"), {"k": user.id})
    result = CliRunner().invoke(main, ["find", user.email, "--database-url", database_url])
    assert result.exit_code == 0, result.output
    assert f"crm_contact {user.id}  [failed, attempts 1]  {user.email}" in result.output
    assert "last error: INVALID_DATA: field 'gstin': bad" in result.output
    base = "http://dagster.local:3000/assets/crm_contacts"
    assert f"state and error: {base}?view=events&partition={user.id}" in result.output
    assert f"retry (Materialize): {base}?view=partitions&partition={user.id}" in result.output
    missing = CliRunner().invoke(main, ["find", "nobody@nowhere.in",
                                        "--database-url", database_url])
    assert missing.exit_code == 1


def test_find_a_refund_by_its_order_number_and_customer_email(seeded: sa.Engine) -> None:
    from kn_zoho.storefront.seed.refunds import seed_refunds

    seed_refunds(seeded, refunds=1)
    refund = _one(seeded, "SELECT r.refund_number, o.order_number, u.email "
                          "FROM order_refunds r JOIN orders o ON o.id = r.order_id "
                          "JOIN users u ON u.id = o.user_id LIMIT 1")
    for text in (refund.order_number, refund.email, refund.refund_number):
        found = {(r.entity, r.record_key) for r in find_records(seeded, text)}
        assert ("books_credit_note", refund.refund_number) in found, text
