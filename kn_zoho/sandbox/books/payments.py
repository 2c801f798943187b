"""Books customer payments: recording one settles (part of) the invoices it is applied to.

An invoice's balance falls by what is applied; it becomes ``paid`` at zero, else
``partially_paid``. Applying more than an invoice's balance, or more than the payment, is
refused. ``payment_mode`` must be one of the values Books documents
(https://www.zoho.com/books/api/v3/customer-payments/: check, cash, creditcard, banktransfer,
bankremittance, autotransaction or others); anything else is refused as an invalid value.

A payment applied to a draft invoice is refused. Books' API pages do not say what happens;
Zoho Invoice's help says its UI turns a draft into an open invoice when a payment is applied
(https://www.zoho.com/invoice/help/invoices/online-invoice-payment.html). A draft is not a
posted sale, so the sandbox takes the stricter reading: mark the invoice sent first.
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
    create_endpoint,
    decimal_value,
    get_endpoint,
    invalid,
    iso_date,
    list_reply,
    money,
    not_found,
    optional_text,
    required_text,
    required_value,
)
from kn_zoho.sandbox.pipeline import zoho_endpoint
from kn_zoho.sandbox.state import SandboxState

PAYABLE_STATUSES = frozenset({"sent", "partially_paid", "overdue"})
PAYMENT_MODES = frozenset({"check", "cash", "creditcard", "banktransfer", "bankremittance",
                           "autotransaction", "others"})


def _applications(state: SandboxState, raw: Any, customer_id: str
                  ) -> list[tuple[dict[str, Any], Decimal]]:
    """(invoice, amount applied) pairs, checked against each invoice's balance."""
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise invalid("invoices")
    invoices = state.collection("books", "invoices")
    applied_so_far: dict[str, Decimal] = {}
    applications = []
    for index, entry in enumerate(raw):
        field = f"invoices[{index}]"
        if not isinstance(entry, dict):
            raise invalid(field)
        invoice = invoices.get(str(entry.get("invoice_id") or ""))
        if invoice is None:
            raise not_found("Invoice", 400)
        if invoice["status"] == "draft":
            raise books_error(400, 2, f"Invoice {invoice['invoice_number']} is a draft: mark "
                                      "it as sent before recording a payment.")
        if invoice["customer_id"] != customer_id or invoice["status"] not in PAYABLE_STATUSES:
            raise invalid(f"{field}.invoice_id")
        label = f"{field}.amount_applied"
        amount = decimal_value(required_value(entry, "amount_applied", label), label)
        if amount <= 0:
            raise invalid(f"{field}.amount_applied")
        balance = Decimal(str(invoice["balance"])) - applied_so_far.get(
            invoice["invoice_id"], Decimal(0))
        if amount > balance:
            raise books_error(400, 2, f"The amount applied to invoice "
                                      f"{invoice['invoice_number']} ({amount}) exceeds its "
                                      f"balance due ({balance}).")
        applied_so_far[invoice["invoice_id"]] = (
            applied_so_far.get(invoice["invoice_id"], Decimal(0)) + amount)
        applications.append((invoice, amount))
    return applications


def new_payment(state: SandboxState, payload: dict[str, Any]) -> dict[str, Any]:
    """Validate, store and apply a customer payment; call with the state lock held."""
    customer_id = str(required_value(payload, "customer_id"))
    customer = state.collection("books", "contacts").get(customer_id)
    if customer is None:
        raise not_found("Contact", 400)
    payment_mode = required_text(payload, "payment_mode", 100)
    if payment_mode not in PAYMENT_MODES:
        raise invalid("payment_mode")
    amount = decimal_value(required_value(payload, "amount"), "amount")
    if amount <= 0:
        raise invalid("amount")
    paid_on = iso_date(required_value(payload, "date"), "date", "")
    reference = optional_text(payload, "reference_number", 100)
    description = optional_text(payload, "description", 500)
    applications = _applications(state, payload.get("invoices"), customer["contact_id"])
    applied_total = sum((applied for _, applied in applications), Decimal(0))
    if applied_total > amount:
        raise books_error(400, 2, f"The amount applied to invoices ({applied_total}) exceeds "
                                  f"the payment amount ({amount}).")
    now = state.books_timestamp()
    applied_lines = []
    for invoice, applied in applications:
        balance = Decimal(str(invoice["balance"])) - applied
        invoice["balance"] = money(balance)
        invoice["payment_made"] = money(Decimal(str(invoice["payment_made"])) + applied)
        invoice["status"] = "paid" if balance == 0 else "partially_paid"
        invoice["last_modified_time"] = now
        applied_lines.append({"invoice_id": invoice["invoice_id"],
                              "invoice_number": invoice["invoice_number"],
                              "amount_applied": money(applied),
                              "balance_amount": money(balance)})
    payment = {
        "payment_id": state.new_id("books"),
        "payment_number": str(state.next_sequence("payment")),
        "customer_id": customer["contact_id"],
        "customer_name": customer["contact_name"],
        "payment_mode": payment_mode,
        "amount": money(amount),
        "date": paid_on,
        "reference_number": reference,
        "description": description,
        "invoices": applied_lines,
        "unused_amount": money(amount - applied_total),
        "currency_code": "INR",
        "created_time": now,
        "last_modified_time": now,
    }
    state.collection("books", "payments")[payment["payment_id"]] = payment
    return payment


async def list_payments(request: Request, state: SandboxState) -> Response:
    with state.lock:
        records = list(state.collection("books", "payments").values())
        return list_reply(request, records, "customerpayments", "Customer Payments",
                          filters=("reference_number", "customer_id", "payment_mode"),
                          search_fields=("reference_number", "customer_name",
                                         "payment_number"))


def payment_routes() -> list[Route]:
    return [
        Route("/books/v3/customerpayments", zoho_endpoint(SERVICE, create_endpoint(
            new_payment, "The payment has been created.", "payment")),
              methods=["POST"]),
        Route("/books/v3/customerpayments", zoho_endpoint(SERVICE, list_payments),
              methods=["GET"]),
        Route("/books/v3/customerpayments/{payment_id}", zoho_endpoint(SERVICE, get_endpoint(
            "payments", "payment_id", "Payment", "payment")),
              methods=["GET"]),
    ]
