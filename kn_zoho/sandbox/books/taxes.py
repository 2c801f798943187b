"""The organization's India GST taxes, seeded the way a new Books India organization has them.

Intra-state supply is taxed with a group (GST18 = CGST9 + SGST9); inter-state with a single
IGST tax (IGST18). Ids are fixed, so tests and the demo can rely on them across restarts.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from kn_zoho.sandbox.books.common import SERVICE, list_reply, not_found, reply
from kn_zoho.sandbox.pipeline import zoho_endpoint
from kn_zoho.sandbox.state import SandboxState

GST_RATES = (0, 5, 12, 18, 28)


@dataclass(frozen=True)
class Tax:
    """A tax or tax group; a group's tax is split over its components."""

    tax_id: str
    tax_name: str
    tax_percentage: Decimal
    tax_type: str                 # "tax" or "tax_group"
    tax_specification: str        # "intra" (CGST+SGST) or "inter" (IGST)
    tax_specific_type: str = ""   # "cgst", "sgst", "igst"; "" for a group
    components: tuple[Tax, ...] = ()

    def as_json(self) -> dict[str, Any]:
        result: dict[str, Any] = {
            "tax_id": self.tax_id,
            "tax_name": self.tax_name,
            "tax_percentage": float(self.tax_percentage),
            "tax_type": self.tax_type,
            "tax_specific_type": self.tax_specific_type,
            "tax_specification": self.tax_specification,
            "is_value_added": False,
            "is_default_tax": False,
            "is_editable": True,
            "status": "active",
        }
        if self.components:
            result["taxes"] = [component.as_json() for component in self.components]
        return result


def _percent(rate: Decimal) -> str:
    return f"{rate.normalize():f}"


def _india_gst() -> tuple[Tax, ...]:
    serial = iter(range(1, 1000))

    def next_id() -> str:
        return f"4600099{next(serial):08d}"

    taxes: list[Tax] = []
    for rate in map(Decimal, GST_RATES):
        half = rate / 2
        cgst = Tax(next_id(), f"CGST{_percent(half)}", half, "tax", "intra", "cgst")
        sgst = Tax(next_id(), f"SGST{_percent(half)}", half, "tax", "intra", "sgst")
        group = Tax(next_id(), f"GST{_percent(rate)}", rate, "tax_group", "intra",
                    components=(cgst, sgst))
        igst = Tax(next_id(), f"IGST{_percent(rate)}", rate, "tax", "inter", "igst")
        taxes += [cgst, sgst, group, igst]
    return tuple(taxes)


TAXES: tuple[Tax, ...] = _india_gst()
TAXES_BY_ID: dict[str, Tax] = {tax.tax_id: tax for tax in TAXES}


async def list_taxes(request: Request, state: SandboxState) -> Response:
    """GET /settings/taxes: every tax and tax group."""
    records = [tax.as_json() for tax in reversed(TAXES)]  # list_reply shows newest first
    return list_reply(request, records, "taxes", "Taxes", filters=("tax_name",))


async def get_tax(request: Request, state: SandboxState) -> Response:
    tax = TAXES_BY_ID.get(request.path_params["tax_id"])
    if tax is None:
        raise not_found("Tax")
    return reply("success", "tax", tax.as_json())


def tax_routes() -> list[Route]:
    return [
        Route("/books/v3/settings/taxes", zoho_endpoint(SERVICE, list_taxes), methods=["GET"]),
        Route("/books/v3/settings/taxes/{tax_id}", zoho_endpoint(SERVICE, get_tax),
              methods=["GET"]),
    ]
