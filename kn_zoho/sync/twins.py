"""Storefront records whose natural key differs from another's only in letter case.

The storefront keeps SKUs and emails unique as typed (``KNB-BF-1000`` and ``knb-bf-1000`` are
two products), Zoho does not: Books finds an existing item by SKU and refuses a second one
regardless of letter case (the sandbox does the same; Zoho documents uniqueness but not the
case rule, so the stricter reading is taken). Sent as it is, the second product would silently
update the first one's item, so one of the twins owns the SKU and the others fail, naming the
field, until an admin gives them a SKU of their own. The owner is the one already linked to a
Books item, else the one created first (then the lowest id), so the choice never flips
between runs and never takes an item away from the product that made it.

Emails are different: two storefront accounts are two customers, so accounts whose emails
differ only in case are matched exactly (CRM: on the user-id key alone; Books: by the exact
email), each getting its own Zoho record; ``shared_ignoring_case`` finds them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import sqlalchemy as sa

from kn_zoho.mapping.errors import MappingError
from kn_zoho.mapping.validation import shown

Row = Mapping[str, Any]

_OWNERS_SQL = """
SELECT DISTINCT ON (lower({key})) lower({key}) AS folded, id, {key} AS key_value
  FROM public.{table}
 WHERE lower({key}) = ANY(:keys)
 ORDER BY lower({key}), ({link} IS NULL), created_at, id
"""


def key_owners(conn: sa.Connection, table: str, key: str, link: str,
               values: Iterable[str]) -> dict[str, Row]:
    """For each lower-cased key value, the row that owns it: (id, key_value)."""
    folded = sorted({str(value).lower() for value in values if value})
    if not folded:
        return {}
    sql = _OWNERS_SQL.format(key=key, table=table, link=link)
    rows = conn.execute(sa.text(sql), {"keys": folded}).mappings()
    return {row["folded"]: row for row in rows}


def check_sku(product: Row, owners: Mapping[str, Row], record: str | None = None) -> None:
    """MappingError when another product owns this product's SKU but for letter case."""
    sku = str(product.get("sku") or "")
    owner = owners.get(sku.lower())
    if owner is None or owner["id"] == product["id"]:
        return
    raise MappingError(
        record or f"product {sku}", "sku",
        f"{shown(sku)} differs only in letter case from SKU {shown(owner['key_value'])} of "
        f"product {owner['id']}; Zoho Books treats the two as one item, so this product would "
        "overwrite the other's item",
        f"Give product {product['id']} a SKU of its own; saving it syncs it again")


def check_quote_number(quote: Row, owners: Mapping[str, Row]) -> None:
    """MappingError when another quote owns this quote's number but for letter case: its Lead
    is keyed ``quote-<number>`` in a unique CRM field, which Zoho compares without case, so
    the two requests would share (and overwrite) one Lead."""
    number = str(quote.get("quote_number") or "")
    owner = owners.get(number.lower())
    if owner is None or owner["id"] == quote["id"]:
        return
    raise MappingError(
        f"quote {number}", "quote_number",
        f"{shown(number)} differs only in letter case from quote "
        f"{shown(owner['key_value'])}; Zoho CRM compares the Leads' reference without letter "
        "case, so this request would overwrite the other's Lead",
        "Give the quote a number of its own; saving it syncs it again")


def shared_ignoring_case(conn: sa.Connection, table: str, key: str, values: Iterable[str]
                         ) -> set[str]:
    """The lower-cased ``values`` that more than one row of ``table`` has, ignoring case."""
    folded = sorted({str(value).strip().lower() for value in values if value})
    if not folded:
        return set()
    sql = (f"SELECT lower(btrim({key})) FROM public.{table} "  # noqa: S608
           f"WHERE lower(btrim({key})) = ANY(:keys) GROUP BY 1 HAVING count(*) > 1")
    return {row[0] for row in conn.execute(sa.text(sql), {"keys": folded})}
