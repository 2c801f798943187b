"""`kn-zoho seed --profile-edits ... --expired-quotes`: edits after the first sync, made as a
shopper or an admin makes them, so the triggers queue the Books work they cause."""

from __future__ import annotations

import json

import sqlalchemy as sa
from click.testing import CliRunner
from stdnum.in_ import gstin

from kn_zoho.cli import main
from kn_zoho.mapping.states import BY_CODE
from kn_zoho.storefront.seed import seed
from kn_zoho.storefront.seed.edits import apply_edits


def _rows(engine: sa.Engine, sql: str) -> list[dict]:
    with engine.connect() as conn:
        return [dict(row) for row in conn.execute(sa.text(sql)).mappings()]


def test_edits_change_linked_users_products_and_quotes_and_queue_their_books_work(
        engine: sa.Engine) -> None:
    seed(engine, users=30, products=6, orders=0, inquiries=0, quote_requests=0,
         approved_quotes=4)
    with engine.begin() as conn:  # as after a first sync: every user has a Books contact,
        conn.execute(sa.text("UPDATE users SET zoho_books_id = 'c-' || id"))
        conn.execute(sa.text("UPDATE b2b_quotes SET zoho_books_id = 'e-' || id"))
        conn.execute(sa.text("UPDATE integration.zoho_sync_queue SET status = 'synced'"))
    before = {u["id"]: u for u in _rows(engine, "SELECT * FROM users")}

    summary = apply_edits(engine, profile_edits=8, deactivations=2, reactivations=0,
                          rejected_quotes=1, expired_quotes=1, seed=3)
    assert (summary.profile_edits, summary.deactivations, summary.rejected_quotes,
            summary.expired_quotes) == (8, 2, 1, 1)
    after = {u["id"]: u for u in _rows(engine, "SELECT * FROM users")}
    edited = [i for i in after if after[i] != before[i]]
    assert len(edited) == 8
    for user_id in edited:
        user = after[user_id]
        if user["gstin"] != before[user_id]["gstin"]:  # a move: GSTIN of the new state
            assert gstin.is_valid(user["gstin"])
            assert user["gstin"][:2] == BY_CODE[user["billing_state"]].gst_number
    assert summary.gstin_changes == sum(after[i]["gstin"] != before[i]["gstin"] for i in edited)

    queued = {(r["entity"], r["status"]) for r in _rows(
        engine, "SELECT entity, status FROM integration.zoho_sync_queue "
                "WHERE status = 'pending'")}
    assert {("books_contact", "pending"), ("books_item", "pending"),
            ("books_estimate", "pending"), ("crm_contact", "pending")} <= queued
    assert [p["sku"] for p in _rows(engine, "SELECT sku FROM products WHERE NOT is_active "
                                            "ORDER BY sku")] == [
        p["sku"] for p in _rows(engine, "SELECT sku FROM products ORDER BY sku LIMIT 2")]
    statuses = sorted(q["status"] for q in _rows(engine, "SELECT status FROM b2b_quotes "
                                                         "WHERE status <> 'approved'"))
    assert statuses == ["expired", "rejected"]
    [expired] = _rows(engine, "SELECT valid_until < current_date AS passed FROM b2b_quotes "
                              "WHERE status = 'expired'")
    assert expired["passed"]

    # the next call picks the next records; reactivating puts the first one back on sale
    again = apply_edits(engine, reactivations=1, seed=3)
    assert again.reactivations == 1 and again.profile_edits == 0


def test_the_cli_reports_its_edits(engine: sa.Engine, database_url: str) -> None:
    result = CliRunner().invoke(main, [
        "seed", "--database-url", database_url, "--users", "5", "--products", "3",
        "--orders", "0", "--inquiries", "0", "--quote-requests", "0",
        "--approved-quotes", "2", "--profile-edits", "2", "--deactivations", "1",
        "--rejected-quotes", "1"])
    assert result.exit_code == 0, result.output
    edits = json.loads(result.stdout.strip().splitlines()[-1])["edits"]
    assert (edits["deactivations"], edits["rejected_quotes"], edits["expired_quotes"]) == (
        1, 1, 0)
    assert edits["gstin_changes"] + edits["phone_changes"] + edits[
        "billing_state_changes"] == 2
