"""The Books reference loop `sync_throughput.py` measures `kn-zoho sync books` against
(see `raw_reference.py` for what every reference loop shares).

``per_record=True`` records each order on its own instead of per batch, as the real flow does
for crash safety: one statement starting its attempt before its calls (in autocommit), one
transaction recording it after. ``invariants=True`` keeps the batched record but adds what
the real flow's invariants cost each order: its attempt started (counted, logged
``in_progress``, the commit not waiting for its WAL flush, as the real start) before its calls,
and its stock row 'sending' committed before the mark-sent call; 'sent' for the batch's
invoices with its record.

Books contact updates: linking a user to its new Books customer queues a ``books_contact``
record (a trigger), which the real run syncs last with no call (the contact was created from
the same data: the link stores that data's digest on the queue row). The reference does the
same bookkeeping for them (digest stored with the link; claim, load the users, compare the
digest, record per batch, as the real flow does for records that need no call), so both
sides count the same records; the bare loop, which writes nothing, counts the users it linked
(mapping each to its digest, the real flow's work for them).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from raw_reference import Claimed, Zoho, claimed_batches, record_batch

from kn_zoho.mapping.books import (
    customer_email,
    customer_from_user,
    invoice_from_order,
    item_from_product,
    payment_from_order,
    tax_table_from_zoho,
)
from kn_zoho.mapping.books_edits import contact_update_from_user

# One attempt started before its calls; returns its log row's id (for the record to
# complete). ``quick``: committed without waiting for the WAL flush, as the real start is
# (``invariants``); else at the session's own setting (``per_record``, as measured before).
_START_ONE = sa.text("""
WITH quick AS MATERIALIZED (
    SELECT set_config('synchronous_commit', CASE WHEN :quick THEN 'off'
                      ELSE current_setting('synchronous_commit') END, true) AS s),
started AS (
    UPDATE integration.zoho_sync_queue SET attempts = attempts + 1, updated_at = now()
     WHERE entity = :entity AND record_key = :key RETURNING record_key, record_id, attempts)
INSERT INTO integration.zoho_sync_logs
    (entity, record_key, record_id, operation, status, attempt, run_id, started_at)
SELECT :entity, record_key, record_id, 'attempt', 'in_progress', attempts, 'raw', now()
  FROM started CROSS JOIN quick
