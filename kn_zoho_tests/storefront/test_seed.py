"""The demo seed: realistic rows, exact money, valid GSTINs, idempotent, enqueued by triggers."""

from __future__ import annotations

import dataclasses
import random
import re
from collections import Counter
from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal

import phonenumbers
import pytest
import sqlalchemy as sa
from email_validator import validate_email
from stdnum.in_ import gstin as stdnum_gstin
from stdnum.in_ import pan as stdnum_pan

from kn_zoho.mapping.states import BY_CODE, STATES
from kn_zoho.storefront.seed import (
    IST,
    STATE_WEIGHTS,
    SeedSummary,
    generate,
    make_gstin,
    random_pan,
    seed,
)

ARGS = {"users": 150, "products": 30, "orders": 120, "paid_fraction": 0.75, "inquiries": 8,
        "quote_requests": 4, "approved_quotes": 3, "seed": 7}
DATA = generate(**ARGS)


def _rows(conn: sa.Connection, sql: str) -> list[dict]:
    return [dict(row) for row in conn.execute(sa.text(sql)).mappings()]


def _included_gst(amount: Decimal, rate: Decimal) -> Decimal:
    return (amount * rate / (100 + rate)).quantize(Decimal("0.01"), ROUND_HALF_UP)


@pytest.fixture
def seeded(engine: sa.Engine) -> sa.Engine:
    seed(engine, **ARGS)
    return engine


def test_summary_and_tables_match_the_request(engine: sa.Engine) -> None:
    summary = seed(engine, **ARGS)

    assert summary == SeedSummary(
        users=150, products=30, orders=120, paid_orders=90,
        order_items=len(DATA.order_items), inquiries=8, quote_requests=4, approved_quotes=3,
        quote_items=len(DATA.b2b_quote_items))
    with engine.connect() as conn:
        counts = {table: conn.execute(sa.text(f"SELECT count(*) FROM public.{table}")).scalar()
                  for table in ("users", "products", "orders", "order_items",
                                "contact_submissions", "b2b_quotes", "b2b_quote_items")}
    assert counts == {"users": 150, "products": 30, "orders": 120,
                      "order_items": summary.order_items, "contact_submissions": 8,
                      "b2b_quotes": 7, "b2b_quote_items": summary.quote_items}


def test_database_holds_exactly_the_generated_rows(seeded: sa.Engine) -> None:
    """Ids, emails, numbers and amounts come from the seed alone, so any database gets these."""
    with seeded.connect() as conn:
        for field in dataclasses.fields(DATA):
            generated = sorted(getattr(DATA, field.name), key=lambda row: row["id"])
            columns = ", ".join(generated[0])
            stored = _rows(conn, f"SELECT {columns} FROM public.{field.name} ORDER BY id")
            assert stored == generated, field.name


def test_generation_is_deterministic_and_prefix_stable() -> None:
    assert generate(**ARGS) == DATA
    assert generate(**{**ARGS, "seed": 8}).users[0]["email"] != DATA.users[0]["email"]
    # Asking for more users or products later adds rows without changing the first ones.
    more = generate(**{**ARGS, "users": 300, "products": 60})
    assert more.users[:150] == DATA.users
    assert more.products[:30] == DATA.products


def test_reseeding_inserts_nothing_and_enqueues_nothing_new(seeded: sa.Engine) -> None:
    with seeded.connect() as conn:
        queue_before = _rows(conn, "SELECT * FROM integration.zoho_sync_queue ORDER BY 1, 2")

    again = seed(seeded, **ARGS)

    assert again == SeedSummary(0, 0, 0, 0, 0, 0, 0, 0, 0)
    with seeded.connect() as conn:
        assert _rows(conn, "SELECT * FROM integration.zoho_sync_queue ORDER BY 1, 2") \
            == queue_before
        # Orders went in already paid (no pending -> paid update), so each record changed once.
        assert conn.execute(sa.text(
            "SELECT max(change_version) FROM integration.zoho_sync_queue")).scalar() == 1


