"""P per product: what the storefront changed that Books has not taken in yet (non-sale
changes not pushed, sales whose invoice is not sent, returns whose credit note is not open)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

_UNPUSHED = """
    SELECT product_id, sum(delta)::integer AS delta FROM integration.stock_movements
     WHERE source = 'storefront' AND pushed_at IS NULL GROUP BY product_id
"""
# A sale is taken in by Books once its invoice is sent; until then its net (placement minus
# cancellation, or the payment's) is pending.
_UNSENT_SALES = """
    SELECT m.product_id, sum(m.delta)::integer AS delta FROM integration.stock_movements m
     WHERE m.source = 'sale' AND m.order_id IS NOT NULL
       AND NOT EXISTS (SELECT 1 FROM integration.stock_invoices s
                        WHERE s.order_id = m.order_id AND s.state = 'sent')
     GROUP BY m.product_id
"""
# A return (a refund's restocked line) is taken in by Books once the refund's credit note is open.
_UNSENT_RETURNS = """
    SELECT m.product_id, sum(m.delta)::integer AS delta FROM integration.stock_movements m
     WHERE m.source = 'return' AND m.refund_id IS NOT NULL
       AND NOT EXISTS (SELECT 1 FROM integration.stock_credit_notes c
                        WHERE c.refund_id = m.refund_id AND c.state = 'sent')
     GROUP BY m.product_id
"""
# Products with a Books write of unknown outcome: in a push not yet settled, or in an invoice
# whose mark-sent may or may not have landed.
_UNKNOWN = """
    SELECT (line ->> 'product_id')::uuid AS product_id FROM integration.stock_pushes p,
           jsonb_array_elements(p.lines) line WHERE p.state = 'sending'
    UNION
    SELECT i.product_id FROM integration.stock_invoices s
      JOIN public.order_items i ON i.order_id = s.order_id WHERE s.state = 'sending'
    UNION
    SELECT m.product_id FROM integration.stock_credit_notes c
      JOIN integration.stock_movements m ON m.refund_id = c.refund_id AND m.source = 'return'
     WHERE c.state = 'sending'
"""


@dataclass(frozen=True)
class Pending:
    """A product's P, in its parts (units; negative = Books has more than the shelf)."""

    unpushed: int = 0
    unsent_sales: int = 0
    unsent_returns: int = 0

    @property
    def total(self) -> int:
        return self.unpushed + self.unsent_sales + self.unsent_returns


def pending(conn: sa.Connection) -> dict[Any, Pending]:
    """P for every product with anything pending (others have P = 0)."""
    parts: dict[Any, dict[str, int]] = defaultdict(dict)
    for row in conn.execute(sa.text(_UNPUSHED)):
        parts[row.product_id]["unpushed"] = row.delta
    for row in conn.execute(sa.text(_UNSENT_SALES)):
        parts[row.product_id]["unsent_sales"] = row.delta
    for row in conn.execute(sa.text(_UNSENT_RETURNS)):
        parts[row.product_id]["unsent_returns"] = row.delta
    return {product_id: Pending(**part) for product_id, part in parts.items()}


def unknown_outcome(conn: sa.Connection) -> set[Any]:
    """Products a Books write of unknown outcome touched: a pull leaves them for later."""
    return {row.product_id for row in conn.execute(sa.text(_UNKNOWN))}