RETURNING id
""")
_SENDING = sa.text(
    "INSERT INTO integration.stock_invoices (order_id, order_number, invoice_id, state) "
    "VALUES (:order_id, :number, :invoice_id, 'sending')")
_SENT = sa.text("UPDATE integration.stock_invoices SET state = 'sent', updated_at = now() "
                "WHERE order_id = ANY(:ids)")


def books_invoices(engine: sa.Engine, base_url: str, *, bookkeeping: bool,
                   seller_state: str, per_record: bool = False,
                   invariants: bool = False) -> int:
    """Products -> items, then paid orders -> customer (when new), invoice, mark sent,
    payment, after the listings the real run makes; returns the records synced."""
    zoho = Zoho(base_url)
    taxes = tax_table_from_zoho(zoho.books("GET", "/settings/taxes",
                                           {"page": 1, "per_page": 200})["taxes"])
    zoho.books("GET", "/items", {"filter_by": "Status.All", "page": 1, "per_page": 200})
    synced = 0
    item_ids: dict[str, str] = {}
    for claimed, products in claimed_batches(engine, "books_item", "products", bookkeeping):
        ids = {}
        for product in products:
            item = zoho.books("POST", "/items", body=item_from_product(product, taxes))["item"]
            ids[product["id"]] = item_ids[product["sku"]] = str(item["item_id"])
        if bookkeeping:
            record_batch(engine, "books_item", "products", claimed, ids)
        synced += len(ids)
    customers: dict[uuid.UUID, str] = {}
    linked_users: dict[uuid.UUID, dict[str, Any]] = {}
    names: set[str] = set()
    for claimed, orders in claimed_batches(engine, "books_invoice", "orders", bookkeeping):
        lines, users = _order_details(engine, orders)
        ids: dict[uuid.UUID, str] = {}
        new_customers: dict[uuid.UUID, str] = {}
        starts = _Starts(engine, claimed) if invariants else None
        for order in orders:
            one = _one(claimed, order["id"]) if per_record else None
            if starts is not None:
                starts.start(order["id"])
            if one is not None:
                with engine.connect() as conn:  # one statement: autocommit
                    conn.execution_options(isolation_level="AUTOCOMMIT").execute(
                        _START_ONE, {"entity": "books_invoice", "key": one.keys[0],
                                     "quick": False})
            user = users[order["user_id"]]
            if user["id"] not in customers:
                customers[user["id"]] = new_customers[user["id"]] = _customer(zoho, user, names)
                linked_users[user["id"]] = user
            ids[order["id"]] = _invoice(
                zoho, order, lines.get(order["id"], []), user, customers[user["id"]], item_ids,
                taxes, seller_state, starts.sending if starts is not None else None)
            if one is not None:
                _link_customers(engine, new_customers, users)
                record_batch(engine, "books_invoice", "orders", one, ids)
                new_customers = {}
        if bookkeeping and not per_record:
            _link_customers(engine, new_customers, users)
            if starts is not None:
                starts.settle()
            record_batch(engine, "books_invoice", "orders", claimed, ids)
        synced += len(ids)
    zoho.close()
    if not bookkeeping:
        # the users it linked, each mapped to its contact digest as the real flow does
        return synced + len([contact_update_from_user(user).digest
                             for user in linked_users.values()])
    return synced + _contact_updates(engine)


class _Starts:
    """Per order, the invariants' statements (``invariants=True``), each in autocommit on one
    connection: the attempt's start before its calls, 'sending' before its mark-sent."""

    def __init__(self, engine: sa.Engine, claimed: Claimed) -> None:
        self.engine, self.claimed = engine, claimed
        self.sent: list[uuid.UUID] = []
        self.log_ids: dict[uuid.UUID, int] = {}

    def _execute(self, statement: sa.TextClause, params: dict[str, Any]) -> Any:
        with self.engine.connect() as conn:
            return conn.execution_options(isolation_level="AUTOCOMMIT").execute(
                statement, params)

    def start(self, record_id: uuid.UUID) -> None:
        key = self.claimed.keys[self.claimed.ids.index(record_id)]
        self.log_ids[record_id] = self._execute(
            _START_ONE, {"entity": "books_invoice", "key": key, "quick": True}).scalar_one()

    def sending(self, order: dict[str, Any], invoice_id: str) -> None:
        self._execute(_SENDING, {"order_id": order["id"], "number": order["order_number"],
                                 "invoice_id": invoice_id})
        self.sent.append(order["id"])

    def settle(self) -> None:
        """'sent' for the batch's invoices (before its record, as the real flow does); the
        record completes the attempts' log rows."""
        self._execute(_SENT, {"ids": self.sent})
        self.claimed.log_ids = [self.log_ids[record_id] for record_id in self.claimed.ids]


def _contact_updates(engine: sa.Engine) -> int:
    """The queued contact updates: unchanged since the link (no call), recorded done."""
    synced = 0
    for claimed, users in claimed_batches(engine, "books_contact", "users", bookkeeping=True):
        by_id = {user["id"]: user for user in users}
        hashes = _queued_hashes(engine, claimed.keys)
        unchanged = [record_id for key, record_id in zip(claimed.keys, claimed.ids, strict=True)
                     if contact_update_from_user(by_id[record_id]).digest == hashes[key]]
        if len(unchanged) != len(claimed.ids):
            raise RuntimeError("a linked user's contact changed: the reference makes no PUT")
        record_batch(engine, "books_contact", None, claimed, {i: by_id[i]["zoho_books_id"]
                                                         for i in claimed.ids})
        synced += len(claimed.ids)
    return synced


def _queued_hashes(engine: sa.Engine, keys: list[str]) -> dict[str, str | None]:
    with engine.connect() as conn:
        return dict(conn.execute(sa.text(
            "SELECT record_key, payload_hash FROM integration.zoho_sync_queue "
            "WHERE entity = 'books_contact' AND record_key = ANY(:keys)"), {"keys": keys}).all())


