"""Zoho Books organizations: the list the token can see, and one organization's profile.

``GET /books/v3/organizations`` is how Books' API introduction says to find the organization
id (https://www.zoho.com/books/api/v3/introduction/#organization-id): it needs no
``organization_id``. ``GET /organizations/{organization_id}`` answers the profile with its
address (https://www.zoho.com/books/api/v3/organizations/). ``kn-zoho doctor`` reads both.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from kn_zoho.mapping.states import state_for_code
from kn_zoho.sandbox.books.common import SERVICE, BooksService, books_error, reply
from kn_zoho.sandbox.credentials import DEMO_ORGANIZATION_ID
from kn_zoho.sandbox.pipeline import zoho_endpoint
from kn_zoho.sandbox.state import SandboxState


class _NoOrganizationParam(BooksService):
    """The organizations list is the one Books call made before an organization is known."""

    def precheck(self, request: Request, state: SandboxState) -> Response | None:
        return None


def organization(state: SandboxState) -> dict[str, Any]:
    known = state_for_code(state.config.organization_state)
    return {
        "organization_id": DEMO_ORGANIZATION_ID, "name": "KN Biosciences (sandbox)",
        "contact_name": "KN Sandbox Admin", "email": "sandbox-admin@knbiosciences.example",
        "is_default_org": True, "plan_type": 0, "tax_group_enabled": True,
        "version": "india", "country": "India", "country_code": "IN",
        "currency_code": "INR", "currency_symbol": "₹", "time_zone": "Asia/Calcutta",
        "language_code": "en", "date_format": "dd/MM/yyyy", "fiscal_year_start_month": 3,
        "is_org_active": True, "user_role": "admin",
        "address": {"street_address1": "", "street_address2": "", "city": "Bengaluru",
                    "state": known.name if known else state.config.organization_state,
                    "state_code": state.config.organization_state, "country": "India",
                    "zip": "560001"},
    }


async def list_organizations(request: Request, state: SandboxState) -> Response:
    summary = {key: value for key, value in organization(state).items() if key != "address"}
    return reply("success", "organizations", [summary])


async def get_organization(request: Request, state: SandboxState) -> Response:
    if request.path_params["organization_id"] != DEMO_ORGANIZATION_ID:
        raise books_error(404, 1002, "Organization does not exist.")
    return reply("success", "organization", organization(state))


def organization_routes() -> list[Route]:
    return [
        Route("/books/v3/organizations", zoho_endpoint(_NoOrganizationParam(),
                                                       list_organizations), methods=["GET"]),
        Route("/books/v3/organizations/{organization_id}",
              zoho_endpoint(SERVICE, get_organization), methods=["GET"]),
    ]
