"""Books invoices and estimates as documents: GST line items, totals, numbering, and the stock
a sent invoice moves. The endpoints are in sales.py (and invoice_create.py, estimates.py).

Both are numbered automatically (INV-000001, EST-000001) unless the request carries
``ignore_auto_number_generation=true``, in which case the number is mandatory. Numbers are
unique per organization. A line without ``tax_id`` takes its item's tax preference for the
supply (intra-state when the place of supply is the organization's state, else inter-state),
and an intra-state tax on an inter-state supply, or the reverse, is refused, as Books does.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from kn_zoho.sandbox.books.common import (
    already_exists,
    books_error,
    boolean,
    decimal_value,
    find_by,
    invalid,
    iso_date,
    missing,
    money,
    not_found,
    optional_text,
    required_value,
)
from kn_zoho.sandbox.books.contacts import gst_details, state_code
from kn_zoho.sandbox.books.inventory import change_stock, tracks_stock
from kn_zoho.sandbox.books.locations import locations, primary_location, resolve_location
from kn_zoho.sandbox.books.taxes import TAXES_BY_ID, Tax
from kn_zoho.sandbox.books.totals import ZERO, PricedLine, document_totals, price_line
from kn_zoho.sandbox.state import SandboxState

# Treatments under which a supply inside the organization's state still takes IGST.
IGST_ANYWHERE = frozenset({"business_sez", "sez_developer", "deemed_export", "overseas"})


@dataclass(frozen=True)
class DocumentKind:
    """What differs between invoices and estimates."""

    resource: str        # JSON key and id prefix: "invoice" -> invoice_id, invoice_number
    collection: str      # sandbox collection and list key
    label: str           # "Invoice"
    number_prefix: str   # "INV-"
    is_invoice: bool     # invoices lower stock and carry a balance and due date
    created_message: str

    @property
    def id_field(self) -> str:
        return f"{self.resource}_id"

    @property
    def number_field(self) -> str:
        return f"{self.resource}_number"


INVOICE = DocumentKind("invoice", "invoices", "Invoice", "INV-", True,
                       "The invoice has been created.")
ESTIMATE = DocumentKind("estimate", "estimates", "Estimate", "EST-", False,
                        "The estimate has been created.")


def create_document(state: SandboxState, kind: DocumentKind, payload: dict[str, Any],
                    *, manual_number: bool, duplicate_code: int = 1001) -> dict[str, Any]:
    """Validate, number, store and (for invoices) apply a document; hold the state lock.
    ``duplicate_code``: Books' error code for a number already used (credit notes: 12018)."""
    document = build_document(state, kind, payload)
    documents = state.collection("books", kind.collection)
    number = _number(state, kind, payload, documents, manual_number, duplicate_code)
    now = state.books_timestamp()
    document = {kind.id_field: state.new_id("books"), kind.number_field: number,
                "status": "draft", **document, "created_time": now, "last_modified_time": now}
    documents[document[kind.id_field]] = document
    return document


