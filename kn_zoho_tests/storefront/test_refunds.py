"""The storefront's refunds (baseline_refunds.sql): partial refunds of lines and shipping,
refusals that name the order, line and field, the order refunded once everything is, paid
cancellations, one queue record per refund, and the seed's refunds."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa

from kn_zoho.storefront.seed import seed
from kn_zoho.storefront.seed.refunds import seed_refunds


@pytest.fixture
def order(engine: sa.Engine) -> dict[str, Any]:
    seed(engine, users=3, products=4, orders=6, paid_fraction=1.0, quote_requests=0,
         inquiries=0)
    with engine.connect() as conn:
        row = conn.execute(sa.text(
            "SELECT o.* FROM public.orders o WHERE (SELECT count(*) FROM public.order_items i "
            "WHERE i.order_id = o.id AND i.quantity > 1) > 0 ORDER BY order_number LIMIT 1")
        ).mappings().one()
        lines = [dict(r) for r in conn.execute(sa.text(
            "SELECT i.*, p.sku FROM public.order_items i JOIN public.products p "
            "ON p.id = i.product_id WHERE i.order_id = :id ORDER BY i.quantity DESC, p.sku"),
            {"id": row["id"]}).mappings()]
    return {**dict(row), "lines": lines}


def _refund(engine: sa.Engine, order: dict[str, Any], gateway: str,
            entries: list[dict[str, Any]], shipping: Decimal | int = 0) -> Any:
    with engine.begin() as conn:
        return conn.execute(sa.text(
            "SELECT public.refund_order_lines(:id, :gateway, CAST(:lines AS jsonb), :shipping)"),
            {"id": order["id"], "gateway": gateway, "shipping": shipping,
             "lines": json.dumps(entries, default=str)}).scalar_one()


def _order(engine: sa.Engine, order_id: Any) -> dict[str, Any]:
    with engine.connect() as conn:
        return dict(conn.execute(sa.text("SELECT * FROM public.orders WHERE id = :id"),
                                 {"id": order_id}).mappings().one())


def test_partial_refunds_add_up_and_the_last_makes_the_order_refunded(
        engine: sa.Engine, order: dict[str, Any]) -> None:
    line = order["lines"][0]
    _refund(engine, order, "rfnd_1", [{"order_item_id": line["id"], "quantity": 1}])
    after = _order(engine, order["id"])
    expected = (line["line_total"] * 1 / line["quantity"]).quantize(Decimal("0.01"))
    assert after["payment_status"] == "paid" and after["refunded_total"] == expected

    with engine.begin() as conn:
        conn.execute(sa.text("SELECT public.refund_order(:id)"), {"id": order["id"]})
        amounts = conn.execute(sa.text("SELECT sum(amount) FROM public.order_refunds "
                                       "WHERE order_id = :id"), {"id": order["id"]}).scalar_one()
        queued = conn.execute(sa.text(
            "SELECT count(*) FROM integration.zoho_sync_queue q JOIN public.order_refunds r "
            "ON r.id = q.record_id AND q.record_key = r.refund_number "
            "WHERE q.entity = 'books_credit_note' AND r.order_id = :id"),
            {"id": order["id"]}).scalar_one()
    final = _order(engine, order["id"])
    assert final["payment_status"] == "refunded"
    assert amounts == final["refunded_total"] == final["grand_total"]
    assert queued == 2  # one credit note per refund


@pytest.mark.parametrize(("entry", "shipping", "field"), [
    ({"quantity": 999}, 0, "field quantity"),
    ({"quantity": 1, "amount": "99999"}, 0, "field amount"),
    ({"quantity": 0}, 0, "field quantity"),
    ({"quantity": 1}, 99999, "field shipping_amount"),
])
def test_refusals_name_the_order_line_and_field(engine: sa.Engine, order: dict[str, Any],
                                                entry: dict[str, Any], shipping: int,
                                                field: str) -> None:
    line = order["lines"][0]
    with pytest.raises(sa.exc.DBAPIError, match=f"order {order['order_number']}.*{field}"):
        _refund(engine, order, "rfnd_bad", [{"order_item_id": line["id"], **entry}], shipping)
    assert _order(engine, order["id"])["refunded_total"] == 0


def test_one_unit_never_refunds_more_than_its_price(engine: sa.Engine,
                                                    order: dict[str, Any]) -> None:
    line = order["lines"][0]  # more than one unit: the whole line is more than one unit's price
    with pytest.raises(sa.exc.DBAPIError, match=r"field amount: .* for 1 units sold at"):
        _refund(engine, order, "rfnd_big", [{"order_item_id": line["id"], "quantity": 1,
                                             "amount": str(line["line_total"])}])


def test_a_line_of_another_order_and_a_second_use_of_a_gateway_id_are_refused(
        engine: sa.Engine, order: dict[str, Any]) -> None:
    with engine.connect() as conn:
        foreign = conn.execute(sa.text("SELECT id FROM public.order_items WHERE order_id <> :id "
                                       "LIMIT 1"), {"id": order["id"]}).scalar_one()
    with pytest.raises(sa.exc.DBAPIError, match="field order_item_id"):
        _refund(engine, order, "rfnd_x", [{"order_item_id": foreign, "quantity": 1}])
    line = order["lines"][0]
    _refund(engine, order, "rfnd_once", [{"order_item_id": line["id"], "quantity": 1}])
    with pytest.raises(sa.exc.IntegrityError, match="gateway_refund_id"):
        _refund(engine, order, "rfnd_once", [{"order_item_id": line["id"], "quantity": 1}])


def test_cancelling_a_paid_order_refunds_everything_back_on_the_shelf(
        engine: sa.Engine, order: dict[str, Any]) -> None:
    with engine.connect() as conn:
        before = dict(conn.execute(sa.text("SELECT id, stock_quantity FROM public.products")
                                   ).all())
    with engine.begin() as conn:
        conn.execute(sa.text("SELECT public.cancel_paid_order(:id, 'rfnd_cancel')"),
                     {"id": order["id"]})
        after = dict(conn.execute(sa.text("SELECT id, stock_quantity FROM public.products")
                                  ).all())
        kind = conn.execute(sa.text("SELECT kind FROM public.order_refunds WHERE order_id = :id"),
                            {"id": order["id"]}).scalar_one()
    final = _order(engine, order["id"])
    assert kind == "cancellation" and final["payment_status"] == "refunded"
    assert final["refunded_total"] == final["grand_total"]
    for line in order["lines"]:
        assert after[line["product_id"]] - before[line["product_id"]] >= line["quantity"]
    with pytest.raises(sa.exc.DBAPIError, match="field payment_status"):
        _refund(engine, order, "rfnd_more", [{"order_item_id": order["lines"][0]["id"],
                                               "quantity": 1}])


def test_seeded_refunds_are_never_repeated(engine: sa.Engine) -> None:
    seed(engine, users=5, products=5, orders=20, paid_fraction=1.0, quote_requests=0,
         inquiries=0)
    first = seed_refunds(engine, refunds=6, cancellations=3)
    second = seed_refunds(engine, refunds=0, cancellations=0)
    with engine.connect() as conn:
        rows = conn.execute(sa.text(
            "SELECT o.order_number, r.kind, r.amount FROM public.order_refunds r "
            "JOIN public.orders o ON o.id = r.order_id ORDER BY 1")).all()
    assert (first.refunds, first.cancellations) == (6, 3) and second.refunds == 0
    assert len(rows) == 9 and sum(1 for r in rows if r.kind == "cancellation") == 3
