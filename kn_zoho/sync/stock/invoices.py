"""The invoice flow's side of the stock lock: marking a storefront invoice sent moves Books
stock, so it happens under the organization's stock lock and is recorded before it is made.

``state = 'sending'`` is written before the call and ``'sent'`` after it; a failure in
between (lost reply, killed run) leaves 'sending', whose products the pull leaves alone until
it has read the invoice (or the invoice flow's retry settled it). The lock is kept across the
group of invoices a run records together (:class:`InvoiceStockWrites`): per invoice one
statement ('sending', committed before the mark-sent call, but sent on a helper thread while
the invoice is made, so its round trip costs the run nothing); per group the lock, one 'sent'
for all and the unlock, all on the lock's own autocommit connection.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa

from kn_zoho.sync.stock.lock import StockLockHold

# Before the invoice is made, so without its id (the pull finds a crashed one by number); a
# row there already (an earlier attempt's 'sending', a 'sent') is left as it is. Returns a
# row only when this attempt wrote it.
_SENDING = sa.text("""
    INSERT INTO integration.stock_invoices (order_id, order_number, invoice_id, state)
    VALUES (:order_id, :order_number, NULL, 'sending')
    ON CONFLICT (order_id) DO NOTHING RETURNING true""")
# The attempt failed before its mark-sent: the row it wrote goes (nothing moved stock).
_UNSENDING = sa.text("DELETE FROM integration.stock_invoices WHERE order_id = :order_id "
                     "AND state = 'sending' AND invoice_id IS NULL")
_SENT = sa.text("""
    UPDATE integration.stock_invoices AS s
       SET state = 'sent', invoice_id = v.invoice_id, updated_at = now()
      FROM unnest(CAST(:order_ids AS uuid[]), CAST(:invoice_ids AS text[]))
           AS v(order_id, invoice_id)
     WHERE s.order_id = v.order_id""")


class InvoiceStockWrites:
    """One run's stock writes for the invoices it marks sent, under one lock hold per group
    (:meth:`settle` ends a group: 'sent' for its invoices, then the lock is let go)."""

    def __init__(self, engine: sa.Engine, organization_id: str) -> None:
        self.engine = engine
        self.organization_id = organization_id
        self._hold = StockLockHold(engine, organization_id)
        self._sent: list[tuple[Any, str]] = []
        self._announced: dict[Any, Future[bool]] = {}

    @contextmanager
    def sending(self, order: dict[str, Any]) -> Iterator[None]:
        """Around making ``order``'s draft invoice up to its mark-sent (:meth:`marking_sent`):
        'sending' is written on a helper thread meanwhile. Left before the mark-sent by an
        error, the row written is taken back (a killed run leaves it to the pull)."""
        key = {"order_id": order["id"], "order_number": order["order_number"]}
        self._announced[order["id"]] = self._hold.in_background(
            lambda conn: conn.execute(_SENDING, key).first() is not None)
        try:
            yield
        except Exception:
            written = self._announced.pop(order["id"], None)
            if written is not None and written.exception() is None and written.result():
                self._hold.connection().execute(_UNSENDING, key)
            raise
        finally:
            self._announced.pop(order["id"], None)

    @contextmanager
    def marking_sent(self, order: dict[str, Any], invoice_id: str) -> Iterator[None]:
        """Wrap the mark-sent of ``order``'s invoice: the lock (kept), 'sending' committed
        before the call (by :meth:`sending`, waited for here, or now); a call that raises
        leaves 'sending' (its outcome is not known)."""
        written = self._announced.pop(order["id"], None)
        if written is None:
            self._hold.connection().execute(_SENDING, {
                "order_id": order["id"], "order_number": order["order_number"]})
        else:
            written.result()  # its error (no lock, no row) stops the call
        yield
        self._sent.append((order["id"], invoice_id))

    @contextmanager
    def creating_sent(self, order: dict[str, Any]) -> Iterator[dict[str, Any]]:
        """Wrap creating (or adopting) ``order``'s invoice with ``send=true``: the create
        itself moves Books stock, so it happens under the stock lock, recorded 'sending'
        before the call. Its id is not known yet, so the row has none: the pull finds the
        invoice by its number (the order number). Yields a dict whose ``invoice`` the caller
        sets to the invoice it made or adopted: one past draft is recorded 'sent'; a draft
        keeps 'sending' (with its id) for the mark-sent that follows. Nothing made after a
        certain refusal: the row is taken back."""
        made: dict[str, Any] = {"invoice": None}
        key = {"order_id": order["id"], "order_number": order["order_number"]}
        conn = self._hold.connection()
        conn.execute(sa.text("""
            INSERT INTO integration.stock_invoices (order_id, order_number, invoice_id, state)
            VALUES (:order_id, :order_number, NULL, 'sending')
            ON CONFLICT (order_id) DO UPDATE SET updated_at = now()
             WHERE integration.stock_invoices.state = 'sending'"""), key)
        try:
            yield made
        except Exception as error:  # a killed run (BaseException) leaves 'sending'
            if made["invoice"] is None and not _maybe_stored(error):
                conn.execute(sa.text(
                    "DELETE FROM integration.stock_invoices WHERE order_id = :order_id "
                    "AND state = 'sending' AND invoice_id IS NULL"), key)
            raise
        invoice = made["invoice"]
        sent = invoice.get("status") not in (None, "draft")
        conn.execute(sa.text(
            "UPDATE integration.stock_invoices SET invoice_id = :invoice_id, "
            "state = CASE WHEN :sent THEN 'sent' ELSE state END, updated_at = now() "
            "WHERE order_id = :order_id"),
            {**key, "invoice_id": str(invoice["invoice_id"]), "sent": sent})

    def settle(self) -> None:
        """End the group: 'sent' for the invoices marked sent in it, then the lock is let go
        (also when writing 'sent' fails: those stay 'sending', settled by the pull)."""
        sent, self._sent = self._sent, []
        if not self._hold.held:
            return
        try:
            if sent:
                self._hold.connection().execute(_SENT, {
                    "order_ids": [order_id for order_id, _ in sent],
                    "invoice_ids": [invoice_id for _, invoice_id in sent]})
        finally:
            self._hold.release()


def _maybe_stored(error: BaseException | None) -> bool:
    """Whether Books may have stored the create despite ``error``: an unknown outcome
    anywhere in the chain (a lost reply, then a lookup that failed too)."""
    while error is not None:
        if getattr(error, "outcome_unknown", False):
            return True
        error = error.__cause__ or error.__context__
    return False
