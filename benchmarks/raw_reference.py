"""The reference loops `sync_throughput.py` measures the real sync against.

Each makes the same Zoho calls as `kn-zoho sync crm` / `kn-zoho sync books` on a fresh
storefront (same mapping functions, so the sandbox does the same work), with bare
``requests`` and no runner: no token store, no rate limiter, no retries, no lookups before a
create but the one the real flow always makes (a new customer is searched by email, then
created). ``bookkeeping=True`` adds what any sync must do in the database, in a few statements
per batch of 100: claim the due queue rows, load their storefront rows, and after the calls
write back the Zoho ids, update the queue rows and insert the log rows. ``per_record=True``
(Books) records each order on its own instead, as the real flow does for crash safety: one
statement starting its attempt before its calls (in autocommit), one transaction recording it
after. ``invariants=True`` (Books) keeps the batched record but adds what the real flow's
invariants cost each order: its attempt started (counted, logged ``in_progress``, the commit
not waiting for its WAL flush, as the real start) before its calls, and its stock row
'sending' committed before the mark-sent call; 'sent' for the batch's invoices with its
record. The CRM loop logs each attempt before its call (``log_first``, the default), as the
real sync does so that a killed run leaves a trace: the claim also inserts the
``in_progress`` log rows, and the record completes them instead of inserting them.

Books contact updates: linking a user to its new Books customer queues a ``books_contact``
record (a trigger), which the real run syncs last with no call (the contact was created from
the same data: the link stores that data's digest on the queue row). The reference does the
same bookkeeping for them (digest stored with the link; claim, load the users, compare the
digest, record per batch, as the real flow does for records that need no call), so both
sides count the same
records; the bare loop, which writes nothing, counts the users it linked (mapping each to
its digest, the real flow's work for them).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import requests
import sqlalchemy as sa

from kn_zoho.mapping.books import (
    customer_email,
    customer_from_user,
    invoice_from_order,
    item_from_product,
    payment_from_order,
    tax_table_from_zoho,
)
from kn_zoho.mapping.books_edits import contact_update_from_user
from kn_zoho.mapping.crm import CrmFieldConfig, contact_from_user
from kn_zoho.sandbox import credentials

BATCH = 100

_CLAIM = sa.text("""
UPDATE integration.zoho_sync_queue AS q
   SET status = 'in_progress', claimed_by = :worker, claimed_until = now() + interval '60 s',
       claimed_version = q.change_version, attempts = q.attempts + 1, updated_at = now()
  FROM (SELECT entity, record_key FROM integration.zoho_sync_queue
         WHERE entity = :entity AND status = 'pending' AND next_attempt_at <= now()
         ORDER BY next_attempt_at, record_key LIMIT :limit FOR UPDATE SKIP LOCKED) AS due
 WHERE q.entity = due.entity AND q.record_key = due.record_key
RETURNING q.record_key, q.record_id, q.change_version, q.attempts
""")
# The claim that also logs each attempt before its call (``log_first``).
_CLAIM_LOGGED = sa.text(f"""
WITH claimed AS ({_CLAIM.text.strip()}
), logged AS (
    INSERT INTO integration.zoho_sync_logs
        (entity, record_key, record_id, operation, status, attempt, run_id, started_at)
    SELECT :entity, record_key, record_id, 'attempt', 'in_progress', attempts, :worker, now()
      FROM claimed
    RETURNING id, record_key
)
SELECT claimed.*, logged.id AS log_id FROM claimed JOIN logged USING (record_key)
""")  # noqa: S608
_LOG_DONE = sa.text("""
UPDATE integration.zoho_sync_logs AS l
   SET operation = 'create', status = 'success', zoho_id = d.z, finished_at = now()
  FROM unnest(CAST(:log_ids AS bigint[]), CAST(:zoho_ids AS text[])) AS d(i, z)
 WHERE l.id = d.i
""")
_DONE = sa.text("""
UPDATE integration.zoho_sync_queue AS q
   SET status = 'synced', synced_version = d.version, zoho_id = d.zoho_id,
       claimed_by = NULL, claimed_until = NULL, updated_at = now()
  FROM unnest(CAST(:keys AS text[]), CAST(:versions AS bigint[]), CAST(:zoho_ids AS text[]))
       AS d(record_key, version, zoho_id)
 WHERE q.entity = :entity AND q.record_key = d.record_key
""")
_LOG = sa.text("""
INSERT INTO integration.zoho_sync_logs
    (entity, record_key, record_id, operation, status, attempt, zoho_id, run_id, started_at,
     finished_at)
