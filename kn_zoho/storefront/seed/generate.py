"""Generation: ``generate`` is a pure function of its arguments (one RNG stream per table,
timestamps from a fixed 2026 calendar), so tests and demos can re-derive the seeded rows.
This module draws each table's rows; who the customers are (GSTINs, PANs, names, e-mail
addresses, phone numbers, businesses) is drawn by :mod:`kn_zoho.storefront.seed.identity`."""

from __future__ import annotations

import random
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from kn_zoho.mapping.states import BY_CODE
from kn_zoho.storefront.seed.identity import (
    make_gstin,
    random_business,
    random_landline,
    random_mobile,
    random_person,
    unique_email,
)
from kn_zoho.storefront.seed.reference import (
    CATALOGUE,
    CITY_STD_CODE,
    CROPS,
    FREE_MAIL,
    INQUIRY_TOPICS,
    NAMES,
    QUOTE_NOTES,
    REGION_OF_STATE,
    STATE_WEIGHTS,
)

Row = dict[str, Any]

IST = timezone(timedelta(hours=5, minutes=30), "IST")
CALENDAR_START = datetime(2026, 1, 1, tzinfo=IST)
CALENDAR_END = datetime(2026, 12, 31, 22, 0, tzinfo=IST)
COMPANY_STATE = "KA"  # KN Biosciences ships from Karnataka: orders to KA are intra-state
QUOTE_VALIDITY = timedelta(days=30)

CENT = Decimal("0.01")

# --- Money -----------------------------------------------------------------------------------

def _money(value: Decimal) -> Decimal:
    return value.quantize(CENT, ROUND_HALF_UP)


def _included_gst(amount: Decimal, rate: Decimal) -> Decimal:
    """GST contained in a GST-inclusive amount."""
    return _money(amount * rate / (100 + rate))


def _line(product: Row, quantity: int, discount: Decimal) -> Row:
    return {"product_id": product["id"], "quantity": quantity, "unit_price": product["price"],
            "discount": discount, "gst_rate": product["gst_rate"],
            "line_total": _money(quantity * product["price"] - discount)}


def _totals(lines: Sequence[Row]) -> Row:
    return {"subtotal": sum((line["line_total"] for line in lines), Decimal("0.00")),
            "discount_total": sum((line["discount"] for line in lines), Decimal("0.00")),
            "tax_total": sum((_included_gst(line["line_total"], line["gst_rate"])
                              for line in lines), Decimal("0.00"))}


# --- Generation ------------------------------------------------------------------------------

@dataclass(frozen=True)
class SeedData:
    """Rows to insert, keyed by column name, in insertion order."""

    users: list[Row]
    products: list[Row]
    orders: list[Row]
    order_items: list[Row]
    contact_submissions: list[Row]
    b2b_quotes: list[Row]
    b2b_quote_items: list[Row]


def _stream(seed: int, table: str) -> random.Random:
    """One RNG per table, so adding users never changes the products (and so on)."""
    return random.Random(f"kn_zoho.seed:{seed}:{table}")


def _uuid(rng: random.Random) -> uuid.UUID:
    return uuid.UUID(int=rng.getrandbits(128), version=4)


def _moment(rng: random.Random, start: datetime, end: datetime) -> datetime:
    return start + timedelta(seconds=rng.randint(0, int((end - start).total_seconds())))


def _weighted(rng: random.Random, weights: dict[str, float]) -> str:
    return rng.choices(list(weights), weights=list(weights.values()))[0]




def _users(rng: random.Random, count: int) -> list[Row]:
    taken: set[str] = set()
    rows = []
    for _ in range(count):
        user_id = _uuid(rng)
        billing_state = _weighted(rng, STATE_WEIGHTS)
        region = REGION_OF_STATE.get(billing_state, "hindi")
        if rng.random() < 0.12:  # people move: a Tamil name in Pune is ordinary
            region = rng.choice(list(NAMES))
        person = random_person(rng, region)
        shipping_state = (billing_state if rng.random() < 0.92
                          else _weighted(rng, STATE_WEIGHTS))
        b2b = rng.random() < 0.25
        company = gstin = None
        domain = _weighted(rng, FREE_MAIL)
        phone: str | None = random_mobile(rng) if rng.random() < 0.92 else None
        if b2b:
            business = random_business(rng, person)
            company = business.name
            registration = rng.choices("123", weights=(85, 10, 5))[0]
            gstin = make_gstin(BY_CODE[billing_state].gst_number, business.pan, registration)
            if rng.random() < 0.6:  # the business's own domain rather than a free mailbox
                domain = business.brand + rng.choice((".in", ".com", ".co.in"))
            if billing_state in CITY_STD_CODE and rng.random() < 0.3:
                phone = random_landline(rng, CITY_STD_CODE[billing_state])
        created_at = _moment(rng, CALENDAR_START + timedelta(days=1),
                             CALENDAR_START + timedelta(days=330))
        rows.append({
            "id": user_id, "email": unique_email(rng, person, domain, taken),
            "full_name": person.display, "phone": phone, "company": company, "gstin": gstin,
            "customer_type": "b2b" if b2b else "b2c", "billing_state": billing_state,
            "shipping_state": shipping_state, "created_at": created_at,
            "updated_at": created_at,
        })
    return rows


