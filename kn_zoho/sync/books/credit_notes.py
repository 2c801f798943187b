"""Storefront refunds -> Books credit notes against the order's invoice, each with its refund.

Exactly once: the credit note is numbered with the refund's own number (``refund_number``,
RF-YYYY-NNNNNN) under ``ignore_auto_number_generation``, so a second create after a lost reply
or a killed run is refused by Books and the stored one is adopted (``create_numbered``, as for
invoices). The refund recorded against it carries the gateway's refund id as its reference and
is looked up before it is recorded again; Books also refuses a refund beyond the credit note's
balance, after which the stored one is adopted.

A refund waits (a transient failure, "invoice not synced yet") while its order's invoice is not
in Books; the invoice's write-back makes it due again. An order refunded in full before it was
invoiced is never invoiced (``invoices.py``), and its refunds settle with nothing to credit.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa

from kn_zoho.mapping.books import TaxTable
from kn_zoho.mapping.credit_notes import credit_note_from_refund, refund_payload
from kn_zoho.storefront.claims import Claim
from kn_zoho.storefront.outcomes import Outcome
from kn_zoho.storefront.zoho_ids import store_zoho_ids
from kn_zoho.sync.books.catalog import BooksCatalog
from kn_zoho.sync.books.common import (
    RECORD_WITHIN_SECONDS,
    Refused,
    Row,
    _amount,
    _link,
    _missing,
    _Progress,
    _rows,
    _settle,
    _setup_failure,
    books_api_calls,
    document_metadata,
    organization_state,
    payment_mode,
)
from kn_zoho.sync.books.documents import create_numbered
from kn_zoho.sync.stock.credit_notes import credit_note_stock_write, is_never_invoiced
from kn_zoho.sync.stock.location import books_location_id
from kn_zoho.zoho.books import BooksClient
from kn_zoho.zoho.errors import ZohoError

REFUND_ACCOUNT_ENV = "KN_ZOHO_BOOKS_REFUND_ACCOUNT_ID"


class InvoiceNotSynced(Exception):
    """The order's invoice is not in Books yet: the refund waits for it."""


