"""The sandbox's own API under /__sandbox: counters, records, faults, reset, and the actions
a Books user takes by hand (an offline sale, a stock correction) that the sync must notice.

These calls need no token and are neither counted nor subject to injected faults.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from decimal import Decimal
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from kn_zoho.sandbox.books.common import copy, find_by
from kn_zoho.sandbox.books.contacts import new_contact
from kn_zoho.sandbox.books.inventory import change_stock, new_adjustment, tracks_stock
from kn_zoho.sandbox.books.locations import new_location, resolve_location
from kn_zoho.sandbox.books.sale_documents import (
    INVOICE,
    create_document,
    send_invoice,
    stock_location,
)
from kn_zoho.sandbox.crm_layout import change_field
from kn_zoho.sandbox.oauth import expire_all_tokens
from kn_zoho.sandbox.pipeline import ApiError, Endpoint
from kn_zoho.sandbox.state import RECORD_KINDS, SandboxState, sandbox_state
from kn_zoho.sandbox.webhooks import configure as configure_webhooks
from kn_zoho.sandbox.webhooks import notify

ADMIN_PREFIX = "/__sandbox"
WALK_IN_CUSTOMER = "Walk-in Customer"


def _bad_request(message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=400)


async def _json_object(request: Request) -> dict[str, Any]:
    try:
        body = json.loads(await request.body() or b"{}")
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise ApiError(_bad_request("the body must be a JSON object"))
    return body


async def stats(request: Request) -> Response:
    state = sandbox_state(request)
    with state.lock:
        return JSONResponse({**state.stats.as_json(), "faults": asdict(state.faults)})


async def records(request: Request) -> Response:
    kind = request.path_params["kind"]
    if kind not in RECORD_KINDS:
        return JSONResponse({"error": f"unknown record kind {kind!r}",
                             "kinds": sorted(RECORD_KINDS)}, status_code=404)
    return JSONResponse(sandbox_state(request).records(kind))


async def faults(request: Request) -> Response:
    """Change the given fault settings (others stay); expire_tokens_now acts once."""
    state = sandbox_state(request)
    body = await _json_object(request)
    expire_now = body.pop("expire_tokens_now", False)
    if not isinstance(expire_now, bool):
        return _bad_request("expire_tokens_now must be true or false")
    with state.lock:
        try:
            state.faults.update(body)
        except ValueError as error:
            return _bad_request(str(error))
        expired = expire_all_tokens(state) if expire_now else 0
        return JSONResponse({"faults": asdict(state.faults), "expired_tokens": expired})


async def reset(request: Request) -> Response:
    sandbox_state(request).reset()
    configure_webhooks(sandbox_state(request), None)
    return JSONResponse({"reset": True})


def _item_by_sku(state: SandboxState, sku: Any) -> dict[str, Any]:
    item = find_by(state.collection("books", "items").values(), "sku", str(sku or ""))
    if item is None:
        raise ApiError(JSONResponse({"error": f"no item with sku {sku!r}"}, status_code=404))
    return item


async def offline_sale(request: Request) -> Response:
    """A counter sale entered in Books: an invoice to the walk-in customer, created and
    marked sent as a Books user would, so it lowers stock."""
    state = sandbox_state(request)
    body = await _json_object(request)
    with state.lock:
        item = _item_by_sku(state, body.get("sku"))
        customer = find_by(state.collection("books", "contacts").values(), "contact_name",
                           WALK_IN_CUSTOMER) or new_contact(state, {
                               "contact_name": WALK_IN_CUSTOMER, "gst_treatment": "consumer",
                               "customer_sub_type": "individual",
                               "place_of_contact": state.config.organization_state})
        line = {"item_id": item["item_id"], "quantity": body.get("quantity", 1)}
        if "rate" in body:
            line["rate"] = body["rate"]
        invoice = create_document(state, INVOICE, {
            "customer_id": customer["contact_id"], "line_items": [line],
            "is_inclusive_tax": True, "reference_number": body.get("reference_number", ""),
            **({"location_id": body["location_id"]} if body.get("location_id") else {}),
        }, manual_number=False)
        send_invoice(state, invoice)
        state.save()
        notify(state, "invoice", copy(invoice))
        return JSONResponse({"invoice": copy(invoice)}, status_code=201)


async def adjust_stock(request: Request) -> Response:
    """A manual stock correction entered in Books (an inventory adjustment)."""
    state = sandbox_state(request)
    body = await _json_object(request)
    with state.lock:
        item = _item_by_sku(state, body.get("sku"))
        adjustment = new_adjustment(state, {
            "date": state.today(), "reason": body.get("reason") or "Stock correction",
            "adjustment_type": "quantity",
            "line_items": [{"item_id": item["item_id"],
                            "quantity_adjusted": body.get("quantity_adjusted"),
                            "location_id": body.get("location_id")}],
        })
        state.save()
        notify(state, "inventoryadjustment", copy(adjustment))
        return JSONResponse({"inventory_adjustment": copy(adjustment)}, status_code=201)


async def credit_note(request: Request) -> Response:
    """A credit note for goods a walk-in customer returned, saved as Open in Books.

    Books: "creating an invoice reduces the stock, while creating a credit note increases an
    item's stock" for items with inventory tracking
    (https://www.zoho.com/de-de/books/kb/credits/cn-affect-stock-level.md); a draft is not
    active until converted to Open (https://www.zoho.com/bh/books/help/credit-note/index.md),
    so only an open one is modelled here (the stricter reading).
    """
    state = sandbox_state(request)
    body = await _json_object(request)
    with state.lock:
        item = _item_by_sku(state, body.get("sku"))
        quantity = body.get("quantity", 1)
        if not tracks_stock(item):
            return _bad_request(f"item {item['sku']} does not track stock")
        if not isinstance(quantity, int) or isinstance(quantity, bool) or quantity <= 0:
            return _bad_request("quantity must be a positive whole number")
        location = resolve_location(state, body.get("location_id"))
        notes = state.collection("books", "creditnotes")
        note = {"creditnote_id": state.new_id("books"),
                "creditnote_number": f"CN-{len(notes) + 1:05d}", "status": "open",
                "customer_name": WALK_IN_CUSTOMER, "date": state.today(),
                "line_items": [{"item_id": item["item_id"], "sku": item["sku"],
                                "quantity": quantity}],
                **({"location_id": location} if location else {})}
        notes[note["creditnote_id"]] = note
        change_stock(state, {item["item_id"]: Decimal(quantity)}, location)
        state.save()
        notify(state, "creditnote", copy(note))
        return JSONResponse({"creditnote": copy(note)}, status_code=201)


async def void_invoice(request: Request) -> Response:
    """A Books user voids an invoice (Sales > Invoices > Void): a sent one's stock comes back,
    as the API's ``POST /invoices/{id}/status/void`` does
    (https://www.zoho.com/books/api/v3/invoices/#void-an-invoice); one with payments applied
    is refused there and here."""
    state = sandbox_state(request)
    body = await _json_object(request)
    with state.lock:
        invoice = state.collection("books", "invoices").get(str(body.get("invoice_id") or ""))
        if invoice is None:
            return JSONResponse({"error": "no such invoice"}, status_code=404)
        if Decimal(str(invoice.get("payment_made", 0))) > 0:
            return _bad_request("Invoices with payments recorded cannot be voided.")
        if invoice["status"] != "void":
            if invoice["status"] != "draft":
                items, back = state.collection("books", "items"), {}
                for line in invoice["line_items"]:
                    item = items.get(line.get("item_id") or "")
                    if item is not None and tracks_stock(item):
                        back[item["item_id"]] = (back.get(item["item_id"], Decimal(0))
                                                 + Decimal(str(line["quantity"])))
                change_stock(state, back, stock_location(state, invoice))
            invoice["status"] = "void"
            invoice["last_modified_time"] = state.books_timestamp()
            state.save()
            notify(state, "invoice", copy(invoice))
        return JSONResponse({"invoice": copy(invoice)})


async def add_location(request: Request) -> Response:
    """A Books admin creates a location (``name``); the first enables Locations and becomes
    the primary one holding the organization's stock (see books/locations.py)."""
    state = sandbox_state(request)
    body = await _json_object(request)
    with state.lock:
        location = new_location(state, body.get("name"))
        state.save()
        return JSONResponse({"location": copy(location)}, status_code=201)


async def webhooks(request: Request) -> Response:
    """Where Books-user changes send their workflow webhooks: ``url`` (loopback), ``secret``
    (sent in X-KN-Webhook-Secret), ``duplicate_rate``, ``drop_rate``; no url = none."""
    state = sandbox_state(request)
    try:
        target = configure_webhooks(state, await _json_object(request))
    except ValueError as error:
        return _bad_request(str(error))
    return JSONResponse({"webhooks": None if target is None else {
        "url": target.url, "duplicate_rate": target.duplicate_rate,
        "drop_rate": target.drop_rate}})


def _admin(handler: Endpoint) -> Endpoint:
    """Admin errors are answered, not raised."""
    async def endpoint(request: Request) -> Response:
        try:
            return await handler(request)
        except ApiError as error:
            return error.response
    return endpoint


def admin_routes() -> list[Route]:
    return [
        Route(f"{ADMIN_PREFIX}/stats", _admin(stats), methods=["GET"]),
        Route(f"{ADMIN_PREFIX}/records/{{kind}}", _admin(records), methods=["GET"]),
        Route(f"{ADMIN_PREFIX}/faults", _admin(faults), methods=["POST"]),
        Route(f"{ADMIN_PREFIX}/reset", _admin(reset), methods=["POST"]),
        Route(f"{ADMIN_PREFIX}/crm/fields", _admin(change_field), methods=["POST"]),
        Route(f"{ADMIN_PREFIX}/books/offline-sale", _admin(offline_sale), methods=["POST"]),
        Route(f"{ADMIN_PREFIX}/books/adjust-stock", _admin(adjust_stock), methods=["POST"]),
        Route(f"{ADMIN_PREFIX}/books/credit-note", _admin(credit_note), methods=["POST"]),
        Route(f"{ADMIN_PREFIX}/books/void-invoice", _admin(void_invoice), methods=["POST"]),
        Route(f"{ADMIN_PREFIX}/books/locations", _admin(add_location), methods=["POST"]),
        Route(f"{ADMIN_PREFIX}/webhooks", _admin(webhooks), methods=["POST"]),
    ]
