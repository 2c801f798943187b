"""Zoho ids written back onto storefront rows: a whole batch in one statement per table."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence

import sqlalchemy as sa

from kn_zoho.storefront.claims import Claim
from kn_zoho.storefront.outcomes import Outcome

# The storefront columns that hold a Zoho id (names are never taken from data).
ZOHO_ID_COLUMNS = frozenset({
    ("users", "zoho_crm_id"), ("contact_submissions", "zoho_crm_lead_id"),
    ("b2b_quotes", "zoho_crm_id"), ("users", "zoho_books_id"),
    ("products", "zoho_books_id"), ("orders", "zoho_books_id"),
    ("b2b_quotes", "zoho_books_id"), ("order_refunds", "zoho_books_id"),
})


def store_zoho_ids(conn: sa.Connection, table: str, column: str,
                   done: Sequence[tuple[Claim, Outcome]]) -> None:
    """Set ``table.column`` of each outcome's row to its Zoho id, in one statement.

    An outcome without an id (a renamed document's old key, settled as superseded) changes
    nothing; where one row comes twice in a batch (its old and new key) the later outcome
    wins, never an arbitrary one. A row holding the id already is left alone (no new row
    version, no trigger).
    """
    ids: dict[uuid.UUID, str] = {}
    for claim, outcome in done:
        if outcome.zoho_id:
            ids[claim.record_id] = outcome.zoho_id
    store_ids(conn, table, column, ids)


def store_ids(conn: sa.Connection, table: str, column: str,
              ids: Mapping[uuid.UUID, str]) -> None:
    """Set ``table.column`` of each row in ``ids`` to its Zoho id, in one statement; a row
    holding the id already is left alone (no new row version, no trigger).

    The rows are locked in id order first: the UPDATE alone locks them in the order of its
    scan (the table's, or the batch's), and a storefront transaction updating some of the
    same rows in id order then deadlocked with it."""
    if (table, column) not in ZOHO_ID_COLUMNS:
        raise ValueError(f"public.{table}.{column} is not a Zoho id column")
    if not ids:
        return
    conn.execute(sa.text(
        f"WITH locked AS (SELECT id FROM public.{table} WHERE id = ANY(:ids) "  # noqa: S608
        "ORDER BY id FOR UPDATE) "
        f"UPDATE public.{table} SET {column} = v.zoho_id "
        "FROM unnest(CAST(:ids AS uuid[]), CAST(:zoho_ids AS text[])) AS v(id, zoho_id) "
        "JOIN locked USING (id) "
        f"WHERE {table}.id = v.id AND {table}.{column} IS DISTINCT FROM v.zoho_id"),
        {"ids": list(ids), "zoho_ids": list(ids.values())})