def _price(rng: random.Random, typical: int) -> Decimal:
    """Around the typical price: half end in a round ``9`` rupee figure, half carry paise."""
    price = Decimal(typical) * Decimal(rng.randint(920, 1080)) / 1000
    if rng.random() < 0.5:
        return Decimal(int(price / 10) * 10 + 9).quantize(CENT)
    return _money(price)


def _products(rng: random.Random, count: int) -> list[Row]:
    variants = [(item, pack) for item in CATALOGUE for pack in item.packs]
    rng.shuffle(variants)
    per_category: dict[str, int] = {}
    rows = []
    for index in range(count):
        item, (pack, typical) = variants[index % len(variants)]
        bundle = index // len(variants) + 1  # past the catalogue: multi-pack bundles
        label = pack if bundle == 1 else f"{pack} x {bundle}"
        per_category[item.category] = per_category.get(item.category, 0) + 1
        created_at = CALENDAR_START + timedelta(minutes=index)
        rows.append({
            "id": _uuid(rng), "sku": f"KNB-{item.category}-{per_category[item.category]:04d}",
            "name": f"{item.name} ({label})", "description": item.description,
            "hsn_code": item.hsn_code, "gst_rate": item.gst_rate,
            "price": _price(rng, typical * bundle), "stock_quantity": rng.randint(50, 1000),
            "is_active": True, "created_at": created_at, "updated_at": created_at,
        })
    return rows


def _retail_discount(rng: random.Random, gross: Decimal) -> Decimal:
    """Mostly none; sometimes a coupon (5-15%, whole rupees) or a flat ₹50/₹100 off."""
    if rng.random() >= 0.15:
        return Decimal("0.00")
    if gross > 500 and rng.random() < 0.4:
        return Decimal(rng.choice((50, 100))).quantize(CENT)
    coupon = gross * rng.choice((5, 10, 15)) / 100
    return coupon.quantize(Decimal(1), ROUND_HALF_UP).quantize(CENT)


def _razorpay_id(rng: random.Random) -> str:
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
    return "pay_" + "".join(rng.choice(alphabet) for _ in range(14))


def _orders(rng: random.Random, count: int, paid: int, users: list[Row],
            products: list[Row]) -> tuple[list[Row], list[Row]]:
    drafts = []
    for _ in range(count):
        user = rng.choice(users)
        shipping_state = (user["shipping_state"] if rng.random() < 0.9
                          else _weighted(rng, STATE_WEIGHTS))
        chosen = rng.sample(products, min(len(products), rng.choices(
            (1, 2, 3, 4, 5), weights=(35, 30, 18, 10, 7))[0]))
        lines = []
        for product in chosen:
            quantity = rng.choices((1, 2, 3, 4, 5), weights=(50, 25, 12, 8, 5))[0]
            discount = _retail_discount(rng, quantity * product["price"])
            lines.append(_line(product, quantity, discount))
        created_at = _moment(rng, user["created_at"] + timedelta(minutes=5), CALENDAR_END)
        drafts.append((created_at, _uuid(rng), user, shipping_state, lines))
    drafts.sort(key=lambda draft: draft[0])  # order numbers follow time

    orders, items = [], []
    for number, (created_at, order_id, user, shipping_state, lines) in enumerate(drafts, 1):
        totals = _totals(lines)
        free_shipping = totals["subtotal"] >= 1499
        shipping = Decimal("0.00") if free_shipping else Decimal(
            49 if shipping_state == COMPANY_STATE else 99).quantize(CENT)
        # Selection sampling: exactly `paid` of the orders are paid, spread at random.
        is_paid = rng.random() * (count - number + 1) < paid
        if is_paid:
            paid -= 1
        status = "paid" if is_paid else rng.choices(("pending", "failed"), (65, 35))[0]
        paid_at = created_at + timedelta(seconds=rng.randint(30, 900)) if is_paid else None
        orders.append({
            "id": order_id, "order_number": f"KN-2026-{number:06d}", "user_id": user["id"],
            "payment_status": status, "paid_at": paid_at,
            "payment_gateway_id": _razorpay_id(rng) if status != "pending" else None,
            "shipping_state": shipping_state, **totals, "shipping_charge": shipping,
            "grand_total": totals["subtotal"] + shipping, "currency": "INR",
            "created_at": created_at, "updated_at": paid_at or created_at,
        })
        items += [{"id": _uuid(rng), "order_id": order_id, **line, "created_at": created_at}
                  for line in lines]
    return orders, items


