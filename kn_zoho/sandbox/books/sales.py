"""Books invoice and estimate endpoints: create, get, list, mark sent, void.

An invoice is created as a draft (or sent at once with ``send=true``: invoice_create.py). A
draft is not a posted sale: it leaves stock alone (Zoho's
help: stock moves when the invoice is sent) and takes no payment (see payments.py). Marking it
sent (``POST /invoices/{id}/status/sent``, https://www.zoho.com/books/api/v3/invoices/ "Mark an
invoice as sent") lowers its inventory items' stock once; voiding a sent invoice
(``.../status/void``, "Void an invoice") puts that stock back. The documents themselves (lines,
GST, totals, numbers) are built in sale_documents.py.
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
    list_reply,
    message_reply,
    not_found,
    read_payload,
    reply,
)
from kn_zoho.sandbox.books.inventory import change_stock
from kn_zoho.sandbox.books.sale_documents import (
    ESTIMATE,
    INVOICE,
    DocumentKind,
    create_document,
    send_invoice,
    stock_location,
    stock_moves,
)
from kn_zoho.sandbox.pipeline import Handler, zoho_endpoint
from kn_zoho.sandbox.state import SandboxState

# --- endpoints --------------------------------------------------------------------------------

def _manual_number(request: Request) -> bool:
    return request.query_params.get("ignore_auto_number_generation", "").lower() == "true"


def document_of(state: SandboxState, kind: DocumentKind, document_id: str) -> dict[str, Any]:
    document = state.collection("books", kind.collection).get(document_id)
    if document is None:
        raise not_found(kind.label)
    return document


def _create_endpoint(kind: DocumentKind) -> Handler:
    async def create(request: Request, state: SandboxState) -> Response:
        payload = await read_payload(request)
        with state.lock:
            document = create_document(state, kind, payload,
                                       manual_number=_manual_number(request))
            state.save()
            return reply(kind.created_message, kind.resource, copy(document), 201)
    return create


def expire_due(state: SandboxState, kind: DocumentKind) -> None:
    """Books has no call that marks an estimate expired: a sent estimate whose expiry_date
    has passed shows as expired (Books' estimate statuses include ``expired``,
    https://www.zoho.com/books/api/v3/estimates/). Applied whenever estimates are read."""
    if kind.is_invoice:
        return
    today = state.today()
    for estimate in state.collection("books", kind.collection).values():
        if estimate["status"] == "sent" and estimate.get("expiry_date", today) < today:
            estimate["status"] = "expired"


def _get_endpoint(kind: DocumentKind) -> Handler:
    async def get(request: Request, state: SandboxState) -> Response:
        with state.lock:
            expire_due(state, kind)
            document = document_of(state, kind, request.path_params["document_id"])
            return reply("success", kind.resource, copy(document))
    return get


def _list_endpoint(kind: DocumentKind) -> Handler:
    async def list_documents(request: Request, state: SandboxState) -> Response:
        with state.lock:
            expire_due(state, kind)
            records = list(state.collection("books", kind.collection).values())
            return list_reply(
                request, records, kind.collection, f"{kind.label}s",
                filters=(kind.number_field, "reference_number", "customer_id",
                         "customer_name", "status"),
                search_fields=(kind.number_field, "reference_number", "customer_name"))
    return list_documents


async def mark_invoice_sent(request: Request, state: SandboxState) -> Response:
    """POST /invoices/{id}/status/sent: a draft becomes an open (sent) invoice, no email.

    Marking an invoice that is already past draft changes nothing and still succeeds (what
    Books answers there is undocumented; the sync only sends drafts).
    """
    with state.lock:
        invoice = document_of(state, INVOICE, request.path_params["document_id"])
        if invoice["status"] == "void":
            raise books_error(400, 2, "A void invoice cannot be marked as sent.")
        send_invoice(state, invoice)
        state.save()
    return message_reply("Invoice status has been changed to Sent.")


async def void_invoice(request: Request, state: SandboxState) -> Response:
    """POST /invoices/{id}/status/void: a sent invoice's stock comes back.

    Voiding an invoice that has payments applied is refused: undocumented, and the stricter
    choice (in Books the payment would otherwise be left applied to a void invoice).
    """
    with state.lock:
        invoice = document_of(state, INVOICE, request.path_params["document_id"])
        if Decimal(str(invoice.get("payment_made", 0))) > 0:
            raise books_error(400, 2, "Invoices with payments recorded cannot be voided. "
                                      "Delete the payments first.")
        if invoice["status"] != "void":
            if invoice["status"] != "draft":
                change_stock(state, stock_moves(state, invoice, +1),
                             stock_location(state, invoice))
            invoice["status"] = "void"
            invoice["last_modified_time"] = state.books_timestamp()
            state.save()
    return message_reply("Invoice status has been changed to Void.")


def sales_routes() -> list[Route]:
    routes = []
    for kind in (INVOICE, ESTIMATE):
        base = f"/books/v3/{kind.collection}"
        if not kind.is_invoice:  # invoices: invoice_create.py (it may send them)
            routes.append(Route(base, zoho_endpoint(SERVICE, _create_endpoint(kind)),
                                methods=["POST"]))
        routes += [
            Route(base, zoho_endpoint(SERVICE, _list_endpoint(kind)), methods=["GET"]),
            Route(base + "/{document_id}", zoho_endpoint(SERVICE, _get_endpoint(kind)),
                  methods=["GET"]),
        ]
    routes.append(Route("/books/v3/invoices/{document_id}/status/sent",
                        zoho_endpoint(SERVICE, mark_invoice_sent), methods=["POST"]))
    routes.append(Route("/books/v3/invoices/{document_id}/status/void",
                        zoho_endpoint(SERVICE, void_invoice), methods=["POST"]))
    return routes
