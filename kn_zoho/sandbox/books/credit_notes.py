"""Books credit notes (sales returns) and their refunds, as Books documents them.

https://www.zoho.com/books/api/v3/credit-notes/ ("Create a credit note", "List all Credit
Notes", "Get a credit note", "Convert to Open", "Refund credit note", "List refunds of a credit
note"):

* ``POST /creditnotes`` takes the same line items, GST fields (``place_of_supply``,
  ``gst_treatment``, ``gst_no``, ``is_inclusive_tax``) and shipping as an invoice, and the
  query parameters ``invoice_id`` (the invoice credited) and ``ignore_auto_number_generation``
  (then ``creditnote_number`` is mandatory). Credit note numbers are unique per organization:
  Zoho's shared error list gives 12018 "The specified Credit Note Number already exists"
  (https://www.zoho.com/invoice/api/v3/credit-notes/).
* Whether a credit note made through the API starts as draft or open is not documented; the
  UI saves either (https://www.zoho.com/bh/books/help/credit-note/index.md). The sandbox makes
  a draft (the stricter reading): ``POST /creditnotes/{id}/status/open`` opens it, and only an
  open credit note is a posted sales return.
* Stock: "creating a credit note increases an item's stock" for items that track inventory
  (https://www.zoho.com/de-de/books/kb/credits/cn-affect-stock-level.md); it happens when the
  credit note opens, for the lines naming an inventory item, at the credit note's location.
  A line without ``item_id`` (name, HSN, rate, tax) moves no stock.
* Crediting an invoice: the invoice must exist for the same customer and be posted (not draft
  or void, errors 12005/12007 on the same list). Books documents no limit on how much may be
  credited against one invoice; the sandbox refuses credit notes that together exceed the
  invoice's total, and a different place of supply than the invoice's (the stricter reading:
  a GST credit note reverses the invoice's own tax).
* ``POST /creditnotes/{id}/refunds`` records money paid back out of the credit note: ``date``
  and ``amount`` are required, ``from_account_id`` names the bank account it is paid from
  (https://www.zoho.com/books/api/v3/bank-accounts/ lists them), ``refund_mode`` and
  ``reference_number`` are optional. Refunding a draft or void credit note, or more than its
  balance, is refused (undocumented: the stricter reading); at balance 0 it is ``closed``.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from kn_zoho.sandbox.books.common import (
    SERVICE,
    books_error,
    copy,
    decimal_value,
    invalid,
    iso_date,
    list_reply,
    message_reply,
    money,
    not_found,
    optional_text,
    read_payload,
    reply,
    required_value,
)
from kn_zoho.sandbox.books.inventory import change_stock
from kn_zoho.sandbox.books.sale_documents import (
    DocumentKind,
    create_document,
    stock_location,
    stock_moves,
)
from kn_zoho.sandbox.pipeline import zoho_endpoint
from kn_zoho.sandbox.state import SandboxState

CREDIT_NOTE = DocumentKind("creditnote", "creditnotes", "Credit Note", "CN-", False,
                           "The credit note has been created.")
CREDITABLE_INVOICE_STATUSES = frozenset({"sent", "partially_paid", "paid", "overdue"})
REFUND_MODES = frozenset({"check", "cash", "creditcard", "banktransfer", "bankremittance",
                          "autotransaction", "others"})
# The organization's one bank account (GET /bankaccounts); refunds are paid out of it.
BANK_ACCOUNT = {"account_id": "460000000077001", "account_name": "Gateway settlement account",
                "account_type": "bank", "is_active": True, "currency_code": "INR"}


def _credited_invoice(state: SandboxState, invoice_id: str, note: dict[str, Any]
                      ) -> dict[str, Any]:
    invoice = state.collection("books", "invoices").get(invoice_id)
    if invoice is None or invoice["customer_id"] != note["customer_id"]:
        raise not_found("Invoice", 400)
    if invoice["status"] == "draft":
        raise books_error(400, 12005, "Credits cannot be applied to invoices in the draft "
                                      "status")
    if invoice["status"] not in CREDITABLE_INVOICE_STATUSES:
        raise books_error(400, 12007, "Credits cannot be applied to invoices in the void "
                                      "status")
    if invoice["place_of_supply"] != note["place_of_supply"]:
        raise invalid("place_of_supply")
    credited = sum((Decimal(str(other["total"])) for other in state.collection(
        "books", "creditnotes").values() if other.get("invoice_id") == invoice_id
        and other.get("status") != "void"), Decimal(0))
    if credited + Decimal(str(note["total"])) > Decimal(str(invoice["total"])):
        raise books_error(400, 2, f"The credit note total ({note['total']}) exceeds what is "
                                  f"left to credit on invoice {invoice['invoice_number']} "
                                  f"({Decimal(str(invoice['total'])) - credited}).")
    return invoice


async def create_credit_note(request: Request, state: SandboxState) -> Response:
    payload = await read_payload(request)
    params = request.query_params
    with state.lock:
        notes = state.collection("books", "creditnotes")
        before = set(notes)
        note = create_document(state, CREDIT_NOTE, payload, manual_number=params.get(
            "ignore_auto_number_generation", "").lower() == "true",
            duplicate_code=12018)
        try:
            if params.get("invoice_id"):
                invoice = _credited_invoice(state, params["invoice_id"], note)
                note.update(invoice_id=invoice["invoice_id"],
                            invoice_number=invoice["invoice_number"])
        except Exception:
            for note_id in set(notes) - before:  # refused: nothing stored
                del notes[note_id]
            raise
        note.update(balance=note["total"], refunds=[])
        state.save()
        return reply(CREDIT_NOTE.created_message, "creditnote", copy(note), 201)


def _note(state: SandboxState, note_id: str) -> dict[str, Any]:
    note = state.collection("books", "creditnotes").get(note_id)
    if note is None:
        raise not_found("Credit Note")
    return note


async def get_credit_note(request: Request, state: SandboxState) -> Response:
    with state.lock:
        return reply("success", "creditnote",
                     copy(_note(state, request.path_params["creditnote_id"])))


async def list_credit_notes(request: Request, state: SandboxState) -> Response:
    with state.lock:
        return list_reply(request, list(state.collection("books", "creditnotes").values()),
                          "creditnotes", "Credit Notes",
                          # the documented filters ("List all Credit Notes"); no invoice_id
                          filters=("creditnote_number", "reference_number", "customer_id",
                                   "status"),
                          search_fields=("creditnote_number", "reference_number",
                                         "customer_name"))


async def open_credit_note(request: Request, state: SandboxState) -> Response:
    """Draft -> open: the sales return is posted and its inventory lines' stock comes back."""
    with state.lock:
        note = _note(state, request.path_params["creditnote_id"])
        if note["status"] == "void":
            raise books_error(400, 2, "A void credit note cannot be converted to open.")
        if note["status"] == "draft":
            note["status"] = "open" if Decimal(str(note["balance"])) > 0 else "closed"
            note["last_modified_time"] = state.books_timestamp()
            change_stock(state, stock_moves(state, note, +1), stock_location(state, note))
            state.save()
    return message_reply("Status of the credit note has been changed to open.")