def build_document(state: SandboxState, kind: DocumentKind, payload: dict[str, Any]
                   ) -> dict[str, Any]:
    """A document's validated content (no id, number or status): for a create or an update."""
    customer_id = str(required_value(payload, "customer_id"))
    customer = state.collection("books", "contacts").get(customer_id)
    if customer is None:
        raise not_found("Contact", 400)
    organization_state = state.config.organization_state
    place = state_code(payload.get("place_of_supply"), "place_of_supply",
                       customer.get("place_of_contact") or organization_state)
    gst = gst_details(payload, customer)
    intra = place == organization_state and gst["gst_treatment"] not in IGST_ANYWHERE
    inclusive = boolean(payload.get("is_inclusive_tax"), "is_inclusive_tax")
    lines, priced = _lines(state, payload.get("line_items"), intra, inclusive)
    shipping = decimal_value(payload.get("shipping_charge", 0), "shipping_charge")
    if shipping < 0:
        raise invalid("shipping_charge")
    adjustment = decimal_value(payload.get("adjustment", 0), "adjustment")
    shipping_tax = _line_tax({"tax_id": payload.get("shipping_charge_tax_id")}, {}, intra,
                             "shipping_charge")
    totals = document_totals(priced, shipping, adjustment, inclusive, shipping_tax)
    issued_on = iso_date(payload.get("date"), "date", state.today())
    due_on = iso_date(payload.get("due_date"), "due_date", issued_on)
    reference = optional_text(payload, "reference_number", 100)
    notes = optional_text(payload, "notes", 5000)
    # location_id: the location whose stock the document moves (Books invoice attribute,
    # https://www.zoho.com/books/api/v3/invoices/); checked and defaulted in locations.py.
    location = resolve_location(state, payload.get("location_id"))
    document = {
        "date": issued_on,
        "customer_id": customer["contact_id"],
        "customer_name": customer["contact_name"],
        "reference_number": reference,
        "place_of_supply": place,
        **gst,
        "is_inclusive_tax": inclusive,
        "discount_type": "item_level",
        "line_items": lines,
        "sub_total": money(totals.sub_total),
        "discount_total": money(totals.discount_total),
        "tax_total": money(totals.tax_total),
        "taxes": [{"tax_name": name, "tax_amount": money(amount)}
                  for name, amount in totals.taxes],
        "shipping_charge": money(shipping),
        "shipping_charge_tax_id": shipping_tax.tax_id if shipping_tax else "",
        "shipping_charge_tax": money(totals.shipping_tax),
        "shipping_charge_inclusive_of_tax": money(
            shipping + (ZERO if inclusive else totals.shipping_tax)),
        "shipping_charge_exclusive_of_tax": money(
            shipping - (totals.shipping_tax if inclusive else ZERO)),
        "adjustment": money(adjustment),
        "adjustment_description": optional_text(payload, "adjustment_description", 100),
        "total": money(totals.total),
        **({"location_id": location,
            "location_name": locations(state)[location]["location_name"]} if location else {}),
        "currency_code": "INR",
        "notes": notes,
    }
    if kind.is_invoice:
        document.update(due_date=due_on, balance=money(totals.total), payment_made=0.0)
    elif payload.get("expiry_date"):
        # An estimate's expiry_date ("Create an Estimate", https://www.zoho.com/books/api/v3/
        # estimates/); one before the estimate's date is refused (undocumented: the stricter).
        expiry = iso_date(payload.get("expiry_date"), "expiry_date", issued_on)
        if expiry < issued_on:
            raise invalid("expiry_date")
        document["expiry_date"] = expiry
    return document


def _number(state: SandboxState, kind: DocumentKind, payload: dict[str, Any],
            documents: dict[str, dict[str, Any]], manual: bool, duplicate_code: int) -> str:
    if manual:
        number = optional_text(payload, kind.number_field, 100)
        if not number:
            raise missing(kind.number_field)
        if find_by(documents.values(), kind.number_field, number):
            raise already_exists(f'{kind.label} "{number}" already exists.', duplicate_code)
        return number
    while True:  # auto numbers skip any number already used by hand
        number = f"{kind.number_prefix}{state.next_sequence(kind.resource):06d}"
        if not find_by(documents.values(), kind.number_field, number):
            return number


def _lines(state: SandboxState, raw_lines: Any, intra: bool, inclusive: bool
           ) -> tuple[list[dict[str, Any]], list[PricedLine]]:
    """Stored line items and their amounts."""
    if not isinstance(raw_lines, list) or not raw_lines:
        raise missing("line_items")
    items = state.collection("books", "items")
    lines: list[dict[str, Any]] = []
    priced: list[PricedLine] = []
    for index, line in enumerate(raw_lines):
        field = f"line_items[{index}]"
        if not isinstance(line, dict):
            raise invalid(field)
        item: dict[str, Any] = {}
        if line.get("item_id"):
            item = items.get(str(line["item_id"])) or {}
            if not item:
                raise not_found("Item", 400)
            if item.get("status") == "inactive":
                # Books offers no inactive item on a new transaction; what its API answers is
                # not documented, so the stricter: refuse.
                raise books_error(400, 2, f'The item "{item["name"]}" is inactive. Mark it as '
                                          "active to use it in transactions.")
        name = optional_text(line, "name", 100) or item.get("name", "")
        if not name:
            raise missing(f"{field}.name")
        if "rate" not in line and "rate" not in item:
            raise missing(f"{field}.rate")
        rate = decimal_value(line.get("rate", item.get("rate")), f"{field}.rate")
        quantity = decimal_value(line.get("quantity", 1), f"{field}.quantity")
        if rate < 0 or quantity <= 0:
            raise invalid(f"{field}.{'rate' if rate < 0 else 'quantity'}")
        tax = _line_tax(line, item, intra, field)
        try:
            amounts = price_line(rate, quantity, line.get("discount"), tax, inclusive)
        except ValueError:
            raise invalid(f"{field}.discount") from None
        priced.append(amounts)
        lines.append(_stored_line(state, line, item, name, rate, quantity, tax, amounts))
    return lines, priced