class CreditNotesFlow:
    """Storefront refunds -> Books credit notes (GST, same split as the invoice) + refunds."""

    entity = "books_credit_note"
    records_per_attempt = 1  # calls per record: each started alone, right before its calls
    record_within_seconds = RECORD_WITHIN_SECONDS

    def __init__(self, books: BooksClient, catalog: BooksCatalog | None = None,
                 seller_state: str | None = None, refund_account_id: str | None = None) -> None:
        self.books = books
        self.catalog = catalog or BooksCatalog(books)
        self.seller_state = seller_state or organization_state()
        self.refund_mode = payment_mode()
        self.location_id = books_location_id()
        self._refund_account = refund_account_id or os.environ.get(REFUND_ACCOUNT_ENV) or None

    def api_calls(self) -> int:
        return books_api_calls(self.books)

    def attempt(self, engine: sa.Engine, claims: Sequence[Claim], *, force: bool
                ) -> dict[str, Outcome]:
        taxes, outcomes = _setup_failure(self.catalog, claims)
        if taxes is None:
            return outcomes
        for claim in claims:
            loaded = _load(engine, claim.record_id)
            if loaded is None:
                outcomes[claim.record_key] = _missing(claim, "refund")
                continue
            outcomes[claim.record_key] = self._settle_one(engine, claim, loaded, taxes)
        return outcomes

    def _settle_one(self, engine: sa.Engine, claim: Claim, loaded: _Refund,
                    taxes: TaxTable) -> Outcome:
        label = f"refund {claim.record_key} of order {loaded.order['order_number']}"
        try:
            return _settle(label, lambda progress: self._sync(engine, claim, loaded, taxes,
                                                              progress))
        except InvoiceNotSynced as waiting:
            return Outcome.failure("wait", "INVOICE_NOT_SYNCED", f"{label}: {waiting}",
                                   transient=True)

    def _sync(self, engine: sa.Engine, claim: Claim, loaded: _Refund, taxes: TaxTable,
              progress: _Progress) -> Outcome:
        refund, order = loaded.refund, loaded.order
        with engine.connect() as conn:
            never = not order.get("zoho_books_id") and is_never_invoiced(conn, order["id"])
        if never:
            progress.steps.append("not-invoiced")
            progress.metadata["reason"] = ("order refunded in full before it was invoiced: "
                                           "nothing to credit")
            return progress.success()
        # map once with placeholder ids: bad data fails before anything is created in Books
        self._payload(loaded, "0", {line["sku"]: "0" for line in loaded.lines}, taxes)
        refund_payload(refund, from_account_id="0", refund_mode=self.refund_mode)
        invoice = self._invoice(order)
        note = self._credit_note(engine, claim, loaded, invoice, taxes, progress)
        total = _amount(note.get("total", 0))
        if total != _amount(refund["amount"]):
            raise Refused("TOTAL_MISMATCH", (
                f"field 'amount': Zoho Books computed credit note {note.get('creditnote_number')}"
                f" total {total} but the storefront refunded {refund['amount']}; the credit "
                f"note (id {note.get('creditnote_id')}) is in Books: correct or void it there"))
        progress.metadata.update(document_metadata(note))
        progress.metadata["invoice"] = str(invoice.get("invoice_number") or "")
        self._refund(claim, refund, note, progress)
        return progress.success()

    def _payload(self, loaded: _Refund, customer_id: str, item_ids: Mapping[str, str],
                 taxes: TaxTable) -> Row:
        payload = credit_note_from_refund(
            loaded.refund, loaded.lines, loaded.order, loaded.order_lines,
            customer_id=customer_id, item_ids=item_ids, taxes=taxes,
            seller_state=self.seller_state, user=loaded.user)
        location = {"location_id": self.location_id} if self.location_id else {}
        return {**payload, **location}

    def _invoice(self, order: Row) -> Row:
        """The order's posted invoice, else the refund waits for it."""
        invoice_id = order.get("zoho_books_id")
        if invoice_id:
            invoice = self.books.get_invoice(str(invoice_id))
            if invoice is not None and invoice.get("status") not in ("draft", "void"):
                return invoice
            if invoice is not None and invoice.get("status") == "void":
                raise Refused("INVOICE_VOID", f"field 'order_id': invoice "
                              f"{invoice.get('invoice_number')} is void in Zoho Books: an "
                              "e-invoiced sale is credited, never voided; restore it there")
        raise InvoiceNotSynced(f"invoice not synced yet: order {order['order_number']}'s "
                               "invoice is not posted in Zoho Books; the refund is credited "
                               "once it is")

    def _credit_note(self, engine: sa.Engine, claim: Claim, loaded: _Refund, invoice: Row,
                     taxes: TaxTable, progress: _Progress) -> Row:
        refund = loaded.refund
        number = refund["refund_number"]
        restocks = any(line.get("restocked") for line in loaded.lines)
        with credit_note_stock_write(engine, self.books.organization_id, refund,
                                     restocks) as written:
            note = self._made_earlier(claim, refund)
            if note is not None:
                progress.steps.append("creditnote:found")
            else:
                payload = self._payload(loaded, str(invoice["customer_id"]),
                                        self._item_ids(engine, loaded, progress), taxes)
                invoice_id = str(invoice["invoice_id"])
                note, how = create_numbered(
                    self.books, lambda: self.books.create_credit_note(payload,
                                                                      invoice_id=invoice_id),
                    lambda: self.books.find_credit_note_by_number(number), "creditnote",
                    "refund", number)
                progress.steps.append(f"creditnote:{how}")
            if note.get("reference_number") != loaded.order["order_number"]:
                raise Refused("NUMBER_TAKEN", (
                    f"field 'refund_number': Books credit note {note.get('creditnote_number')} "
                    f"belongs to order '{note.get('reference_number')}', not this refund's "
                    f"order '{loaded.order['order_number']}'"))
            progress.zoho_id = str(note["creditnote_id"])
            written["creditnote_id"] = progress.zoho_id
            self._open(note, progress)
        return note

    def _made_earlier(self, claim: Claim, refund: Row) -> Row | None:
        stored_id = claim.zoho_id or refund.get("zoho_books_id")
        if stored_id:
            found = self.books.get_credit_note(str(stored_id))
            if found is not None:
                return found
        if claim.attempt > 1:
            return self.books.find_credit_note_by_number(refund["refund_number"])
        return None

    def _item_ids(self, engine: sa.Engine, loaded: _Refund, progress: _Progress
                  ) -> dict[str, str]:
        """Books items of the restocked lines (only they name their item)."""
        item_ids: dict[str, str] = {}
        for line in loaded.lines:
            if not line.get("restocked"):
                continue
            product = loaded.products[line["product_id"]]
            item_id = product.get("zoho_books_id")
            if not item_id:
                item_id, how = self.catalog.item(product)
                _link(engine, "products", product, item_id)
                progress.steps.append(f"item:{how}")
            item_ids[line["sku"]] = item_id
        return item_ids

    def _open(self, note: Row, progress: _Progress) -> None:
        """Draft -> open (its restocked lines' stock comes back in Books), once."""
        if note.get("status") != "draft":
            return
        note_id = str(note["creditnote_id"])
        try:
            self.books.open_credit_note(note_id)
        except ZohoError as error:
            if error.transient and not error.outcome_unknown:
                raise
            fresh = self.books.get_credit_note(note_id)
            if fresh is None or fresh.get("status") == "draft":
                raise
        note["status"] = "open"
        progress.steps.append("creditnote:open")

    def _refund(self, claim: Claim, refund: Row, note: Row, progress: _Progress) -> None:
        """The money paid back, recorded against the credit note once (by gateway refund id)."""
        note_id = str(note["creditnote_id"])
        reference = str(refund["gateway_refund_id"])
        if _amount(note.get("balance", note.get("total", 0))) == 0 or claim.attempt > 1:
            if self.books.find_credit_note_refund(note_id, reference) is not None:
                progress.steps.append("refund:adopt")
                return
            if _amount(note.get("balance", 0)) == 0:
                raise Refused("REFUNDED_IN_BOOKS", (
                    f"field 'gateway_refund_id': credit note {note.get('creditnote_number')} "
                    f"has no balance left but no refund with reference {reference}: it was "
                    "refunded or applied in Zoho Books by hand; check it there"))
        payload = refund_payload(refund, from_account_id=self._account(),
                                 refund_mode=self.refund_mode)
        for last in (False, True):
            try:
                self.books.refund_credit_note(note_id, payload)
            except ZohoError as error:
                if error.transient and not error.outcome_unknown:
                    raise
                if self.books.find_credit_note_refund(note_id, reference) is not None:
                    progress.steps.append("refund:adopt")
                    return
                if not error.outcome_unknown or last:
                    raise
            else:
                progress.steps.append("refund:create")
                return

    def _account(self) -> str:
        """The bank account refunds are paid from: ``KN_ZOHO_BOOKS_REFUND_ACCOUNT_ID``, else
        the organization's only active bank account (looked up once per run)."""
        if self._refund_account is None:
            accounts = [account for account in self.books.list_bank_accounts()
                        if account.get("is_active", True)]
            if len(accounts) != 1:
                raise Refused("REFUND_ACCOUNT", (
                    f"field '{REFUND_ACCOUNT_ENV}': Zoho Books has {len(accounts)} active bank "
                    "accounts; set it to the account_id gateway refunds are paid from"))
            self._refund_account = str(accounts[0]["account_id"])
        return self._refund_account

    def write_back(self, conn: sa.Connection, done: Sequence[tuple[Claim, Outcome]]) -> None:
        store_zoho_ids(conn, "order_refunds", "zoho_books_id", done)


