"""Books estimates after their creation: update, and the status marks Books documents.

https://www.zoho.com/books/api/v3/estimates/ lists "Update an Estimate" (``PUT
/estimates/{id}``) and "Mark an estimate as sent / accepted / declined" (``POST
/estimates/{id}/status/sent|accepted|declined``); its statuses are draft, sent, invoiced,
accepted, declined and expired. There is no call that marks an estimate expired: a sent
estimate past its ``expiry_date`` shows as expired (``sales.expire_due``).

What each call accepts from which status is not documented beyond "mark a sent estimate as
accepted / declined"; the stricter readings here:
* sent: only from draft;
* accepted, declined: only from sent (an expired estimate is neither);
* update: not once the customer accepted it, it was invoiced, or it was declined; an update
  of an expired estimate whose new expiry_date has not passed makes it sent again.
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
    message_reply,
    read_payload,
    reply,
)
from kn_zoho.sandbox.books.sale_documents import ESTIMATE, build_document
from kn_zoho.sandbox.books.sales import document_of, expire_due
from kn_zoho.sandbox.pipeline import Handler, zoho_endpoint
from kn_zoho.sandbox.state import SandboxState

NOT_EDITABLE = frozenset({"accepted", "invoiced", "declined"})
# status to mark -> the statuses it may be marked from
MARKS = {"sent": frozenset({"draft"}), "accepted": frozenset({"sent"}),
         "declined": frozenset({"sent"})}
_LINE_FIELDS = ("item_id", "name", "description", "quantity", "rate", "discount", "tax_id",
                "hsn_or_sac")
_DOCUMENT_FIELDS = ("customer_id", "date", "expiry_date", "reference_number",
                    "place_of_supply", "gst_treatment", "gst_no", "is_inclusive_tax",
                    "shipping_charge", "shipping_charge_tax_id", "adjustment",
                    "adjustment_description", "notes", "location_id")


def update_estimate(state: SandboxState, estimate: dict[str, Any], payload: dict[str, Any]
                    ) -> None:
    """Apply a PUT: what the payload leaves out stays; the whole estimate is validated again
    as a create would be (lines, taxes, place of supply). Hold the state lock."""
    if estimate["status"] in NOT_EDITABLE:
        raise books_error(400, 2, f"An estimate that is {estimate['status']} cannot be edited.")
    current = {field: estimate[field] for field in _DOCUMENT_FIELDS
               if estimate.get(field) not in (None, "")}
    current["line_items"] = [{field: line[field] for field in _LINE_FIELDS
                              if line.get(field) not in (None, "")}
                             for line in estimate["line_items"]]
    content = build_document(state, ESTIMATE, {**current, **payload})
    if "expiry_date" not in content:
        estimate.pop("expiry_date", None)
    estimate.update(content, last_modified_time=state.books_timestamp())
    if estimate["status"] == "expired" and estimate.get("expiry_date", "") >= state.today():
        estimate["status"] = "sent"


async def put_estimate(request: Request, state: SandboxState) -> Response:
    payload = await read_payload(request)
    with state.lock:
        expire_due(state, ESTIMATE)
        estimate = document_of(state, ESTIMATE, request.path_params["document_id"])
        update_estimate(state, estimate, payload)
        expire_due(state, ESTIMATE)
        state.save()
        return reply("Estimate has been updated.", "estimate", copy(estimate))


def _mark_endpoint(status: str) -> Handler:
    async def mark(request: Request, state: SandboxState) -> Response:
        with state.lock:
            expire_due(state, ESTIMATE)
            estimate = document_of(state, ESTIMATE, request.path_params["document_id"])
            if estimate["status"] not in MARKS[status]:
                raise books_error(400, 2, f"An estimate that is {estimate['status']} cannot "
                                          f"be marked as {status}.")
            estimate.update(status=status, last_modified_time=state.books_timestamp())
            expire_due(state, ESTIMATE)
            state.save()
        return message_reply(f"Estimate status has been changed to {status.title()}.")
    return mark


def estimate_routes() -> list[Route]:
    base = "/books/v3/estimates/{document_id}"
    return [Route(base, zoho_endpoint(SERVICE, put_estimate), methods=["PUT"]),
            *(Route(f"{base}/status/{status}", zoho_endpoint(SERVICE, _mark_endpoint(status)),
                    methods=["POST"]) for status in MARKS)]