def _inquiries(rng: random.Random, count: int, products: list[Row]) -> list[Row]:
    rows = []
    taken: set[str] = set()
    for _ in range(count):
        state = _weighted(rng, STATE_WEIGHTS)
        person = random_person(rng, REGION_OF_STATE.get(state, "hindi"))
        company = random_business(rng, person).name if rng.random() < 0.35 else None
        subject, template = rng.choice(INQUIRY_TOPICS)
        product = rng.choice(products)["name"] if products else "your bio-fertilisers"
        rows.append({
            "id": _uuid(rng), "name": person.display,
            "email": unique_email(rng, person, _weighted(rng, FREE_MAIL), taken),
            "phone": random_mobile(rng) if rng.random() < 0.75 else None, "company": company,
            "subject": subject,
            "message": template.format(product=product, crop=rng.choice(CROPS),
                                       qty=rng.choice((50, 100, 200, 500))),
            "created_at": _moment(rng, CALENDAR_START, CALENDAR_END),
        })
    return rows


def _quotes(rng: random.Random, requested: int, approved: int, users: list[Row],
            products: list[Row]) -> tuple[list[Row], list[Row]]:
    businesses = [user for user in users if user["customer_type"] == "b2b"]
    statuses = ["requested"] * requested + ["approved"] * approved
    rng.shuffle(statuses)
    drafts = []
    for status in statuses:
        user = rng.choice(businesses)
        lines = []
        for product in rng.sample(products, min(len(products), rng.randint(1, 5))):
            quantity = rng.choice([q for q in (10, 20, 25, 50, 100, 200, 250, 500)
                                   if q * product["price"] <= 250_000] or [5])
            gross = quantity * product["price"]
            discount = (_money(gross * rng.choice((5, 8, 10, 12)) / 100)
                        if rng.random() < 0.6 else Decimal("0.00"))  # bulk discount
            lines.append(_line(product, quantity, discount))
        created_at = _moment(rng, user["created_at"] + timedelta(hours=1), CALENDAR_END)
        drafts.append((created_at, _uuid(rng), status, user, lines))
    drafts.sort(key=lambda draft: draft[0])

    quotes, items = [], []
    for number, (created_at, quote_id, status, user, lines) in enumerate(drafts, 1):
        totals = _totals(lines)
        approved_at = (created_at + timedelta(minutes=rng.randint(240, 7200))
                       if status == "approved" else None)
        quotes.append({
            "id": quote_id, "quote_number": f"QT-2026-{number:04d}", "user_id": user["id"],
            "status": status, "shipping_state": user["shipping_state"],
            "notes": rng.choice(QUOTE_NOTES),
            "valid_until": (created_at + QUOTE_VALIDITY).date(), **totals,
            "grand_total": totals["subtotal"], "approved_at": approved_at,
            "created_at": created_at, "updated_at": approved_at or created_at,
        })
        items += [{"id": _uuid(rng), "quote_id": quote_id, **line, "created_at": created_at}
                  for line in lines]
    return quotes, items


def generate(*, users: int = 50, products: int = 20, orders: int = 100,
             paid_fraction: float = 0.8, inquiries: int = 10, quote_requests: int = 5,
             approved_quotes: int = 0, seed: int = 42) -> SeedData:
    """The rows ``seed`` inserts, computed without a database (same arguments, same rows)."""
    counts = {"users": users, "products": products, "orders": orders, "inquiries": inquiries,
              "quote_requests": quote_requests, "approved_quotes": approved_quotes}
    for name, value in counts.items():
        if value < 0:
            raise ValueError(f"{name} must be >= 0, got {value}")
    if not 0 <= paid_fraction <= 1:
        raise ValueError(f"paid_fraction must be between 0 and 1, got {paid_fraction}")
    if orders and not (users and products):
        raise ValueError("orders need at least one user and one product")

    user_rows = _users(_stream(seed, "users"), users)
    product_rows = _products(_stream(seed, "products"), products)
    if (quote_requests or approved_quotes) and not (
            product_rows and any(u["customer_type"] == "b2b" for u in user_rows)):
        raise ValueError("quotes need at least one product and one b2b user (seed more users)")
    order_rows, order_items = _orders(_stream(seed, "orders"), orders,
                                      round(orders * paid_fraction), user_rows, product_rows)
    quote_rows, quote_items = _quotes(_stream(seed, "quotes"), quote_requests,
                                      approved_quotes, user_rows, product_rows)
    return SeedData(
        users=user_rows, products=product_rows, orders=order_rows, order_items=order_items,
        contact_submissions=_inquiries(_stream(seed, "inquiries"), inquiries, product_rows),
        b2b_quotes=quote_rows, b2b_quote_items=quote_items,
    )
