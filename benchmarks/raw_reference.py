"""The reference loops `sync_throughput.py` measures the real sync against: what they share,
and the CRM loop (the Books loop is `raw_books.py`).

Each makes the same Zoho calls as `kn-zoho sync crm` / `kn-zoho sync books` on a fresh
storefront (same mapping functions, so the sandbox does the same work), with bare
``requests`` and no runner: no token store, no rate limiter, no retries, no lookups before a
create but the one the real flow always makes (a new customer is searched by email, then
created). ``bookkeeping=True`` adds what any sync must do in the database, in a few statements
per batch of 100: claim the due queue rows, load their storefront rows, and after the calls
write back the Zoho ids, update the queue rows and insert the log rows. The CRM loop logs each
attempt before its call (``log_first``, the default), as the real sync does so that a killed
run leaves a trace: the claim also inserts the ``in_progress`` log rows, and the record
completes them instead of inserting them.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import requests
import sqlalchemy as sa

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


def claimed_batches(engine: sa.Engine, entity: str, table: str, bookkeeping: bool,
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


def record_batch(engine: sa.Engine, entity: str, table: str | None, claimed: Claimed,
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
    for claimed, users in claimed_batches(engine, "crm_contact", "users", bookkeeping, log_first):
        body = zoho.crm("POST", "/Contacts/upsert", json={
            "data": [contact_from_user(user, fields, []) for user in users],
            "duplicate_check_fields": [fields.contact_key_field, "Email"]})
        zoho_ids = {user["id"]: str(result["details"]["id"])
                    for user, result in zip(users, body["data"], strict=True)}
        if bookkeeping:
            record_batch(engine, "crm_contact", "users", claimed, zoho_ids)
        synced += len(zoho_ids)
    zoho.close()
    return synced
