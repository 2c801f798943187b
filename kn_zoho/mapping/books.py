"""Storefront rows -> Zoho Books v3 payloads: items, customers, invoices, payments (estimates:
``books_estimates``, edits after the first sync: ``books_edits``).

Tax documents are checked before they leave: the totals Zoho will compute from the line items
(see ``gst``) must equal what the storefront charged, else the record fails with both figures.
Amounts go out as JSON numbers (float); every amount here has at most two decimals, which a
float round-trips exactly through JSON.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from kn_zoho.mapping import totals as t
from kn_zoho.mapping import validation as v
from kn_zoho.mapping.errors import MappingError
from kn_zoho.mapping.gst import (
    SupplyType,
    TaxLine,
    document_totals,
    principal_rate,
    round_paisa,
    supply_type,
)

ITEM_NAME_MAX = 100
ITEM_DESCRIPTION_MAX = 2000
CONTACT_NAME_MAX = 200
COMPANY_NAME_MAX = 200
PERSON_NAME_MAX = 100
REFERENCE_MAX = 100
NOTES_MAX = 5000  # Books' notes on a document
UNIT = "pcs"
# The payment modes Books documents for customer payments
# (https://www.zoho.com/books/api/v3/customer-payments/); it refuses any other value.
PAYMENT_MODES = ("check", "cash", "creditcard", "banktransfer", "bankremittance",
                 "autotransaction", "others")
# Storefront payments arrive through the online gateway and settle into the bank account by
# transfer. (autotransaction is Books' own card auto-charge, whose refunds go back to the card:
# not a third-party gateway's payment.)
DEFAULT_PAYMENT_MODE = "banktransfer"

Row = Mapping[str, Any]


@dataclass(frozen=True)
class TaxTable:
    """Zoho Books tax ids by GST rate: the CGST+SGST group (intra) and the IGST tax (inter)."""

    intra: Mapping[Decimal, str]
    inter: Mapping[Decimal, str]

    def tax_id(self, rate: Decimal, supply: SupplyType) -> str:
        """The tax to put on a line; ValueError naming the missing tax if Books has none."""
        table = self.intra if supply == "intra" else self.inter
        try:
            return table[rate]
        except KeyError:
            kind = "intra-state GST tax group" if supply == "intra" else "inter-state IGST tax"
            raise ValueError(
                f"Zoho Books has no {kind} at {_percent(rate)}%"
            ) from None


def tax_table_from_zoho(taxes: Iterable[Mapping[str, Any]]) -> TaxTable:
    """Build the table from the ``taxes`` list of ``GET /settings/taxes``.

    Intra-state GST is a tax group (e.g. GST18 = CGST9 + SGST9); inter-state is a single IGST tax.
    If an org has several candidates for a rate, Zoho's default name (GST18 / IGST18) wins.
    """
    intra: dict[Decimal, str] = {}
    inter: dict[Decimal, str] = {}
    for tax in taxes:
        rate = Decimal(str(tax["tax_percentage"]))
        name = str(tax.get("tax_name") or "").strip().upper()
        specific = str(tax.get("tax_specific_type") or "").lower()
        if tax.get("tax_type") == "tax_group":
            table, preferred = intra, f"GST{_percent(rate)}"
        elif tax.get("tax_type") == "tax" and (
            specific == "igst" or (not specific and name.startswith("IGST"))
        ):
            table, preferred = inter, f"IGST{_percent(rate)}"
        else:
            continue
        if rate not in table or name == preferred:
            table[rate] = str(tax["tax_id"])
    if not intra and not inter:
        raise ValueError("Zoho Books returned no GST tax groups or IGST taxes")
    return TaxTable(intra=intra, inter=inter)


def item_from_product(product: Row, taxes: TaxTable) -> dict[str, Any]:
    """A tracked-inventory goods item with its HSN code and intra/inter GST preferences."""
    sku = v.text(product.get("sku"))
    record = f"product {sku}"
    if sku is None:
        raise MappingError(f"product {product.get('id')}", "sku", "SKU is missing")
    name = v.display(product.get("name"))
    if name is None:
        raise MappingError(record, "name", "product name is missing")
    rate = v.gst_rate(product.get("gst_rate"), record)
    short_name = v.truncate(name, ITEM_NAME_MAX)
    description = v.text(product.get("description"))
    if short_name != name:  # the full name stays on the item, where invoices show it
        description = f"{name}\n\n{description}" if description else name
    payload: dict[str, Any] = {
        "name": short_name,
        "sku": sku,
        "rate": float(v.money(product.get("price"), record, "price")),
        "product_type": "goods",
        "item_type": "inventory",
        "hsn_or_sac": v.hsn_code(product.get("hsn_code"), record),
        "unit": UNIT,
        "item_tax_preferences": [
            {"tax_id": _tax_id(taxes, rate, "intra", record), "tax_specification": "intra"},
            {"tax_id": _tax_id(taxes, rate, "inter", record), "tax_specification": "inter"},
        ],
    }
    if description:
        payload["description"] = v.truncate(description, ITEM_DESCRIPTION_MAX)
    return payload


def customer_email(payload: Mapping[str, Any]) -> str:
    """The email of a customer payload's primary contact person (its natural key)."""
    return next(str(person.get("email") or "") for person in payload["contact_persons"]
                if person.get("is_primary_contact"))