def test_another_seed_on_top_attaches_to_the_rows_already_there(engine: sa.Engine) -> None:
    small = {"users": 30, "products": 10, "inquiries": 0, "quote_requests": 0}
    seed(engine, **small, orders=10, seed=1)

    summary = seed(engine, **small, orders=25, seed=2)

    # KN-2026-000001..10 exist; SKUs KNB-..-0001 etc. exist with seed 1's ids.
    assert summary.orders == 15
    assert summary.products < 10
    with engine.connect() as conn:
        stored_products = {row["id"] for row in _rows(conn, "SELECT id FROM public.products")}
        referenced = {row["product_id"] for row in _rows(
            conn, "SELECT product_id FROM public.order_items")}
    assert referenced <= stored_products
    second = generate(**small, orders=25, seed=2)
    assert {row["id"] for row in second.products} - stored_products  # remapping was needed


def test_gstin_helpers_produce_valid_numbers() -> None:
    assert make_gstin("27", "AAPFU0939F") == "27AAPFU0939F1ZV"  # python-stdnum's example
    rng = random.Random(3)
    for state in STATES:
        if state.code in ("LA", "OT"):  # newer than python-stdnum's state list
            continue
        pan = random_pan(rng, "C", "Kisan Agro")
        assert stdnum_pan.is_valid(pan) and pan[3:5] == "CK"
        assert stdnum_gstin.is_valid(make_gstin(state.gst_number, pan, "2"))
    assert set(STATE_WEIGHTS) <= set(BY_CODE)


def test_b2b_users_have_valid_gstins_for_their_billing_state(seeded: sa.Engine) -> None:
    with seeded.connect() as conn:
        users = _rows(conn, "SELECT * FROM public.users")
    b2b = [user for user in users if user["customer_type"] == "b2b"]

    assert 0.15 <= len(b2b) / len(users) <= 0.35
    for user in b2b:
        assert stdnum_gstin.is_valid(user["gstin"]), user
        assert user["gstin"][:2] == BY_CODE[user["billing_state"]].gst_number
        assert user["gstin"][5] in "CFPT" and user["company"]
    assert all(u["gstin"] is None and u["company"] is None for u in users if u not in b2b)


def test_contact_details_look_like_real_customers(seeded: sa.Engine) -> None:
    with seeded.connect() as conn:
        people = _rows(conn, "SELECT full_name AS name, email, phone FROM public.users "
                             "UNION ALL SELECT name, email, phone FROM public.contact_submissions")
    phones = [person["phone"] for person in people if person["phone"]]

    for phone in phones:
        assert phonenumbers.is_valid_number(phonenumbers.parse(phone, "IN")), phone
    assert len(phones) < len(people)  # some left the phone out
    assert {phone[:3] == "+91" for phone in phones} == {True, False}
    assert any(phone.startswith("0") for phone in phones)
    assert any(" " in phone for phone in phones)
    for person in people:
        validate_email(person["email"], check_deliverability=False)
    names = [person["name"] for person in people]
    assert any(not name.isascii() for name in names)
    assert any(" " not in name for name in names)  # single-word names


def test_catalogue_is_plausible(seeded: sa.Engine) -> None:
    with seeded.connect() as conn:
        products = _rows(conn, "SELECT * FROM public.products")

    for product in products:
        assert re.fullmatch(r"KNB-[A-Z]{2}-\d{4}", product["sku"])
        assert product["hsn_code"].isdigit() and len(product["hsn_code"]) in (4, 6, 8)
        assert product["gst_rate"] in {0, 5, 12, 18, 28}
        assert 50 <= product["stock_quantity"] <= 1000 and product["is_active"]
        assert product["price"] > 0
    assert any(product["price"] % 1 for product in products)  # paise
    assert len({product["gst_rate"] for product in products}) >= 3


def _check_lines(lines: list[dict], prices: dict) -> None:
    assert 1 <= len(lines) <= 5
    assert len({line["product_id"] for line in lines}) == len(lines)
    for line in lines:
        price, rate = prices[line["product_id"]]
        assert (line["unit_price"], line["gst_rate"]) == (price, rate)
        assert 0 <= line["discount"] < line["quantity"] * line["unit_price"]
        assert line["line_total"] == line["quantity"] * line["unit_price"] - line["discount"]


def _check_totals(document: dict, lines: list[dict]) -> None:
    assert document["subtotal"] == sum(line["line_total"] for line in lines)
    assert document["discount_total"] == sum(line["discount"] for line in lines)
    assert document["tax_total"] == sum(
        _included_gst(line["line_total"], line["gst_rate"]) for line in lines)