def _one(claimed: Claimed, record_id: uuid.UUID) -> Claimed:
    index = claimed.ids.index(record_id)
    return Claimed([claimed.keys[index]], [record_id], [claimed.versions[index]],
                   [claimed.attempts[index]])


def _link_customers(engine: sa.Engine, customers: dict[uuid.UUID, str],
                    users: dict[Any, dict[str, Any]]) -> None:
    """Customer ids onto their users, at once, and the digest of what each contact was
    created from onto the contact update the link queued (as the real flow does)."""
    if customers:
        with engine.begin() as conn:
            conn.execute(sa.text(
                "UPDATE public.users SET zoho_books_id = d.z FROM unnest(CAST(:ids AS uuid[]), "
                "CAST(:zoho_ids AS text[])) AS d(i, z) WHERE users.id = d.i"),
                {"ids": list(customers), "zoho_ids": list(customers.values())})
            conn.execute(sa.text(
                "UPDATE integration.zoho_sync_queue AS q SET payload_hash = d.h "
                "FROM unnest(CAST(:keys AS text[]), CAST(:hashes AS text[])) AS d(k, h) "
                "WHERE q.entity = 'books_contact' AND q.record_key = d.k"),
                {"keys": [str(i) for i in customers],
                 "hashes": [contact_update_from_user(users[i]).digest for i in customers]})


def _order_details(engine: sa.Engine, orders: Sequence[dict[str, Any]]
                   ) -> tuple[dict[Any, list[dict[str, Any]]], dict[Any, dict[str, Any]]]:
    lines: dict[Any, list[dict[str, Any]]] = {}
    with engine.connect() as conn:
        for line in conn.execute(sa.text(
                "SELECT i.*, p.sku, p.name AS product_name, p.hsn_code FROM public.order_items i "
                "JOIN public.products p ON p.id = i.product_id WHERE i.order_id = ANY(:ids) "
                "ORDER BY p.sku, i.id"), {"ids": [o["id"] for o in orders]}).mappings():
            lines.setdefault(line["order_id"], []).append(dict(line))
        users = {row["id"]: dict(row) for row in conn.execute(sa.text(
            "SELECT * FROM public.users WHERE id = ANY(:ids)"),
            {"ids": list({o["user_id"] for o in orders})}).mappings()}
    return lines, users


def _customer(zoho: Zoho, user: dict[str, Any], names: set[str]) -> str:
    """Searched by email, created when Books has none (the real flow's 2 calls)."""
    payload = customer_from_user(user)
    found = zoho.books("GET", "/contacts", {"email": customer_email(payload)})["contacts"]
    if found:
        return str(found[0]["contact_id"])
    if payload["contact_name"].casefold() in names:  # Books refuses a second of one name
        payload["contact_name"] = f"{payload['contact_name']} ({customer_email(payload)})"[:200]
    names.add(payload["contact_name"].casefold())
    return str(zoho.books("POST", "/contacts", body=payload)["contact"]["contact_id"])


def _invoice(zoho: Zoho, order: dict[str, Any], lines: list[dict[str, Any]],
             user: dict[str, Any], customer_id: str, item_ids: dict[str, str], taxes: Any,
             seller_state: str, before_sent: Callable[[dict[str, Any], str], None] | None
             ) -> str:
    payload = invoice_from_order(order, lines, customer_id=customer_id, item_ids=item_ids,
                                 taxes=taxes, seller_state=seller_state, user=user)
    invoice = zoho.books("POST", "/invoices", {"ignore_auto_number_generation": "true"},
                         {**payload, "invoice_number": order["order_number"]})["invoice"]
    invoice_id = str(invoice["invoice_id"])
    if before_sent is not None:
        before_sent(order, invoice_id)
    zoho.books("POST", f"/invoices/{invoice_id}/status/sent")
    amount = Decimal(str(order["grand_total"])).quantize(Decimal("0.01"))
    if amount:
        payment = payment_from_order(order, invoice_id, customer_id, amount)
        payment.setdefault("reference_number",
                           order.get("payment_gateway_id") or order["order_number"])
        zoho.books("POST", "/customerpayments", body=payment)
    return invoice_id