class _Refund:
    """One refund with everything its credit note is built from."""

    def __init__(self, refund: Row, order: Row, lines: list[Row], order_lines: list[Row],
                 user: Row, products: dict[Any, Row]) -> None:
        self.refund, self.order, self.lines = refund, order, lines
        self.order_lines, self.user, self.products = order_lines, user, products


def _load(engine: sa.Engine, refund_id: Any) -> _Refund | None:
    with engine.connect() as conn:
        refunds = _rows(conn, "SELECT * FROM public.order_refunds WHERE id = ANY(:ids)",
                        [refund_id])
        if not refunds:
            return None
        refund = refunds[0]
        order = _rows(conn, "SELECT * FROM public.orders WHERE id = ANY(:ids)",
                      [refund["order_id"]])[0]
        lines = _rows(conn, (
            "SELECT r.quantity, r.amount, r.restocked, i.unit_price, i.gst_rate, i.product_id, "
            "p.sku, p.name AS product_name, p.hsn_code FROM public.order_refund_items r "
            "JOIN public.order_items i ON i.id = r.order_item_id "
            "JOIN public.products p ON p.id = i.product_id "
            "WHERE r.refund_id = ANY(:ids) ORDER BY p.sku, r.id"), [refund_id])
        order_lines = _rows(conn, (
            "SELECT i.*, p.sku, p.name AS product_name, p.hsn_code FROM public.order_items i "
            "JOIN public.products p ON p.id = i.product_id WHERE i.order_id = ANY(:ids) "
            "ORDER BY p.sku, i.id"), [order["id"]])
        user = _rows(conn, "SELECT * FROM public.users WHERE id = ANY(:ids)",
                     [order["user_id"]])[0]
        products = {row["id"]: row for row in _rows(
            conn, "SELECT * FROM public.products WHERE id = ANY(:ids)",
            sorted({line["product_id"] for line in lines}, key=str))}
    return _Refund(refund, order, lines, order_lines, user, products)

