"""Creating an invoice, optionally sent (emailed) at once: ``POST /invoices?send=true``.

Books documents the create call's ``send`` query parameter: "Send the invoice to the contact
person(s) associated with the invoice. Allowed values true and false"
(https://www.zoho.com/books/api/v3/invoices/#create-an-invoice), and "Once you send an invoice
to a customer, its status automatically changes to Sent"
(https://www.zoho.com/om/books/kb/invoices/draft-sent-invoice.md). So ``send=true`` stores the
invoice as sent: the sale is posted and its items' stock falls, as for a draft marked sent,
and one email goes to the customer's contact persons, recorded in the sandbox's outbox
(``/__sandbox/records/books_emails``, one entry per emailed invoice).

Undocumented, so the stricter choices: a ``send`` other than true/false is refused; the
recipients are the customer's contact persons that have an email (the invoice's own
``contact_persons`` argument is not modelled); when none has one, Books' answer is not
documented, so the create is refused, naming the reason, and nothing is stored.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from kn_zoho.sandbox.books.common import (
    SERVICE,
    books_error,
    copy,
    invalid,
    read_payload,
    reply,
)
from kn_zoho.sandbox.books.sale_documents import INVOICE, create_document, send_invoice
from kn_zoho.sandbox.pipeline import zoho_endpoint
from kn_zoho.sandbox.state import SandboxState


def _flag(request: Request, name: str) -> bool:
    value = request.query_params.get(name, "false").lower()
    if value not in ("true", "false"):
        raise invalid(name)
    return value == "true"


def recipients(state: SandboxState, payload: dict[str, Any]) -> list[str] | None:
    """The emails an invoice sent at creation goes to; None when the customer is unknown
    (the create refuses it on its own). Refused when no contact person has an email."""
    customer = state.collection("books", "contacts").get(str(payload.get("customer_id") or ""))
    if customer is None:
        return None
    emails = [person["email"] for person in customer.get("contact_persons") or []
              if person.get("email")]
    if not emails:
        # code 4 (missing value) chosen by the sandbox: Books documents no code for this
        raise books_error(400, 4, f'The invoice cannot be sent: no contact person of customer '
                                  f'"{customer["contact_name"]}" has an email address. Add '
                                  "one, or create the invoice without send=true.")
    return emails


def email_invoice(state: SandboxState, invoice: dict[str, Any], to: list[str]) -> None:
    """Record the email Books sends with the invoice (the sandbox's outbox)."""
    email_id = state.new_id("books")
    state.collection("books", "emails")[email_id] = {
        "email_id": email_id, "invoice_id": invoice["invoice_id"],
        "invoice_number": invoice["invoice_number"], "to": to,
        "subject": f"Invoice - {invoice['invoice_number']}",
        "sent_time": state.books_timestamp()}


async def create_invoice(request: Request, state: SandboxState) -> Response:
    payload = await read_payload(request)
    manual = request.query_params.get("ignore_auto_number_generation", "").lower() == "true"
    send = _flag(request, "send")
    with state.lock:
        to = recipients(state, payload) if send else None
        invoice = create_document(state, INVOICE, payload, manual_number=manual)
        if to is not None:
            send_invoice(state, invoice)
            email_invoice(state, invoice, to)
        state.save()
        return reply(INVOICE.created_message, INVOICE.resource, copy(invoice), 201)


def invoice_create_routes() -> list[Route]:
    return [Route("/books/v3/invoices", zoho_endpoint(SERVICE, create_invoice),
                  methods=["POST"])]