SELECT :entity, k, r, 'create', 'success', a, z, :worker, now(), now()
  FROM unnest(CAST(:keys AS text[]), CAST(:ids AS uuid[]), CAST(:attempts AS integer[]),
              CAST(:zoho_ids AS text[])) AS d(k, r, a, z)
""")


_START_ONE = sa.text("""
WITH started AS (
    UPDATE integration.zoho_sync_queue SET attempts = attempts + 1, updated_at = now()
     WHERE entity = :entity AND record_key = :key RETURNING record_key, record_id, attempts)
INSERT INTO integration.zoho_sync_logs
    (entity, record_key, record_id, operation, status, attempt, run_id, started_at)
SELECT :entity, record_key, record_id, 'attempt', 'in_progress', attempts, 'raw', now()
  FROM started
""")


# ``_START_ONE`` as the real start commits it: without waiting for the WAL flush; the log row's
# id comes back, for the record to complete it
_START_QUICK = sa.text("""
WITH quick AS MATERIALIZED (SELECT set_config('synchronous_commit', 'off', true) AS s),
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


def _write_back_sql(table: str) -> sa.TextClause:
    return sa.text(f"UPDATE public.{table} SET {_ID_COLUMN[table]} = d.z "  # noqa: S608
                   "FROM unnest(CAST(:ids AS uuid[]), CAST(:zoho_ids AS text[])) AS d(i, z) "
                   f"WHERE {table}.id = d.i")


_ID_COLUMN = {"users": "zoho_crm_id", "products": "zoho_books_id", "orders": "zoho_books_id"}


@dataclass
class Claimed:
    keys: list[str] = field(default_factory=list)
    ids: list[uuid.UUID] = field(default_factory=list)
    versions: list[int] = field(default_factory=list)
    attempts: list[int] = field(default_factory=list)
    log_ids: list[int] = field(default_factory=list)  # attempts logged before the calls