def customer_from_user(user: Row) -> dict[str, Any]:
    """A Books customer: registered business with its GSTIN, unregistered business, or consumer.

    ``place_of_contact`` is the billing state, else the GSTIN's state, else the shipping state.
    """
    record = f"user {user['id']}"
    email = v.email(user.get("email"), record)
    full_name = v.display(user.get("full_name"))
    company = v.display(user.get("company"))
    treatment = _gst_treatment(user, record)
    gstin = treatment.get("gst_no")
    home = (
        v.state(user.get("billing_state"), record, "billing_state")
        or (v.gstin_state(gstin) if gstin else None)
        or v.state(user.get("shipping_state"), record, "shipping_state")
    )
    # Email and phone belong to the primary contact person, not to the contact
    # (https://www.zoho.com/books/api/v3/contacts/, "Create a Contact": contact_persons).
    person: dict[str, Any] = {"email": email, "is_primary_contact": True}
    if full_name:
        first, _, last = full_name.partition(" ")
        person["first_name"] = v.truncate(first, PERSON_NAME_MAX)
        if last.strip():
            person["last_name"] = v.truncate(last.strip(), PERSON_NAME_MAX)
    phone = v.phone(user.get("phone"), record)
    if phone:
        person["phone"] = phone
    payload: dict[str, Any] = {
        "contact_name": v.truncate(full_name or company or email.split("@")[0], CONTACT_NAME_MAX),
        "contact_type": "customer",
        "customer_sub_type": "individual"
        if treatment["gst_treatment"] == "consumer"
        else "business",
        "contact_persons": [person],
        **treatment,
    }
    if company:
        payload["company_name"] = v.truncate(company, COMPANY_NAME_MAX)
    if home:
        payload["place_of_contact"] = home.code
    return payload


def invoice_from_order(
    order: Row,
    lines: Sequence[Row],
    *,
    customer_id: str,
    item_ids: Mapping[str, str],
    taxes: TaxTable,
    seller_state: str,
    user: Row | None = None,
    tolerance: Decimal | None = None,
) -> dict[str, Any]:
    """A GST invoice for a paid order, refused if Zoho's total would differ from grand_total.

    ``lines`` are order_items joined with their product's ``sku``, ``name`` and ``hsn_code``.
    Storefront prices include GST (baseline.sql), so the invoice is tax inclusive and Zoho
    extracts the tax from each line. The shipping charge, GST inclusive too, is taxed at the
    principal supply's rate (see ``gst``). The storefront's ``tax_total`` is the GST in the
    lines only; the invoice's GST adds the shipping's, its total is the same grand total.
    A difference to grand_total of at most ``tolerance`` (``totals.total_tolerance()``)
    is carried as a visible ``adjustment``; a larger one is refused with both figures. With
    ``user`` the invoice carries the buyer's GST treatment and GSTIN; without it Zoho takes
    them from the customer.
    """
    record = _order_record(order)
    v.document_number(order.get("order_number"), record, "order_number")
    v.currency(order.get("currency"), record)
    place = v.required_state(order.get("shipping_state"), record, "shipping_state")
    supply = supply_type(seller_state, place.code)
    checked = _lines(lines, record, "order_items")
    shipping = v.money(order.get("shipping_charge") or 0, record, "shipping_charge")
    tax_lines = [line.tax_line for line in checked]
    shipping_rate = principal_rate(tax_lines) if shipping else None
    totals = document_totals(tax_lines, shipping, inclusive=True, supply=supply,
                             shipping_tax_percentage=shipping_rate)
    grand_total = v.money(order.get("grand_total"), record, "grand_total")
    adjustment = t.adjustment(record, grand_total, totals,
                             t.total_tolerance() if tolerance is None else tolerance)
    return gst_sale_payload(
        record, customer_id=customer_id, reference=order["order_number"],
        issued_on=v.ist_date(order.get("paid_at"), record, "paid_at"), place=place.code,
        line_items=_line_items(checked, item_ids, taxes, supply), shipping=shipping,
        shipping_rate=shipping_rate, adjustment=adjustment, taxes=taxes, supply=supply,
        user=user)


