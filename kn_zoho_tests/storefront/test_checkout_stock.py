"""The storefront stock contract modelled in the baseline: checkout lowers stock at payment
(or at placement), tagged as the order's sale; cancellation gives back what placement took; a
refund keeps the sale and a restock is that refund's return (Books takes it in with the
refund's credit note)."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from kn_zoho.storefront.seed import seed
from kn_zoho_tests.sync.stock_helpers import checkout, store_stock


@pytest.fixture
def shop(engine: sa.Engine) -> sa.Engine:
    seed(engine, users=2, products=2, orders=0, inquiries=0, quote_requests=0)
    return engine


def _ledger(engine: sa.Engine, order_id: object = None) -> list[tuple]:
    """Ledger rows (source, delta, order): one order's, or all of them."""
    query = "SELECT source, delta, order_id FROM integration.stock_movements"
    if order_id is not None:
        query += " WHERE order_id = :o"
    with engine.connect() as conn:
        return [tuple(row) for row in conn.execute(sa.text(query + " ORDER BY id"),
                                                    {"o": order_id})]


def _call(engine: sa.Engine, sql: str, **params: object) -> None:
    with engine.begin() as conn:
        conn.execute(sa.text(sql), params)


def test_payment_lowers_stock_once_as_the_orders_sale(shop: sa.Engine) -> None:
    sku = sorted(store_stock(shop))[0]
    before = store_stock(shop)[sku]

    placed = checkout(shop, sku, 3, pay=False)
    assert store_stock(shop)[sku] == before  # default: stock moves at payment
    _call(shop, "SELECT public.pay_order(:id, 'pay_1')", id=placed)

    assert store_stock(shop)[sku] == before - 3
    assert _ledger(shop, placed) == [("sale", -3, placed)]
    with pytest.raises(sa.exc.DBAPIError, match="only a pending order can be paid"):
        _call(shop, "SELECT public.pay_order(:id, 'pay_1')", id=placed)
    # the next change in the same session is not tagged as that sale
    with shop.begin() as conn:
        conn.execute(sa.text("SELECT public.pay_order(:id, 'pay_2')"),
                     {"id": checkout(shop, sku, 1, pay=False)})
        conn.execute(sa.text("UPDATE public.products SET stock_quantity = stock_quantity + 1 "
                             "WHERE sku = :s"), {"s": sku})
    assert _ledger(shop)[-1] == ("storefront", 1, None)


def test_placement_mode_lowers_at_placement_and_cancel_gives_it_back(shop: sa.Engine) -> None:
    _call(shop, "UPDATE public.storefront_settings SET value = 'placement' "
                "WHERE name = 'stock_lowered_at'")
    sku = sorted(store_stock(shop))[1]
    before = store_stock(shop)[sku]

    placed = checkout(shop, sku, 2, pay=False)
    assert store_stock(shop)[sku] == before - 2
    _call(shop, "SELECT public.cancel_order(:id)", id=placed)
    assert store_stock(shop)[sku] == before
    assert _ledger(shop, placed) == [("sale", -2, placed), ("sale", 2, placed)]

    paid = checkout(shop, sku, 1)  # placed and paid: lowered once, at placement
    assert store_stock(shop)[sku] == before - 1
    assert _ledger(shop, paid) == [("sale", -1, paid)]


def test_refund_keeps_the_sale_and_a_restock_is_the_refunds_return(shop: sa.Engine) -> None:
    sku = sorted(store_stock(shop))[0]
    before = store_stock(shop)[sku]
    kept, restocked = checkout(shop, sku, 1), checkout(shop, sku, 2)

    _call(shop, "SELECT public.refund_order(:id)", id=kept)
    _call(shop, "SELECT public.refund_order(:id, true)", id=restocked)

    assert store_stock(shop)[sku] == before - 1
    assert _ledger(shop)[-1] == ("return", 2, restocked)
    with shop.connect() as conn:
        refund = conn.execute(sa.text("SELECT m.refund_id = r.id FROM "
                                      "integration.stock_movements m JOIN public.order_refunds r "
                                      "ON r.order_id = m.order_id WHERE m.source = 'return'"))
        assert refund.scalar_one() is True
    with pytest.raises(sa.exc.DBAPIError, match="only a pending order can be cancelled"):
        _call(shop, "SELECT public.cancel_order(:id)", id=kept)


def test_checkout_refuses_to_oversell_naming_the_sku(shop: sa.Engine) -> None:
    sku = sorted(store_stock(shop))[0]
    before = store_stock(shop)[sku]
    with pytest.raises(sa.exc.DBAPIError, match=f"product {sku}: field stock_quantity"):
        checkout(shop, sku, before + 1)
    assert store_stock(shop)[sku] == before
