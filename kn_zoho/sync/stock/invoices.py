"""The invoice flow's side of the stock lock: marking a storefront invoice sent moves Books
stock, so it happens under the organization's stock lock and is recorded before it is made.

``state = 'sending'`` is written before the call and ``'sent'`` after it; a failure in
between (lost reply, killed run) leaves 'sending', whose products the pull leaves alone until
it has read the invoice (or the invoice flow's retry settled it). Both are written on the
lock's own connection, each committed at once: one connection and four round trips per
invoice (lock, 'sending', 'sent', unlock).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa

from kn_zoho.sync.stock.lock import books_stock_lock


@contextmanager
def invoice_stock_write(engine: sa.Engine, organization_id: str, order: dict[str, Any],
                        invoice_id: str) -> Iterator[None]:
    """Wrap the mark-sent of ``order``'s invoice: lock, record 'sending', yield, record 'sent'."""
    key = {"order_id": order["id"], "order_number": order["order_number"],
           "invoice_id": invoice_id}
    with books_stock_lock(engine, organization_id) as conn:  # autocommit: each its own
        conn.execute(sa.text("""
            INSERT INTO integration.stock_invoices (order_id, order_number, invoice_id, state)
            VALUES (:order_id, :order_number, :invoice_id, 'sending')
            ON CONFLICT (order_id) DO UPDATE SET invoice_id = EXCLUDED.invoice_id,
                   updated_at = now()"""), key)
        yield
        conn.execute(sa.text("UPDATE integration.stock_invoices SET state = 'sent', "
                             "updated_at = now() WHERE order_id = :order_id"), key)