def sku_placeholders(lines: Sequence[Row]) -> dict[str, str]:
    """Item ids for mapping a document before its items exist: each SKU stands for its own."""
    return {line["sku"]: line["sku"] for line in lines}


def with_zoho_ids(payload: Mapping[str, Any], customer_id: str, item_ids: Mapping[str, str]
                  ) -> dict[str, Any]:
    """A payload mapped with :func:`sku_placeholders`, its Books ids set: a document is
    mapped (so checked) before anything it needs is created in Books, and only once."""
    return {**payload, "customer_id": customer_id,
            "line_items": [{**item, "item_id": item_ids[item["item_id"]]}
                           for item in payload["line_items"]]}


def gst_sale_payload(record: str, *, customer_id: str, reference: str, issued_on: str,
                     place: str, line_items: list[dict[str, Any]], shipping: Decimal,
                     shipping_rate: Decimal | None, adjustment: Decimal, taxes: TaxTable,
                     supply: SupplyType, user: Row | None) -> dict[str, Any]:
    """What a GST invoice and its credit notes share: tax-inclusive lines (discounts at item
    level, the only level Zoho applies them), the shipping at the principal supply's rate, a
    visible rounding adjustment and, with ``user``, the buyer's GST treatment and GSTIN."""
    payload: dict[str, Any] = {
        "customer_id": customer_id,
        "reference_number": reference,
        "date": issued_on,
        "place_of_supply": place,
        "is_inclusive_tax": True,
        "discount_type": "item_level",
        "line_items": line_items,
        "shipping_charge": float(shipping),
    }
    if shipping_rate is not None:
        payload["shipping_charge_tax_id"] = _tax_id(taxes, shipping_rate, supply, record)
    if adjustment:
        payload["adjustment"] = float(adjustment)
        payload["adjustment_description"] = t.ADJUSTMENT_DESCRIPTION
    if user is not None:
        payload.update(_gst_treatment(user, record))
    return payload


def expected_invoice_total(order: Row, lines: Sequence[Row]) -> Decimal:
    """The total Zoho Books will compute for the order's invoice (to check its reply)."""
    record = _order_record(order)
    shipping = v.money(order.get("shipping_charge") or 0, record, "shipping_charge")
    # The intra/inter split moves tax between CGST/SGST and IGST; it never changes the total.
    tax_lines = (line.tax_line for line in _lines(lines, record, "order_items"))
    return document_totals(tax_lines, shipping, inclusive=True, supply="inter").total