def stock_moves(state: SandboxState, invoice: dict[str, Any], sign: int) -> dict[str, Decimal]:
    """What a document's lines do to inventory items' stock: sign -1 sells, +1 returns."""
    items = state.collection("books", "items")
    deltas: dict[str, Decimal] = {}
    for line in invoice["line_items"]:
        item = items.get(line.get("item_id") or "")
        if item is not None and tracks_stock(item):
            deltas[item["item_id"]] = (deltas.get(item["item_id"], Decimal(0))
                                       + sign * Decimal(str(line["quantity"])))
    return deltas


def stock_location(state: SandboxState, document: dict[str, Any]) -> str | None:
    """Where a document moves stock: its location, else the primary one (documents made
    before Locations were enabled belong to the primary location, as on migration)."""
    return document.get("location_id") or primary_location(state)


def send_invoice(state: SandboxState, invoice: dict[str, Any]) -> None:
    """Draft -> sent: the sale is posted and its items' stock falls, once. Hold the lock."""
    if invoice["status"] == "draft":
        invoice["status"] = "sent"
        invoice["last_modified_time"] = state.books_timestamp()
        change_stock(state, stock_moves(state, invoice, -1), stock_location(state, invoice))


def _line_tax(line: dict[str, Any], item: dict[str, Any], intra: bool, field: str
              ) -> Tax | None:
    specification = "intra" if intra else "inter"
    tax_id = line.get("tax_id")
    if not tax_id:
        tax_id = next((preference["tax_id"] for preference in item.get(
            "item_tax_preferences", []) if preference["tax_specification"] == specification),
            None)
        if tax_id is None:
            return None
    tax = TAXES_BY_ID.get(str(tax_id))
    if tax is None:
        raise invalid(f"{field}.tax_id")
    if tax.tax_specification != specification:
        raise books_error(400, 2, "CGST and SGST have to be applied for an intra-state supply"
                          if intra else "IGST has to be applied for an inter-state supply")
    return tax


def _stored_line(state: SandboxState, line: dict[str, Any], item: dict[str, Any], name: str,
                 rate: Decimal, quantity: Decimal, tax: Tax | None,
                 amounts: PricedLine) -> dict[str, Any]:
    return {
        "line_item_id": state.new_id("books"),
        "item_id": item.get("item_id", ""),
        "name": name,
        "sku": item.get("sku", ""),
        "description": optional_text(line, "description", 2000),
        "hsn_or_sac": optional_text(line, "hsn_or_sac", 20) or item.get("hsn_or_sac", ""),
        "quantity": money(quantity),
        "rate": money(rate),
        "discount": line.get("discount") or 0,
        "discount_amount": money(amounts.discount_amount),
        "item_total": money(amounts.item_total),
        "tax_id": tax.tax_id if tax else "",
        "tax_name": tax.tax_name if tax else "",
        "tax_type": tax.tax_type if tax else "",
        "tax_percentage": float(tax.tax_percentage) if tax else 0.0,
        "line_item_taxes": [{"tax_id": part.tax_id, "tax_name": part.tax_name,
                             "tax_amount": money(amount)} for part, amount in amounts.tax_parts],
    }
