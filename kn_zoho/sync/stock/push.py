"""Storefront -> Books: the non-sale storefront changes as one inventory adjustment a cycle.

Zoho has no idempotency keys, so each push is a row in ``integration.stock_pushes`` with a
reference (``KNSTK-<id>-<token>``: unique per database, so a restored or second storefront
never mistakes another's adjustment for its own) written, with the ledger rows it carries,
before the call. After a lost reply, a killed run or a run that overlapped (the organization
lock makes them take turns) the next push looks the reference up first: found, the rows are
marked pushed; not found, they are released and go in a fresh push. Never sent twice.
Sales are never pushed: their invoices move Books stock.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

import sqlalchemy as sa

from kn_zoho.sync.books.common import refused_for_good
from kn_zoho.sync.stock.lock import books_stock_lock
from kn_zoho.zoho.books import BooksClient
from kn_zoho.zoho.budget import Priority, at_priority
from kn_zoho.zoho.errors import ZohoError

IST = timezone(timedelta(hours=5, minutes=30))
REASON = "Storefront stock changes"


@dataclass
class PushReport:
    """What one push did: SKUs sent, adjustments created (0 or 1) and settled from earlier."""

    pushed_skus: list[str] = field(default_factory=list)
    adjustments: int = 0
    reference: str | None = None
    resolved: dict[str, str] = field(default_factory=dict)  # reference -> applied/abandoned
    unknown: bool = False   # this push's outcome is unknown; the next one settles it
    error: str | None = None
    refused: bool = False   # Books refused the adjustment for good (bad data)
    refused_skus: list[str] = field(default_factory=list)  # refused alone: still pending


def _settle(conn: sa.Connection, push_id: int, reference: str, state: str,
            adjustment_id: str | None = None) -> None:
    conn.execute(sa.text(
        "UPDATE integration.stock_pushes SET state = :state, adjustment_id = :adjustment_id, "
        "settled_at = now() WHERE id = :id"),
        {"state": state, "adjustment_id": adjustment_id, "id": push_id})
    if state == "applied":
        conn.execute(sa.text("UPDATE integration.stock_movements SET pushed_at = now() "
                             "WHERE push_reference = :reference"), {"reference": reference})
    else:
        conn.execute(sa.text("UPDATE integration.stock_movements SET push_reference = NULL "
                             "WHERE push_reference = :reference"), {"reference": reference})


def _resolve_earlier(engine: sa.Engine, books: BooksClient, report: PushReport) -> None:
    """Settle pushes left 'sending' by a lost reply or a killed run: look each one up."""
    with engine.connect() as conn:
        unsettled = conn.execute(sa.text(
            "SELECT id, reference FROM integration.stock_pushes WHERE state = 'sending' "
            "ORDER BY id")).all()
    for push_id, reference in unsettled:
        found = books.find_inventory_adjustment_by_reference_number(reference)
        state = "applied" if found else "abandoned"
        with engine.begin() as conn:
            _settle(conn, push_id, reference, state,
                    str(found["inventory_adjustment_id"]) if found else None)
        report.resolved[reference] = state


def _claim(engine: sa.Engine, only: str | None = None
           ) -> tuple[int, str, list[dict[str, Any]]] | None:
    """Net the unpushed non-sale deltas per product; record the push before any call.

    Products netting to zero are marked pushed at once (nothing for Books to do); products
    with no Books item yet wait until the items flow links one.
    """
    with engine.begin() as conn:
        rows = conn.execute(sa.text("""
            SELECT m.product_id, p.sku, p.zoho_books_id AS item_id,
                   sum(m.delta)::integer AS delta, array_agg(m.id) AS ids
              FROM integration.stock_movements m JOIN public.products p ON p.id = m.product_id
             WHERE m.source = 'storefront' AND m.pushed_at IS NULL
               AND m.push_reference IS NULL AND p.zoho_books_id IS NOT NULL
               AND (CAST(:only AS uuid) IS NULL OR m.product_id = CAST(:only AS uuid))
             GROUP BY m.product_id, p.sku, p.zoho_books_id ORDER BY p.sku"""),
            {"only": only}).all()
        zero = [movement for row in rows if row.delta == 0 for movement in row.ids]
        if zero:
            conn.execute(sa.text("UPDATE integration.stock_movements SET pushed_at = now() "
                                 "WHERE id = ANY(:ids)"), {"ids": zero})
        moving = [row for row in rows if row.delta != 0]
        if not moving:
            return None
        lines = [{"product_id": str(row.product_id), "sku": row.sku, "item_id": row.item_id,
                  "quantity_adjusted": row.delta} for row in moving]
        push_id = conn.execute(sa.text(
            "INSERT INTO integration.stock_pushes (reference, state, lines) "
            "VALUES (:placeholder, 'sending', CAST(:lines AS jsonb)) RETURNING id"),
            {"placeholder": secrets.token_hex(16), "lines": json.dumps(lines)}).scalar_one()
        reference = f"KNSTK-{push_id}-{secrets.token_hex(4)}"
        conn.execute(sa.text("UPDATE integration.stock_pushes SET reference = :reference "
                             "WHERE id = :id"), {"reference": reference, "id": push_id})
        conn.execute(sa.text("UPDATE integration.stock_movements SET push_reference = :ref "
                             "WHERE id = ANY(:ids)"),
                     {"ref": reference, "ids": [i for row in moving for i in row.ids]})
        return push_id, reference, lines


def adjustment_payload(reference: str, lines: list[dict[str, Any]],
                       location_id: str | None = None) -> dict[str, Any]:
    """A quantity adjustment as Zoho Inventory documents it (date, reason, adjustment_type,
    line_items[item_id, quantity_adjusted, location_id];
    https://www.zoho.com/inventory/api/v1/inventoryadjustments/); each line at
    ``location_id`` where one is configured (location.py), none otherwise."""
    at = {"location_id": location_id} if location_id else {}
    return {
        "date": datetime.now(IST).date().isoformat(),
        "reason": REASON,
        "adjustment_type": "quantity",
        "reference_number": reference,
        "description": "kn_zoho: admin edits, restocks and returns made on the storefront",
        "line_items": [{"item_id": line["item_id"], "quantity_adjusted": line["quantity_adjusted"],
                        **at} for line in lines],
    }


def _send(engine: sa.Engine, books: BooksClient, push_id: int, reference: str,
          lines: list[dict[str, Any]], report: PushReport, location_id: str | None = None
          ) -> None:
    try:
        created = books.create_inventory_adjustment(
            adjustment_payload(reference, lines, location_id))
    except ZohoError as error:
        if not error.outcome_unknown:
            with engine.begin() as conn:  # refused before it was stored: try again later
                _settle(conn, push_id, reference, "abandoned")
            report.error = str(error)
            report.refused = refused_for_good(error)  # bad data, not a token or scope problem
            return
        try:
            found = books.find_inventory_adjustment_by_reference_number(reference)
        except ZohoError:
            found = None
        if found is None:  # not visible (yet): the next push looks again before sending
            report.unknown = True
            report.error = str(error)
            return
        created = found
    with engine.begin() as conn:
        _settle(conn, push_id, reference, "applied", str(created["inventory_adjustment_id"]))
    report.adjustments += 1
    report.pushed_skus += [line["sku"] for line in lines]


@at_priority(Priority.STOCK)  # stock may use the reserve the other flows leave
def push(engine: sa.Engine, books: BooksClient, location_id: str | None = None) -> PushReport:
    """One push cycle under the organization's stock lock: settle earlier pushes, then send
    at most one adjustment with every product's netted non-sale change (at ``location_id``,
    where the storefront sells from one Books location: location.py)."""
    report = PushReport()
    with books_stock_lock(engine, books.organization_id):
        try:
            _resolve_earlier(engine, books, report)
        except ZohoError as error:  # cannot tell what landed: send nothing new this cycle
            report.error = str(error)
            report.unknown = True
            return report
        claimed = _claim(engine)
        if claimed is not None:
            push_id, reference, lines = claimed
            report.reference = reference
            _send(engine, books, push_id, reference, lines, report, location_id)
            if report.refused and len(lines) > 1:
                _one_by_one(engine, books, lines, report, location_id)
    return report


def _one_by_one(engine: sa.Engine, books: BooksClient, lines: list[dict[str, Any]],
                report: PushReport, location_id: str | None = None) -> None:
    """Books refused the batch for good (an item deleted or made untrackable there, most
    likely) and does not say which line: send each SKU alone, so one bad SKU does not hold
    the others back. The refused ones stay pending, reported, and are tried again next cycle.
    """
    for line in lines:
        claimed = _claim(engine, only=line["product_id"])
        if claimed is None:
            continue
        single = PushReport()
        _send(engine, books, *claimed, single, location_id)
        report.adjustments += single.adjustments
        report.pushed_skus += single.pushed_skus
        report.unknown = report.unknown or single.unknown
        if single.refused:
            report.refused_skus.append(line["sku"])
        if single.error and not single.refused:
            break  # Books is failing, not refusing: the next cycle tries again
