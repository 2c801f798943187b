"""Queue records as an admin knows them: by email, phone, order or quote number, SKU, name.

The queue keys records by partition key (a user's id is a UUID); these queries join each queue
row to its storefront row so the CLI, the alert mail and the Dagster UI can show and search
what people actually remember.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

_RECORDS_SQL = """
SELECT q.entity, q.record_key, q.status, q.attempts, q.next_attempt_at, q.last_error_code,
       q.last_error_message, q.zoho_id, q.updated_at,
       concat_ws(' ', coalesce(u.email, cs.email, ou.email, qu.email, {refund_email}),
                 coalesce(u.full_name, cs.name, p.name),
                 CASE WHEN q.source_table = 'orders' THEN o.order_number
                      WHEN q.source_table = 'order_refunds' THEN {refund_order} END,
                 CASE WHEN q.source_table = 'b2b_quotes' THEN bq.quote_number END,
                 CASE WHEN q.source_table = 'products' THEN p.sku END) AS label,
       regexp_replace(coalesce(u.phone, cs.phone, ou.phone, qu.phone, {refund_phone}, ''),
                      '\\D', '', 'g') AS phone_digits
  FROM integration.zoho_sync_queue q
  LEFT JOIN public.users u ON q.source_table = 'users' AND u.id = q.record_id
  LEFT JOIN public.contact_submissions cs
         ON q.source_table = 'contact_submissions' AND cs.id = q.record_id
  LEFT JOIN public.orders o ON q.source_table = 'orders' AND o.id = q.record_id
  LEFT JOIN public.users ou ON ou.id = o.user_id
  LEFT JOIN public.b2b_quotes bq ON q.source_table = 'b2b_quotes' AND bq.id = q.record_id
  LEFT JOIN public.users qu ON qu.id = bq.user_id
  LEFT JOIN public.products p ON q.source_table = 'products' AND p.id = q.record_id
  {refund_joins}
"""

# A refund (credit note) is found by its order's number and its customer, where the
# storefront has refunds (public.order_refunds, baseline_refunds.sql); elsewhere by its key.
_REFUND_PARTS = {
    "refund_email": "ru.email", "refund_order": "ro.order_number", "refund_phone": "ru.phone",
    "refund_joins": """LEFT JOIN public.order_refunds rf
         ON q.source_table = 'order_refunds' AND rf.id = q.record_id
  LEFT JOIN public.orders ro ON ro.id = rf.order_id
  LEFT JOIN public.users ru ON ru.id = ro.user_id""",
}
_NO_REFUND_PARTS = {"refund_email": "NULL", "refund_order": "NULL", "refund_phone": "NULL",
                    "refund_joins": ""}


def _records_sql(conn: sa.Connection) -> str:
    has_refunds = conn.execute(sa.text("SELECT to_regclass('public.order_refunds')")).scalar()
    return _RECORDS_SQL.format(**(_REFUND_PARTS if has_refunds else _NO_REFUND_PARTS))


@dataclass(frozen=True)
class QueueRecord:
    """One queue row with the words an admin would search it by (``label``)."""

    entity: str
    record_key: str
    status: str
    attempts: int
    next_attempt_at: datetime
    last_error_code: str | None
    last_error_message: str | None
    zoho_id: str | None
    updated_at: datetime
    label: str


def _records(conn: sa.Connection, where: str, params: dict[str, object], limit: int
             ) -> list[QueueRecord]:
    rows = conn.execute(sa.text(f"SELECT * FROM ({_records_sql(conn)}) r "  # noqa: S608
                                f"WHERE {where} "
                                "ORDER BY updated_at DESC, entity, record_key LIMIT :limit"),
                        {**params, "limit": limit})
    return [QueueRecord(r.entity, r.record_key, r.status, r.attempts, r.next_attempt_at,
                        r.last_error_code, r.last_error_message, r.zoho_id, r.updated_at,
                        r.label) for r in rows]


def find_records(engine: sa.Engine, text: str, *, limit: int = 50) -> list[QueueRecord]:
    """Records whose key, email, name, order/quote number or SKU contains ``text``
    (case-insensitive), or whose phone contains its digits (at least six)."""
    text = text.strip()
    if not text:
        return []
    digits = re.sub(r"\D", "", text)
    where = "(record_key ILIKE :pattern OR label ILIKE :pattern"
    if len(digits) >= 6:
        where += " OR phone_digits LIKE :digits"
    where += ")"
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    with engine.connect() as conn:
        return _records(conn, where, {"pattern": f"%{escaped}%", "digits": f"%{digits}%"},
                        limit)


def records_by_key(engine: sa.Engine, entity: str, keys: Sequence[str]
                   ) -> dict[str, QueueRecord]:
    """The queue rows of ``keys`` (with their labels), for per-record events in a run."""
    if not keys:
        return {}
    with engine.connect() as conn:
        found = _records(conn, "entity = :entity AND record_key = ANY(:keys)",
                         {"entity": entity, "keys": list(keys)}, len(keys))
    return {r.record_key: r for r in found}


def records_needing_attention(engine: sa.Engine, *, limit: int = 200) -> list[QueueRecord]:
    """Failed, dead and retrying records, most recently changed first."""
    with engine.connect() as conn:
        return _records(conn, "status IN ('failed', 'dead') OR (status = 'pending' "
                        "AND attempts > 0)", {}, limit)


@dataclass(frozen=True)
class Holder:
    record_key: str
    status: str
    claimed_by: str | None
    claimed_until: datetime | None


def holders(engine: sa.Engine, entity: str, keys: Sequence[str]) -> list[Holder]:
    """Queue state of ``keys`` (who holds them, until when), to explain a run that took none."""
    if not keys:
        return []
    with engine.connect() as conn:
        rows = conn.execute(sa.text(
            "SELECT record_key, status, claimed_by, claimed_until "
            "FROM integration.zoho_sync_queue WHERE entity = :entity "
            "AND record_key = ANY(:keys) ORDER BY record_key"),
            {"entity": entity, "keys": list(keys)})
        return [Holder(r.record_key, r.status, r.claimed_by, r.claimed_until) for r in rows]