def payment_from_order(
    order: Row,
    invoice_id: str,
    customer_id: str,
    amount: Decimal | str,
    *,
    payment_mode: str = DEFAULT_PAYMENT_MODE,
) -> dict[str, Any]:
    """The customer payment that settles the order's invoice (reference = gateway payment id).

    A zero amount is refused: Zoho records no empty payment, so a free order needs none.
    ``payment_mode`` must be one of Books' documented :data:`PAYMENT_MODES`.
    """
    record = _order_record(order)
    if payment_mode not in PAYMENT_MODES:
        raise ValueError(f"payment_mode {payment_mode!r}: Zoho Books accepts only "
                         f"{', '.join(PAYMENT_MODES)}")
    paid = v.money(amount, record, "grand_total")
    if paid == 0:
        raise MappingError(record, "grand_total", "a payment needs a positive amount")
    payload: dict[str, Any] = {
        "customer_id": customer_id,
        "payment_mode": payment_mode,
        "amount": float(paid),
        "date": v.ist_date(order.get("paid_at"), record, "paid_at"),
        "description": f"Storefront order {order['order_number']}",
        "invoices": [{"invoice_id": invoice_id, "amount_applied": float(paid)}],
    }
    reference = v.text(order.get("payment_gateway_id"))
    if reference:
        if len(reference) > REFERENCE_MAX:
            raise MappingError(
                record, "payment_gateway_id", f"longer than Zoho's {REFERENCE_MAX} characters"
            )
        payload["reference_number"] = reference
    return payload


@dataclass(frozen=True)
class _Line:
    record: str
    sku: str
    quantity: int
    rate: Decimal
    discount: Decimal
    gst_rate: Decimal
    hsn_code: str

    @property
    def tax_line(self) -> TaxLine:
        return TaxLine(self.rate, self.quantity, self.gst_rate, self.discount)


def _lines(lines: Sequence[Row], record: str, table: str) -> list[_Line]:
    """Validated lines; ``table`` names the storefront line table when there are none."""
    if not lines:
        raise MappingError(record, table, "the document has no lines")
    checked = []
    for number, line in enumerate(lines, start=1):
        sku = v.text(line.get("sku"))
        line_record = f"{record} line {number}" + (f" ({sku})" if sku else "")
        if sku is None:
            raise MappingError(line_record, "sku", "SKU is missing")
        quantity = v.quantity(line.get("quantity"), line_record)
        rate = v.money(line.get("unit_price"), line_record, "unit_price")
        discount = v.money(line.get("discount") or 0, line_record, "discount")
        if discount > round_paisa(rate * quantity):
            raise MappingError(line_record, "discount", f"{discount} exceeds the line amount "
                               f"{round_paisa(rate * quantity)}")
        checked.append(
            _Line(
                record=line_record,
                sku=sku,
                quantity=quantity,
                rate=rate,
                discount=discount,
                gst_rate=v.gst_rate(line.get("gst_rate"), line_record),
                hsn_code=v.hsn_code(line.get("hsn_code"), line_record),
            )
        )
    return checked


def _line_items(
    lines: Sequence[_Line], item_ids: Mapping[str, str], taxes: TaxTable, supply: SupplyType
) -> list[dict[str, Any]]:
    items = []
    for line in lines:
        item_id = item_ids.get(line.sku)
        if item_id is None:
            raise MappingError(
                line.record, "sku", f"no Zoho Books item for SKU {v.shown(line.sku)}",
                "Sync the product's item first (it syncs on its own unless it failed: "
                "see books_items)")
        items.append(
            {
                "item_id": item_id,
                "quantity": line.quantity,
                "rate": float(line.rate),
                "discount": float(line.discount),
                "tax_id": _tax_id(taxes, line.gst_rate, supply, line.record),
                "hsn_or_sac": line.hsn_code,
            }
        )
    return items


def _gst_treatment(user: Row, record: str) -> dict[str, str]:
    """business_gst with the GSTIN; business_none for a B2B buyer without one; else consumer."""
    gstin = v.gstin(user.get("gstin"), record)
    if gstin:
        return {"gst_treatment": "business_gst", "gst_no": gstin}
    if user.get("customer_type") == "b2b":
        return {"gst_treatment": "business_none"}
    return {"gst_treatment": "consumer"}


def _tax_id(taxes: TaxTable, rate: Decimal, supply: SupplyType, record: str) -> str:
    try:
        return taxes.tax_id(rate, supply)
    except ValueError as error:
        raise MappingError(record, "gst_rate", str(error),
                           "Add that tax in Zoho Books (Settings > Taxes) or correct gst_rate "
                           "in the storefront; either change syncs it again") from None


def _order_record(order: Row) -> str:
    return f"order {order['order_number']}"


def _percent(rate: Decimal) -> str:
    return f"{rate.normalize():f}"
