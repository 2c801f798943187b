"""Fixing a failed record's data, or data it depends on, makes it due again (migration
20261121000400): its own row, its lines, its customer, its products; synced records stay."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import sqlalchemy as sa

from kn_zoho.storefront import queue
from kn_zoho.storefront.claim_sql import MAX_ATTEMPTS
from kn_zoho.storefront.outcomes import Outcome

BAD_DATA = Outcome.failure("map", "INVALID_DATA", "bad data", transient=False)


def _one(conn: sa.Connection, sql: str, **params: object) -> object:
    return conn.execute(sa.text(sql), params).scalar()


@pytest.fixture
def shop(engine: sa.Engine) -> dict[str, str]:
    """A user, two products, a paid order and an approved quote (lines of both products),
    and a contact-form submission."""
    with engine.begin() as conn:
        ids = {
            "user": _one(conn, "INSERT INTO users (email, full_name, shipping_state) "
                               "VALUES ('asha@example.in', 'Asha Rao', 'KA') RETURNING id"),
            "p1": _one(conn, "INSERT INTO products (sku, name, hsn_code, price) "
                             "VALUES ('KNB-1', 'Neem oil', '3808', 100) RETURNING id"),
            "p2": _one(conn, "INSERT INTO products (sku, name, hsn_code, price) "
                             "VALUES ('KNB-2', 'Bio fertiliser', '3101', 50) RETURNING id"),
        }
        ids["order"] = _one(conn, "INSERT INTO orders (order_number, user_id, shipping_state, "
                                  "payment_status) VALUES ('KN-1', :u, 'KA', 'paid') "
                                  "RETURNING id", u=ids["user"])
        ids["quote"] = _one(conn, "INSERT INTO b2b_quotes (quote_number, user_id, status) "
                                  "VALUES ('Q-1', :u, 'approved') RETURNING id", u=ids["user"])
        for product in ("p1", "p2"):
            conn.execute(sa.text(
                "INSERT INTO order_items (order_id, product_id, quantity, unit_price, gst_rate, "
                "line_total) VALUES (:o, :p, 1, 100, 18, 100)"),
                {"o": ids["order"], "p": ids[product]})
            conn.execute(sa.text(
                "INSERT INTO b2b_quote_items (quote_id, product_id, quantity, unit_price, "
                "gst_rate, line_total) VALUES (:q, :p, 1, 100, 18, 100)"),
                {"q": ids["quote"], "p": ids[product]})
        ids["submission"] = _one(conn, "INSERT INTO contact_submissions (name, email) "
                                       "VALUES ('Ravi', 'ravi@example.in') RETURNING id")
    return {key: str(value) for key, value in ids.items()}


def _fail(engine: sa.Engine, entity: str, key: str) -> None:
    [claim] = queue.claim(engine, entity, worker="w", keys=[key], force=True)
    with engine.begin() as conn:
        assert queue.finish(conn, claim, BAD_DATA, worker="w") == "failed"


def _succeed(engine: sa.Engine, entity: str, key: str) -> None:
    [claim] = queue.claim(engine, entity, worker="w", keys=[key], force=True)
    with engine.begin() as conn:
        assert queue.finish(conn, claim, Outcome.success("create", "z1"), worker="w") == "synced"


def _state(engine: sa.Engine, entity: str, key: str) -> tuple[str, int]:
    with engine.connect() as conn:
        row = conn.execute(sa.text(
            "SELECT status, attempts FROM integration.zoho_sync_queue "
            "WHERE entity = :e AND record_key = :k"), {"e": entity, "k": key}).one()
    return row.status, row.attempts


def _due(engine: sa.Engine, entity: str) -> set[str]:
    return {record.record_key for record in queue.due_records(engine, entity)}


def _edit(engine: sa.Engine, sql: str, **params: object) -> None:
    with engine.begin() as conn:
        conn.execute(sa.text(sql), params)


EDITS: dict[str, Callable[[dict[str, str]], tuple[str, dict[str, object]]]] = {
    "own row": lambda ids: ("UPDATE orders SET shipping_state = 'TN' WHERE id = :id",
                            {"id": ids["order"]}),
    "a line": lambda ids: ("UPDATE order_items SET quantity = 2, line_total = 200 "
                           "WHERE order_id = :id AND product_id = :p",
                           {"id": ids["order"], "p": ids["p1"]}),
    "a removed line": lambda ids: ("DELETE FROM order_items WHERE order_id = :id "
                                   "AND product_id = :p", {"id": ids["order"], "p": ids["p2"]}),
    "its customer": lambda ids: ("UPDATE users SET gstin = NULL, billing_state = 'TN' "
                                 "WHERE id = :id", {"id": ids["user"]}),
    "its product": lambda ids: ("UPDATE products SET hsn_code = '38089199' WHERE id = :id",
                                {"id": ids["p2"]}),
}


@pytest.mark.parametrize("edit", sorted(EDITS))
def test_failed_invoice_comes_back_when_what_it_is_built_from_is_fixed(
        engine: sa.Engine, shop: dict[str, str], edit: str) -> None:
    _fail(engine, "books_invoice", "KN-1")
    assert "KN-1" not in _due(engine, "books_invoice")
    sql, params = EDITS[edit](shop)
    _edit(engine, sql, **params)
    assert _state(engine, "books_invoice", "KN-1") == ("pending", 0)
    assert "KN-1" in _due(engine, "books_invoice")


@pytest.mark.parametrize("edit", ["own row", "a line", "its customer", "its product"])
def test_failed_estimate_and_quote_lead_come_back_when_fixed(
        engine: sa.Engine, shop: dict[str, str], edit: str) -> None:
    _fail(engine, "books_estimate", "Q-1")
    _fail(engine, "crm_lead", "quote-Q-1")
    sql, params = {
        "own row": ("UPDATE b2b_quotes SET shipping_state = 'KA' WHERE id = :id",
                    {"id": shop["quote"]}),
        "a line": ("UPDATE b2b_quote_items SET discount = 5 WHERE quote_id = :id",
                   {"id": shop["quote"]}),
        "its customer": ("UPDATE users SET phone = '9845012345' WHERE id = :id",
                         {"id": shop["user"]}),
        "its product": ("UPDATE products SET gst_rate = 5 WHERE id = :id", {"id": shop["p1"]}),
    }[edit]
    _edit(engine, sql, **params)
    assert "Q-1" in _due(engine, "books_estimate")
    assert "quote-Q-1" in _due(engine, "crm_lead")


def test_failed_inquiry_lead_comes_back_when_the_submission_is_fixed(
        engine: sa.Engine, shop: dict[str, str]) -> None:
    key = f"inquiry-{shop['submission']}"
    _fail(engine, "crm_lead", key)
    _edit(engine, "UPDATE contact_submissions SET email = 'ravi@example.co.in' WHERE id = :id",
          id=shop["submission"])
    assert _state(engine, "crm_lead", key) == ("pending", 0)


def test_dead_record_comes_back_too(engine: sa.Engine, shop: dict[str, str]) -> None:
    for _ in range(MAX_ATTEMPTS):
        [claim] = queue.claim(engine, "books_invoice", worker="w", keys=["KN-1"])
        with engine.begin() as conn:
            queue.finish(conn, claim, Outcome.failure("create", "500", "down", transient=True),
                         worker="w", retry_base_seconds=0)
    assert _state(engine, "books_invoice", "KN-1")[0] == "dead"
    _edit(engine, "UPDATE orders SET shipping_charge = 49 WHERE id = :id", id=shop["order"])
    assert _state(engine, "books_invoice", "KN-1") == ("pending", 0)


def test_synced_documents_and_write_backs_are_left_alone(
        engine: sa.Engine, shop: dict[str, str]) -> None:
    _succeed(engine, "books_invoice", "KN-1")
    _succeed(engine, "books_estimate", "Q-1")
    _fail(engine, "crm_lead", "quote-Q-1")
    _edit(engine, "UPDATE products SET name = 'Neem oil 1 L' WHERE id = :id", id=shop["p1"])
    assert _state(engine, "books_invoice", "KN-1")[0] == "synced"
    assert _state(engine, "books_estimate", "Q-1")[0] == "synced"
    assert _state(engine, "crm_lead", "quote-Q-1") == ("pending", 0)

    _fail(engine, "books_invoice", "KN-1")
    for sql, record in (("UPDATE orders SET zoho_books_id = 'z9' WHERE id = :id", "order"),
                        ("UPDATE users SET zoho_books_id = 'c9' WHERE id = :id", "user"),
                        ("UPDATE products SET zoho_books_id = 'i9', stock_quantity = 7 "
                         "WHERE id = :id", "p1")):
        _edit(engine, sql, id=shop[record])
    assert _state(engine, "books_invoice", "KN-1")[0] == "failed"


def test_renamed_failed_order_syncs_under_its_new_number(
        engine: sa.Engine, shop: dict[str, str]) -> None:
    _fail(engine, "books_invoice", "KN-1")
    _edit(engine, "UPDATE orders SET order_number = 'KN-0001' WHERE id = :id", id=shop["order"])
    assert {"KN-1", "KN-0001"} <= _due(engine, "books_invoice")


def test_sku_case_twin_comes_back_when_the_other_product_changes_its_sku(
        engine: sa.Engine, shop: dict[str, str]) -> None:
    with engine.begin() as conn:
        twin = str(_one(conn, "INSERT INTO products (sku, name, hsn_code, price) "
                              "VALUES ('knb-1', 'Other', '3808', 1) RETURNING id"))
        order = _one(conn, "INSERT INTO orders (order_number, user_id, shipping_state, "
                           "payment_status) VALUES ('KN-2', :u, 'KA', 'paid') RETURNING id",
                     u=shop["user"])
        conn.execute(sa.text(
            "INSERT INTO order_items (order_id, product_id, quantity, unit_price, gst_rate, "
            "line_total) VALUES (:o, :p, 1, 1, 18, 1)"), {"o": order, "p": twin})
    _fail(engine, "books_item", "knb-1")
    _fail(engine, "books_invoice", "KN-2")  # its line's SKU was the twin's
    _edit(engine, "UPDATE products SET sku = 'KNB-0001' WHERE id = :id", id=shop["p1"])
    assert _state(engine, "books_item", "knb-1") == ("pending", 0)
    assert _state(engine, "books_invoice", "KN-2") == ("pending", 0)
