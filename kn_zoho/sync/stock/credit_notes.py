"""The credit-note flow's side of the stock model, and orders that are never invoiced.

A refund's restocked lines are ledger rows with source 'return' (and the refund's id): Books
takes them in when the refund's credit note opens, so they stay pending (part of P) until then,
like a sale until its invoice is sent, and are never pushed as an adjustment. Opening the credit
note moves Books stock, so it happens under the organization's stock lock, recorded 'sending'
before the calls and 'sent' after (integration.stock_credit_notes); a failure in between leaves
'sending', whose products the pull leaves alone until the flow's retry settles it.

An order refunded in full before its invoice existed is never invoiced: Books never learns of
its sale nor of its returns, so both become ordinary storefront changes (netted and pushed in
the next adjustment), in one transaction with recording the decision.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa

from kn_zoho.sync.stock.lock import books_stock_lock


@contextmanager
def credit_note_stock_write(engine: sa.Engine, organization_id: str, refund: dict[str, Any],
                            restocks: bool) -> Iterator[dict[str, str | None]]:
    """Wrap creating and opening ``refund``'s credit note; yields a dict whose
    ``creditnote_id`` the caller fills in once one exists. Without restocked lines nothing is
    recorded; a certain refusal before any credit note existed takes the record back."""
    found: dict[str, str | None] = {"creditnote_id": None}
    if not restocks:
        yield found
        return
    key = {"refund_id": refund["id"], "refund_number": refund["refund_number"],
           "order_id": refund["order_id"]}
    with books_stock_lock(engine, organization_id):
        with engine.begin() as conn:
            conn.execute(sa.text("""
                INSERT INTO integration.stock_credit_notes (refund_id, refund_number, order_id,
                                                            state)
                VALUES (:refund_id, :refund_number, :order_id, 'sending')
                ON CONFLICT (refund_id) DO UPDATE SET updated_at = now()
                 WHERE integration.stock_credit_notes.state = 'sending'"""), key)
        try:
            yield found
        except Exception as error:  # a killed run (BaseException) leaves 'sending'
            if found["creditnote_id"] is None and not getattr(error, "outcome_unknown", False):
                # refused for certain before any credit note existed: no stock moved
                with engine.begin() as conn:
                    conn.execute(sa.text("DELETE FROM integration.stock_credit_notes "
                                         "WHERE refund_id = :refund_id AND state = 'sending'"),
                                 key)
            raise
        with engine.begin() as conn:
            conn.execute(sa.text("UPDATE integration.stock_credit_notes SET state = 'sent', "
                                 "creditnote_id = :creditnote_id, updated_at = now() "
                                 "WHERE refund_id = :refund_id"), {**key, **found})


def never_invoiced(engine: sa.Engine, organization_id: str, order: dict[str, Any]) -> None:
    """Record that ``order`` is never invoiced; its sale and returns become storefront
    changes to push, and its refunds' credit notes are due again (to settle as not needed)."""
    with books_stock_lock(engine, organization_id), engine.begin() as conn:
        conn.execute(sa.text("""
            INSERT INTO integration.stock_invoices (order_id, order_number, invoice_id, state)
            VALUES (:id, :number, NULL, 'never')
            ON CONFLICT (order_id) DO UPDATE SET state = 'never', invoice_id = NULL,
                   updated_at = now()"""), {"id": order["id"], "number": order["order_number"]})
        conn.execute(sa.text("""
            UPDATE integration.stock_movements SET source = 'storefront'
             WHERE order_id = :id AND source IN ('sale', 'return') AND pushed_at IS NULL"""),
                     {"id": order["id"]})
        conn.execute(sa.text("SELECT integration.requeue_order_refunds(:id)"),
                     {"id": order["id"]})


def is_never_invoiced(conn: sa.Connection, order_id: Any) -> bool:
    return bool(conn.execute(sa.text(
        "SELECT 1 FROM integration.stock_invoices WHERE order_id = :id AND state = 'never'"),
        {"id": order_id}).first())