def test_order_amounts_are_consistent(seeded: sa.Engine) -> None:
    with seeded.connect() as conn:
        prices = {row["id"]: (row["price"], row["gst_rate"])
                  for row in _rows(conn, "SELECT id, price, gst_rate FROM public.products")}
        orders = _rows(conn, "SELECT * FROM public.orders")
        items = _rows(conn, "SELECT * FROM public.order_items")

    for order in orders:
        lines = [item for item in items if item["order_id"] == order["id"]]
        _check_lines(lines, prices)
        _check_totals(order, lines)
        assert order["shipping_charge"] in {0, 49, 99}
        assert order["grand_total"] == order["subtotal"] + order["shipping_charge"]
    assert any(order["discount_total"] for order in orders)
    assert {order["shipping_charge"] for order in orders} == {0, 49, 99}
    assert sorted(o["order_number"] for o in orders) == [f"KN-2026-{n:06d}" for n in range(1, 121)]


def test_payment_status_follows_paid_fraction(seeded: sa.Engine) -> None:
    with seeded.connect() as conn:
        orders = _rows(conn, "SELECT * FROM public.orders")

    statuses = Counter(order["payment_status"] for order in orders)
    assert statuses["paid"] == round(120 * 0.75)
    assert set(statuses) == {"paid", "pending", "failed"}
    for order in orders:
        paid = order["payment_status"] == "paid"
        assert (order["paid_at"] is not None) == paid
        if paid:
            assert order["paid_at"] >= order["created_at"]
            assert re.fullmatch(r"pay_[A-Za-z0-9]{14}", order["payment_gateway_id"])


def test_orders_mix_intra_and_inter_state_supply(seeded: sa.Engine) -> None:
    with seeded.connect() as conn:
        states = [row["shipping_state"] for row in _rows(
            conn, "SELECT shipping_state FROM public.orders")]

    assert 0.3 <= states.count("KA") / len(states) <= 0.5
    assert len(set(states) - {"KA"}) >= 5
    assert set(states) <= set(BY_CODE)


def test_quotes_come_from_businesses_with_exact_totals(seeded: sa.Engine) -> None:
    with seeded.connect() as conn:
        prices = {row["id"]: (row["price"], row["gst_rate"])
                  for row in _rows(conn, "SELECT id, price, gst_rate FROM public.products")}
        quotes = _rows(conn, "SELECT q.*, u.customer_type FROM public.b2b_quotes q "
                             "JOIN public.users u ON u.id = q.user_id")
        items = _rows(conn, "SELECT * FROM public.b2b_quote_items")

    assert Counter(quote["status"] for quote in quotes) == {"requested": 4, "approved": 3}
    for quote in quotes:
        assert quote["customer_type"] == "b2b"
        lines = [item for item in items if item["quote_id"] == quote["id"]]
        _check_lines(lines, prices)
        _check_totals(quote, lines)
        assert quote["grand_total"] == quote["subtotal"]
        assert (quote["approved_at"] is not None) == (quote["status"] == "approved")
        created = quote["created_at"].astimezone(IST)
        assert quote["valid_until"] == (created + timedelta(days=30)).date()


def test_triggers_enqueued_one_sync_per_record(seeded: sa.Engine) -> None:
    with seeded.connect() as conn:
        queue = _rows(conn, "SELECT entity, record_key FROM integration.zoho_sync_queue")
    keys: dict[str, set[str]] = {}
    for row in queue:
        keys.setdefault(row["entity"], set()).add(row["record_key"])

    assert len(queue) == sum(len(found) for found in keys.values())
    assert keys["crm_contact"] == {str(user["id"]) for user in DATA.users}
    assert keys["books_item"] == {product["sku"] for product in DATA.products}
    assert keys["books_invoice"] == {
        order["order_number"] for order in DATA.orders if order["payment_status"] == "paid"}
    assert keys["crm_lead"] == (
        {f"inquiry-{inquiry['id']}" for inquiry in DATA.contact_submissions}
        | {f"quote-{quote['quote_number']}" for quote in DATA.b2b_quotes})
    assert keys["books_estimate"] == {
        quote["quote_number"] for quote in DATA.b2b_quotes if quote["status"] == "approved"}


@pytest.mark.parametrize(("arguments", "message"), [
    ({"users": -1}, "users must be >= 0"),
    ({"paid_fraction": 1.5}, "paid_fraction"),
    ({"products": 0}, "orders need at least one user and one product"),
    ({"users": 0, "orders": 0}, "quotes need"),
])
def test_impossible_requests_are_refused(arguments: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        generate(**arguments)
