"""Paid storefront orders -> Books invoices and their customer payments."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, nullcontext
from decimal import Decimal
from functools import partial
from typing import Any

import sqlalchemy as sa

from kn_zoho.mapping.books import (
    TaxTable,
    invoice_from_order,
    payment_from_order,
    sku_placeholders,
)
from kn_zoho.storefront.claims import Claim
from kn_zoho.storefront.outcomes import Outcome
from kn_zoho.sync.books.catalog import BooksCatalog
from kn_zoho.sync.books.common import (
    INVOICED_STATUSES,
    Refused,
    Row,
    _amount,
    _Progress,
    document_metadata,
    refused_for_good,
)
from kn_zoho.sync.books.common import email_invoices as books_email_invoices
from kn_zoho.sync.books.common import payment_mode as books_payment_mode
from kn_zoho.sync.books.documents import _DocumentFlow
from kn_zoho.sync.stock.credit_notes import never_invoiced
from kn_zoho.sync.stock.invoices import InvoiceStockWrites
from kn_zoho.sync.stock.location import books_location_id
from kn_zoho.zoho.books import BooksClient
from kn_zoho.zoho.errors import ZohoError


def _balance(invoice: Row) -> Decimal:
    return _amount(invoice.get("balance", invoice.get("total", 0)))


class InvoicesFlow(_DocumentFlow):
    """Paid storefront orders -> Books GST invoices (tax inclusive) + customer payments.

    The invoice number is the order number (see the module docstring): a retry, a killed run
    or an overlapping run that creates it again is refused by Books and adopts the stored
    invoice. A retried claim looks it up first, which saves the refused create. A draft
    (new or adopted) is marked sent before the payment: only a sent invoice is a posted sale
    that moves stock, and Books takes payments for sent invoices.

    With KN_ZOHO_BOOKS_EMAIL_INVOICES on, the invoice of a customer with an email is created
    sent instead (``send=true``: Books emails it; no mark-sent call). That create moves stock,
    so it runs under the stock lock, recorded before the call (stock/invoices.py).
    """

    entity = "books_invoice"
    label, table, line_table, line_key = "order", "orders", "order_items", "order_id"
    number_column = "order_number"
    # each order with its stock row's state: 'never' (refunded in full before it was
    # invoiced) is settled for good, in the same batch read
    documents_query = """
        SELECT o.*, s.state AS invoice_stock_state
          FROM public.orders o LEFT JOIN integration.stock_invoices s ON s.order_id = o.id
         WHERE o.id = ANY(:ids)"""

    def __init__(self, books: BooksClient, catalog: BooksCatalog | None = None,
                 seller_state: str | None = None, payment_mode: str | None = None,
                 email_invoices: bool | None = None) -> None:
        super().__init__(books, catalog, seller_state)
        # checked now, so a mis-set KN_ZOHO_BOOKS_PAYMENT_MODE stops the run before any call
        self.payment_mode = payment_mode or books_payment_mode()
        # KN_ZOHO_BOOKS_EMAIL_INVOICES, checked now too: Books emails each invoice it creates
        self.email_invoices = (books_email_invoices() if email_invoices is None
                               else email_invoices)
        # the storefront's Books location (KN_ZOHO_BOOKS_LOCATION_ID): its sales move that
        # location's stock (invoice ``location_id``, https://www.zoho.com/books/api/v3/invoices/)
        self.location_id = books_location_id()
        self._stock_writes: InvoiceStockWrites | None = None
        self._grouped = False

    def _stock(self, engine: sa.Engine) -> InvoiceStockWrites:
        """The stock writes of invoices marked sent, kept under one lock hold until the
        runner records them (:meth:`settle`)."""
        if self._stock_writes is None or self._stock_writes.engine is not engine:
            self.settle()
            self._stock_writes = InvoiceStockWrites(engine, self.books.organization_id)
        return self._stock_writes

    def attempt(self, engine: sa.Engine, claims: Sequence[Claim], *, force: bool
                ) -> dict[str, Outcome]:
        try:
            return super().attempt(engine, claims, force=force)
        finally:
            if not self._grouped:  # nobody settles for us: each attempt is its own group
                self.settle()

    @contextmanager
    def grouped(self) -> Iterator[None]:
        """The runner's pass: attempts keep the stock lock across a group of invoices until
        the runner records them (:meth:`settle`); let go when the pass ends, however."""
        self._grouped = True
        try:
            yield
        finally:
            self._grouped = False
            self.settle()

    def settle(self) -> None:
        """Before the runner records outcomes: the invoices marked sent since are recorded
        'sent' and the stock lock is let go."""
        if self._stock_writes is not None:
            self._stock_writes.settle()

    def _payload(self, order: Row, lines: Sequence[Row], user: Row, customer_id: str,
                 item_ids: Mapping[str, str], taxes: TaxTable) -> Row:
        payload = invoice_from_order(order, lines, customer_id=customer_id, item_ids=item_ids,
                                     taxes=taxes, seller_state=self.seller_state, user=user)
        location = {"location_id": self.location_id} if self.location_id else {}
        return {**payload, "invoice_number": order["order_number"], **location}

    def _sync(self, engine: sa.Engine, claim: Claim, order: Row, lines: Sequence[Row],
              user: Row, products: Mapping[Any, Row], taxes: TaxTable,
              progress: _Progress) -> Outcome:
        status = order.get("payment_status")
        if status not in INVOICED_STATUSES:
            raise Refused("NOT_PAID", f"field 'payment_status': is {status!r}, only paid "
                          "orders are invoiced")
        if order.get("invoice_stock_state") == "never":
            return self._settled_never_invoiced(status, progress)
        if status == "refunded" and self._never_invoiced(engine, claim, order, progress):
            return progress.success()
        # mapped before any call (bad data fails before anything is created in Books), its
        # Books ids set once they are known
        mapped = self._payload(order, lines, user, "", sku_placeholders(lines), taxes)
        sent_invoice = partial(self._sent_invoice, engine, claim, order, lines, user,
                               products, taxes, progress, mapped)
        sends = self._sends(user, progress)
        try:
            made = sent_invoice(sends)
        except ZohoError as error:
            if not getattr(error, "sending_refused", False):
                raise
            # Books refused to email it and stored nothing (looked up by number): the sale
            # still goes in, as a draft marked sent, without email
            progress.metadata["email"] = (f"not emailed: Books refused to send it ({error}); "
                                          "a draft marked sent instead")
            made = sent_invoice(False)
        self._pay(order, made, str(made["customer_id"]), _amount(order["grand_total"]),
                  progress)
        return progress.success()

    def _sent_invoice(self, engine: sa.Engine, claim: Claim, order: Row, lines: Sequence[Row],
                      user: Row, products: Mapping[Any, Row], taxes: TaxTable,
                      progress: _Progress, mapped: Row, sends: bool) -> Row:
        """The order's invoice in Books, sent: created sent (``sends``: emailed by Books) or
        a draft marked sent, or the one an earlier attempt made."""
        number = order["order_number"]
        # a draft's 'sending' is written while the invoice is made (a created-sent one's
        # before its create, under the create guard)
        with nullcontext() if sends else self._stock(engine).sending(order):
            invoice, how = self._find_or_create(
                engine, claim, order, lines, user, products, taxes, progress, kind="invoice",
                get=self.books.get_invoice,
                find_by_number=self.books.find_invoice_by_invoice_number,
                create=self._create_sent if sends else self.books.create_invoice,
                mapped=mapped,
                create_guard=partial(self._stock(engine).creating_sent, order) if sends
                else None)
            self._check_total(invoice, "invoice", number, _amount(order["grand_total"]))
            progress.metadata.update(document_metadata(invoice))
            if sends and how == "create":
                progress.steps.append("invoice:emailed")
                progress.metadata["email"] = "emailed to the customer by Books at creation"
            elif sends:
                progress.metadata["email"] = "not emailed again: the invoice was in Books already"
            if not (sends and how != "found" and invoice.get("status") != "draft"):
                # marking sent moves Books stock: under the stock lock, recorded for the stock
                # sync (an invoice created or adopted sent under the guard is recorded already)
                with self._stock(engine).marking_sent(order, progress.zoho_id):
                    self._mark_sent(invoice, progress)
        return invoice

    def _create_sent(self, payload: Row, **params: Any) -> Row:
        """Create the invoice sent (``send=true``); a refusal is marked ``sending_refused``
        (what Books does when it cannot email, e.g. a contact without an email, is not
        documented): once no invoice is found under the number, it is made a draft instead."""
        try:
            return self.books.create_invoice(payload, send=True, **params)
        except ZohoError as error:
            if refused_for_good(error):
                error.sending_refused = True  # type: ignore[attr-defined]
            raise

    def _sends(self, user: Row, progress: _Progress) -> bool:
        """Whether the invoice is created sent, emailed by Books (``send=true``): with the
        setting on and a customer email; without one it is a draft marked sent (no email)."""
        if not self.email_invoices:
            return False
        if str(user.get("email") or "").strip():
            return True
        progress.metadata["email"] = ("not emailed: the customer has no email address (a "
                                      "draft marked sent instead)")
        return False

    def _settled_never_invoiced(self, status: str, progress: _Progress) -> Outcome:
        """An order settled as never invoiced stays so: its sale went to Books as a stock
        adjustment, which an invoice would take from Books stock a second time."""
        if status == "refunded":  # decided by an earlier attempt: nothing to look up again
            progress.steps.append("not-invoiced")
            progress.metadata["reason"] = ("refunded in full before it was invoiced: never "
                                           "invoiced (decided earlier)")
            return progress.success()
        raise Refused("NEVER_INVOICED", (
            f"field 'payment_status': is {status!r}, but the order was refunded in full "
            "before it was invoiced and settled as never invoiced: its sale and return went "
            "to Books as stock adjustments, so an invoice now would take its stock from Books "
            "a second time. Set payment_status back to 'refunded' and place a new order for "
            "the sale, or invoice it by hand in Books and correct the stock there"))

    def _never_invoiced(self, engine: sa.Engine, claim: Claim, order: Row,
                        progress: _Progress) -> bool:
        """An order refunded (or cancelled) in full before its invoice existed is never
        invoiced: decided now, at the attempt, after looking for an invoice an earlier attempt
        may have made (then it stays, and the refunds are credited against it)."""
        stored_id = claim.zoho_id or order.get("zoho_books_id")
        if (stored_id and self.books.get_invoice(stored_id) is not None) or \
                self.books.find_invoice_by_invoice_number(order["order_number"]) is not None:
            return False
        never_invoiced(engine, self.books.organization_id, order)
        progress.steps.append("not-invoiced")
        progress.metadata["reason"] = ("refunded in full before it was invoiced: never "
                                       "invoiced, its stock changes go to Books as an adjustment")
        return True

    def _mark_sent(self, invoice: Row, progress: _Progress) -> None:
        """Draft -> sent (``POST /invoices/{id}/status/sent``, no email), once.

        An invoice already past draft is left alone. After an unknown outcome or a refusal the
        invoice is read again: sent by then (our lost call, a racing run, a Books user) is fine.
        """
        if invoice.get("status") != "draft":
            return
        invoice_id = str(invoice["invoice_id"])
        try:
            self.books.mark_invoice_sent(invoice_id)
        except ZohoError as error:
            if error.transient and not error.outcome_unknown:
                raise
            fresh = self.books.get_invoice(invoice_id)
            if fresh is None or fresh.get("status") == "draft":
                raise
        invoice["status"] = "sent"
        progress.steps.append("invoice:sent")

    def _pay(self, order: Row, invoice: Row, customer_id: str, amount: Decimal,
             progress: _Progress) -> None:
        """One customer payment for the order, applied to the invoice.

        Created only while the invoice has a balance; an invoice already settled (by our
        earlier attempt whose reply was lost, or a racing run) has its payment adopted.
        """
        if amount == 0:
            progress.steps.append("payment:none")
            return
        reference = order.get("payment_gateway_id") or order["order_number"]
        invoice_id = str(invoice["invoice_id"])
        if _balance(invoice) == 0:
            self._adopt_payment(reference, progress)
            return
        payload = payment_from_order(order, invoice_id, customer_id, amount,
                                     payment_mode=self.payment_mode)
        payload.setdefault("reference_number", reference)
        for last in (False, True):
            try:
                self.books.create_customer_payment(payload)
            except ZohoError as error:
                if error.transient and not error.outcome_unknown:
                    raise
                # stored after all, or refused because the invoice is settled already?
                fresh = self.books.get_invoice(invoice_id)
                if fresh is not None and _balance(fresh) == 0:
                    self._adopt_payment(reference, progress)
                    return
                if not error.outcome_unknown or last:
                    raise
            else:
                progress.steps.append("payment:create")
                return

    def _adopt_payment(self, reference: str, progress: _Progress) -> None:
        found = self.books.find_customer_payment_by_reference_number(reference)
        # None: settled in Books by a payment someone entered there; never pay twice
        progress.steps.append("payment:adopt" if found else "payment:settled-in-books")
