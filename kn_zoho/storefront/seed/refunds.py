"""Refunds and cancellations of seeded paid orders (``kn-zoho seed --refunds N
--cancellations M``), through the storefront's own functions (baseline_refunds.sql).

Deterministic: orders are taken in order-number order from an RNG stream of their own, and
each refund's gateway id is derived from its order (``rfnd_seed_<order number>``), so re-running
the seed refunds nothing twice. Refunds are partial (some units of some lines, part of the
shipping now and then) or full, each line put back on the shelf or not; cancellations are full
refunds of orders that have not shipped, their goods back on the shelf.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass

import sqlalchemy as sa

_PAID = """
SELECT o.id, o.order_number, o.shipping_charge FROM public.orders o
 WHERE o.payment_status = 'paid'
   AND NOT EXISTS (SELECT 1 FROM public.order_refunds r WHERE r.order_id = o.id)
 ORDER BY o.order_number
"""


@dataclass(frozen=True)
class RefundSummary:
    refunds: int
    cancellations: int


def seed_refunds(engine: sa.Engine, *, refunds: int = 0, cancellations: int = 0,
                 seed: int = 42) -> RefundSummary:
    """Refund ``refunds`` paid orders (mostly partially) and cancel ``cancellations`` more,
    each in its own transaction (a refund is one gateway event)."""
    rng = random.Random(f"refunds:{seed}")
    with engine.connect() as conn:
        orders = list(conn.execute(sa.text(_PAID)).mappings())
    done_refunds = done_cancellations = 0
    for order in orders[:refunds + cancellations]:
        gateway_id = f"rfnd_seed_{order['order_number']}"
        with engine.begin() as conn:
            if done_cancellations < cancellations and (
                    done_refunds >= refunds or rng.random() < 0.3):
                conn.execute(sa.text("SELECT public.cancel_paid_order(:id, :gateway)"),
                             {"id": order["id"], "gateway": gateway_id})
                done_cancellations += 1
                continue
            lines = list(conn.execute(sa.text(
                "SELECT id, quantity FROM public.order_items WHERE order_id = :id ORDER BY id"),
                {"id": order["id"]}).mappings())
            if rng.random() < 0.25:  # in full
                conn.execute(sa.text("SELECT public.refund_order(:id, :restock)"),
                             {"id": order["id"], "restock": rng.random() < 0.5})
            else:
                chosen = [line for line in lines if rng.random() < 0.6] or lines[:1]
                entries = [{"order_item_id": str(line["id"]),
                            "quantity": rng.randint(1, line["quantity"]),
                            "restock": rng.random() < 0.5} for line in chosen]
                shipping = order["shipping_charge"] if rng.random() < 0.2 else 0
                conn.execute(sa.text(
                    "SELECT public.refund_order_lines(:id, :gateway, CAST(:lines AS jsonb), "
                    ":shipping, 'returned by the customer')"),
                    {"id": order["id"], "gateway": gateway_id, "lines": json.dumps(entries),
                     "shipping": shipping})
            done_refunds += 1
    return RefundSummary(done_refunds, done_cancellations)