async def refund_credit_note(request: Request, state: SandboxState) -> Response:
    payload = await read_payload(request)
    with state.lock:
        note = _note(state, request.path_params["creditnote_id"])
        if note["status"] != "open":
            raise books_error(400, 2, f"Only an open credit note can be refunded (credit note "
                                      f"{note['creditnote_number']} is {note['status']}).")
        amount = decimal_value(required_value(payload, "amount"), "amount")
        balance = Decimal(str(note.get("balance", 0)))  # a walk-in return (admin.py) has none
        if amount <= 0:
            raise invalid("amount")
        if amount > balance:
            raise books_error(400, 2, f"The refund amount ({amount}) exceeds the balance of "
                                      f"credit note {note['creditnote_number']} ({balance}).")
        refunded_on = iso_date(required_value(payload, "date"), "date", "")
        account = str(required_value(payload, "from_account_id"))
        if account != BANK_ACCOUNT["account_id"]:
            raise invalid("from_account_id")
        mode = optional_text(payload, "refund_mode", 100)
        if mode and mode not in REFUND_MODES:
            raise invalid("refund_mode")
        refund = {
            "creditnote_refund_id": state.new_id("books"),
            "creditnote_id": note["creditnote_id"],
            "creditnote_number": note["creditnote_number"],
            "customer_id": note["customer_id"],
            "customer_name": note["customer_name"],
            "date": refunded_on,
            "refund_mode": mode,
            "reference_number": optional_text(payload, "reference_number", 100),
            "description": optional_text(payload, "description", 500),
            "amount": money(amount),
            "from_account_id": account,
            "from_account_name": BANK_ACCOUNT["account_name"],
        }
        note.setdefault("refunds", []).append(refund)
        note["balance"] = money(balance - amount)
        note["status"] = "closed" if balance == amount else "open"
        note["last_modified_time"] = state.books_timestamp()
        state.save()
        return reply("The refund information for this credit note has been saved.",
                     "creditnote_refund", copy(refund), 201)


async def list_note_refunds(request: Request, state: SandboxState) -> Response:
    with state.lock:
        note = _note(state, request.path_params["creditnote_id"])
        return list_reply(request, list(note.get("refunds") or []), "creditnote_refunds",
                          "Credit Note Refunds", filters=("reference_number",))


async def list_bank_accounts(request: Request, state: SandboxState) -> Response:
    with state.lock:
        return list_reply(request, [dict(BANK_ACCOUNT)], "bankaccounts", "Bank Accounts")


def credit_note_routes() -> list[Route]:
    base = "/books/v3/creditnotes"
    return [
        Route(base, zoho_endpoint(SERVICE, create_credit_note), methods=["POST"]),
        Route(base, zoho_endpoint(SERVICE, list_credit_notes), methods=["GET"]),
        Route(base + "/{creditnote_id}", zoho_endpoint(SERVICE, get_credit_note),
              methods=["GET"]),
        Route(base + "/{creditnote_id}/status/open", zoho_endpoint(SERVICE, open_credit_note),
              methods=["POST"]),
        Route(base + "/{creditnote_id}/refunds", zoho_endpoint(SERVICE, refund_credit_note),
              methods=["POST"]),
        Route(base + "/{creditnote_id}/refunds", zoho_endpoint(SERVICE, list_note_refunds),
              methods=["GET"]),
        Route("/books/v3/bankaccounts", zoho_endpoint(SERVICE, list_bank_accounts),
              methods=["GET"]),
    ]