class Zoho:
    """Bare HTTP to the sandbox: one token, one session."""

    def __init__(self, base_url: str) -> None:
        self.session = requests.Session()
        reply = self.session.post(f"{base_url}/oauth/v2/token", data={
            "grant_type": "refresh_token", "client_id": credentials.DEMO_CLIENT_ID,
            "client_secret": credentials.DEMO_CLIENT_SECRET,
            "refresh_token": credentials.DEMO_REFRESH_TOKEN}, timeout=10)
        reply.raise_for_status()
        token = reply.json()
        self.base = token["api_domain"]
        self.session.headers["Authorization"] = f"Zoho-oauthtoken {token['access_token']}"
        self.org = {"organization_id": credentials.DEMO_ORGANIZATION_ID}

    def crm(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        reply = self.session.request(method, f"{self.base}/crm/v8{path}", timeout=30, **kwargs)
        return reply.json()

    def books(self, method: str, path: str, params: dict[str, Any] | None = None,
              body: Any = None) -> dict[str, Any]:
        reply = self.session.request(method, f"{self.base}/books/v3{path}",
                                     params={**self.org, **(params or {})}, json=body,
                                     timeout=30)
        result = reply.json()
        if result.get("code", 0) != 0:
            raise RuntimeError(f"{method} {path}: {result}")
        return result

    def close(self) -> None:
        self.session.close()


def _batches(engine: sa.Engine, entity: str, table: str, bookkeeping: bool,
             log_first: bool = False) -> Iterator[tuple[Claimed, list[dict[str, Any]]]]:
    """Batches of due rows: claimed from the queue (their attempts logged if ``log_first``),
    or (bare loop) read in id order."""
    after = None
    while True:
        claimed = Claimed()
        with engine.begin() as conn:
            if bookkeeping:
                for row in conn.execute(_CLAIM_LOGGED if log_first else _CLAIM, {
                        "entity": entity, "worker": "raw", "limit": BATCH}):
                    claimed.keys.append(row.record_key)
                    claimed.ids.append(row.record_id)
                    claimed.versions.append(row.change_version)
                    claimed.attempts.append(row.attempts)
                    if log_first:
                        claimed.log_ids.append(row.log_id)
                rows = conn.execute(sa.text(f"SELECT * FROM public.{table} "  # noqa: S608
                                            "WHERE id = ANY(:ids) ORDER BY id"),
                                    {"ids": claimed.ids}).mappings().all()
            else:
                rows = conn.execute(sa.text(
                    f"SELECT * FROM public.{table} WHERE id > coalesce(:after, "  # noqa: S608
                    "CAST('00000000-0000-0000-0000-000000000000' AS uuid)) ORDER BY id "
                    "LIMIT :limit"), {"after": after, "limit": BATCH}).mappings().all()
        if not rows:
            return
        after = rows[-1]["id"]
        yield claimed, [dict(row) for row in rows]


def _record(engine: sa.Engine, entity: str, table: str | None, claimed: Claimed,
            zoho_ids: dict[uuid.UUID, str]) -> None:
    """Write-back (none without ``table``), queue and log of a batch (the log rows completed if
    the claim wrote them): one transaction."""
    ids = [zoho_ids[record_id] for record_id in claimed.ids]
    with engine.begin() as conn:
        if table is not None:
            conn.execute(_write_back_sql(table), {"ids": claimed.ids, "zoho_ids": ids})
        conn.execute(_DONE, {"entity": entity, "keys": claimed.keys,
                             "versions": claimed.versions, "zoho_ids": ids})
        if claimed.log_ids:
            conn.execute(_LOG_DONE, {"log_ids": claimed.log_ids, "zoho_ids": ids})
        else:
            conn.execute(_LOG, {"entity": entity, "worker": "raw", "keys": claimed.keys,
                                "ids": claimed.ids, "attempts": claimed.attempts,
                                "zoho_ids": ids})


def crm_contacts(engine: sa.Engine, base_url: str, *, bookkeeping: bool,
                 log_first: bool = True) -> int:
    """Users -> Contacts upserts of 100; returns the records synced. ``log_first``: each
    attempt is logged before its call and completed after, as the real sync logs it."""
    zoho = Zoho(base_url)
    fields = CrmFieldConfig.from_env()
    zoho.crm("GET", "/settings/fields", params={"module": "Contacts"})  # the field check
    synced = 0
    for claimed, users in _batches(engine, "crm_contact", "users", bookkeeping, log_first):
        body = zoho.crm("POST", "/Contacts/upsert", json={
            "data": [contact_from_user(user, fields, []) for user in users],
            "duplicate_check_fields": [fields.contact_key_field, "Email"]})
        zoho_ids = {user["id"]: str(result["details"]["id"])
                    for user, result in zip(users, body["data"], strict=True)}
        if bookkeeping:
            _record(engine, "crm_contact", "users", claimed, zoho_ids)
        synced += len(zoho_ids)
    zoho.close()
    return synced


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
    for claimed, products in _batches(engine, "books_item", "products", bookkeeping):
        ids = {}
        for product in products:
            item = zoho.books("POST", "/items", body=item_from_product(product, taxes))["item"]
            ids[product["id"]] = item_ids[product["sku"]] = str(item["item_id"])
        if bookkeeping:
            _record(engine, "books_item", "products", claimed, ids)
        synced += len(ids)
    customers: dict[uuid.UUID, str] = {}
    linked_users: dict[uuid.UUID, dict[str, Any]] = {}
    names: set[str] = set()
    for claimed, orders in _batches(engine, "books_invoice", "orders", bookkeeping):
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
                        _START_ONE, {"entity": "books_invoice", "key": one.keys[0]})
            user = users[order["user_id"]]
            if user["id"] not in customers:
                customers[user["id"]] = new_customers[user["id"]] = _customer(zoho, user, names)
                linked_users[user["id"]] = user
            ids[order["id"]] = _invoice(
                zoho, order, lines.get(order["id"], []), user, customers[user["id"]], item_ids,
                taxes, seller_state, starts.sending if starts is not None else None)
            if one is not None:
                _link_customers(engine, new_customers, users)
                _record(engine, "books_invoice", "orders", one, ids)
                new_customers = {}
        if bookkeeping and not per_record:
            _link_customers(engine, new_customers, users)
            if starts is not None:
                starts.settle()
            _record(engine, "books_invoice", "orders", claimed, ids)
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
            _START_QUICK, {"entity": "books_invoice", "key": key}).scalar_one()

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
    for claimed, users in _batches(engine, "books_contact", "users", bookkeeping=True):
        by_id = {user["id"]: user for user in users}
        hashes = _queued_hashes(engine, claimed.keys)
        unchanged = [record_id for key, record_id in zip(claimed.keys, claimed.ids, strict=True)
                     if contact_update_from_user(by_id[record_id]).digest == hashes[key]]
        if len(unchanged) != len(claimed.ids):
            raise RuntimeError("a linked user's contact changed: the reference makes no PUT")
        _record(engine, "books_contact", None, claimed, {i: by_id[i]["zoho_books_id"]
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
