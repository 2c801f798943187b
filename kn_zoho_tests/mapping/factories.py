"""Storefront rows and GSTINs for the mapping tests."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from stdnum import luhn

GSTIN_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
SELLER_STATE = "KA"


def make_gstin(state_digits: str = "29", pan: str = "AAPFU0939F", entity: str = "1") -> str:
    """A GSTIN with a correct check character (Luhn mod 36, as stdnum computes it)."""
    body = f"{state_digits}{pan}{entity}Z"
    return body + luhn.calc_check_digit(body, GSTIN_ALPHABET)


def with_wrong_check_character(gstin: str) -> str:
    wrong = next(c for c in GSTIN_ALPHABET if c != gstin[-1])
    return gstin[:-1] + wrong


def user(**changes: Any) -> dict[str, Any]:
    row = {
        "id": "3f2a9c1e-0000-4000-8000-000000000001",
        "email": "ravi.kumar@example.com",
        "full_name": "Ravi Kumar",
        "phone": "98450 12345",
        "company": None,
        "gstin": None,
        "customer_type": "b2c",
        "billing_state": "KA",
        "shipping_state": "KA",
    }
    return row | changes


def order(**changes: Any) -> dict[str, Any]:
    # Lines of order_lines(): 2 x 1180.00 - 100.00 at 18% and 1 x 525.00 at 5%, plus 50 shipping.
    row = {
        "id": "9d1c0000-0000-4000-8000-000000000017",
        "order_number": "KN-2026-000017",
        "user_id": user()["id"],
        "payment_status": "paid",
        "paid_at": datetime(2026, 3, 31, 20, 0, tzinfo=UTC),  # 1 April 01:30 in India
        "payment_gateway_id": "pay_Q1w2E3r4T5y6U7",
        "shipping_state": "KA",
        "subtotal": Decimal("2785.00"),
        "discount_total": Decimal("100.00"),
        "shipping_charge": Decimal("50.00"),
        "tax_total": Decimal("369.75"),
        "grand_total": Decimal("2835.00"),
        "currency": "INR",
    }
    return row | changes


def order_lines() -> list[dict[str, Any]]:
    return [
        {
            "sku": "KN-BIO-001",
            "name": "Trichoderma viride 1 kg",
            "hsn_code": "38089199",
            "quantity": 2,
            "unit_price": Decimal("1180.00"),
            "discount": Decimal("100.00"),
            "gst_rate": Decimal("18.00"),
            "line_total": Decimal("2260.00"),
        },
        {
            "sku": "KN-BIO-002",
            "name": "Neem cake 5 kg",
            "hsn_code": "2306",
            "quantity": 1,
            "unit_price": "525.00",
            "discount": "0",
            "gst_rate": "5",
            "line_total": "525.00",
        },
    ]


def quote(**changes: Any) -> dict[str, Any]:
    row = {
        "id": "7b2e0000-0000-4000-8000-000000000005",
        "quote_number": "Q-2026-000005",
        "user_id": user()["id"],
        "status": "approved",
        "shipping_state": "TN",
        "notes": "Need delivery before the kharif season.",
        "valid_until": date(2026, 5, 31),
        "subtotal": Decimal("2785.00"),
        "discount_total": Decimal("100.00"),
        "tax_total": Decimal("369.75"),
        "grand_total": Decimal("2785.00"),
        "approved_at": datetime(2026, 4, 2, 19, 0, tzinfo=UTC),  # 3 April 00:30 in India
        "created_at": datetime(2026, 4, 1, 6, 0, tzinfo=UTC),
    }
    return row | changes


def product(**changes: Any) -> dict[str, Any]:
    row = {
        "id": "5a5a0000-0000-4000-8000-000000000001",
        "sku": "KN-BIO-001",
        "name": "Trichoderma viride 1 kg",
        "description": "Bio-fungicide for soil treatment.",
        "hsn_code": "38089199",
        "gst_rate": Decimal("18.00"),
        "price": Decimal("1180.00"),
        "stock_quantity": 40,
        "is_active": True,
    }
    return row | changes


def zoho_taxes() -> list[dict[str, Any]]:
    """A trimmed ``GET /settings/taxes`` reply of an Indian org: components, groups, IGST."""
    taxes: list[dict[str, Any]] = []
    for rate in ("0", "5", "12", "18", "28"):
        half = str(Decimal(rate) / 2)
        taxes += [
            {
                "tax_id": f"cgst{rate}",
                "tax_name": f"CGST{half}",
                "tax_percentage": float(half),
                "tax_type": "tax",
                "tax_specific_type": "cgst",
            },
            {
                "tax_id": f"sgst{rate}",
                "tax_name": f"SGST{half}",
                "tax_percentage": float(half),
                "tax_type": "tax",
                "tax_specific_type": "sgst",
            },
            {
                "tax_id": f"gst{rate}",
                "tax_name": f"GST{rate}",
                "tax_percentage": int(rate),
                "tax_type": "tax_group",
            },
            {
                "tax_id": f"igst{rate}",
                "tax_name": f"IGST{rate}",
                "tax_percentage": int(rate),
                "tax_type": "tax",
                "tax_specific_type": "igst",
            },
        ]
    return taxes


def item_ids() -> dict[str, str]:
    return {"KN-BIO-001": "item-001", "KN-BIO-002": "item-002"}
