"""Storefront users -> CRM Contacts; contact-form submissions and B2B quote requests -> Leads.

Exactly once without idempotency keys: a Contact carries the storefront user id in a unique
custom field (``KN_ZOHO_CRM_CONTACT_KEY_FIELD``) and, until we know its Zoho id, is upserted
with ``duplicate_check_fields`` [key, Email]: Zoho checks them in that order (Kaizen #56,
https://help.zoho.com/portal/en/community/topic/kaizen-56-upsert-records-api), so a retry after
a lost reply or a killed run finds the Contact by the key even if the email changed meanwhile,
and a Contact made before the key existed is adopted by its Email. Once the id is known the
Contact is updated by id. A Lead carries our record key in a unique custom field
(``KN_ZOHO_CRM_LEAD_REFERENCE_FIELD``) and is upserted on it, so a retried inquiry never
makes a second Lead while two inquiries from one person stay two Leads.

Before a run sends anything, the module's field layout is checked (:mod:`.crm_fields`): a
missing or non-unique key field stops the whole flow with one error, records untouched.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Sequence
from typing import Any

import sqlalchemy as sa

from kn_zoho.mapping.crm import (
    CrmFieldConfig,
    contact_from_user,
    lead_from_inquiry,
    lead_from_quote,
    payload_hash,
)
from kn_zoho.mapping.errors import MappingError
from kn_zoho.storefront import db
from kn_zoho.storefront.claims import Claim
from kn_zoho.storefront.outcomes import Outcome
from kn_zoho.storefront.zoho_ids import store_zoho_ids
from kn_zoho.sync.crm_fields import FieldCheck
from kn_zoho.sync.twins import check_quote_number, key_owners
from kn_zoho.zoho.crm import CrmClient
from kn_zoho.zoho.errors import ZohoError

log = logging.getLogger(__name__)

Payload = dict[str, Any]
Pending = tuple[Claim, Payload, str]  # claim, payload to send, hash of the mapped payload
Warnings = dict[str, list[str]]  # record key -> what was sent without (e.g. a bad phone)


def _prepare(claims: Sequence[Claim], rows: dict[str, Any],
             build: Callable[[Any, list[str]], Payload], *, force: bool, label: str,
             warnings: Warnings) -> tuple[dict[str, Outcome], list[Pending]]:
    """Map each claimed record; bad data and unchanged payloads are settled here.

    What the mapping left out and said so (``warnings``) is logged here and goes into the
    record's materialization metadata (see ``_with_warnings``).
    """
    outcomes: dict[str, Outcome] = {}
    to_send: list[Pending] = []
    for claim in claims:
        row = rows.get(claim.record_key)
        if row is None:
            outcomes[claim.record_key] = Outcome.failure(
                "load", "NOT_FOUND", f"{label} {claim.record_key} no longer exists in the "
                "storefront", transient=False)
            continue
        notes = warnings.setdefault(claim.record_key, [])
        try:
            payload = build(row, notes)
        except MappingError as exc:
            outcomes[claim.record_key] = Outcome.failure("map", "INVALID_DATA", str(exc),
                                                         transient=False)
            continue
        for note in notes:
            log.warning("%s %s: %s", claim.entity, claim.record_key, note)
        digest = payload_hash(payload)
        if not force and claim.zoho_id and digest == claim.payload_hash:
            outcomes[claim.record_key] = Outcome.success("unchanged", claim.zoho_id, digest)
            continue
        to_send.append((claim, payload, digest))
    return outcomes, to_send


def _with_warnings(outcomes: dict[str, Outcome], warnings: Warnings) -> dict[str, Outcome]:
    """Successful outcomes carry their record's warnings as metadata for the Dagster UI."""
    for key, notes in warnings.items():
        outcome = outcomes.get(key)
        if outcome is not None and outcome.ok and notes:
            metadata = {**(outcome.metadata or {}), "warnings": "\n".join(notes)}
            outcomes[key] = dataclasses.replace(outcome, metadata=metadata)
    return outcomes


def _send(batch: list[Pending], call: Callable[[list[Payload]], list[Any]],
          operation: str) -> dict[str, Outcome]:
    """One Zoho write for the batch; each record gets its own outcome."""
    if not batch:
        return {}
    payloads = [payload for _, payload, _ in batch]
    try:
        results = call(payloads)
    except ZohoError as exc:
        return {claim.record_key: Outcome.failure(operation, str(exc.code), str(exc),
                                                  transient=exc.transient)
                for claim, _, _ in batch}
    outcomes = {}
    for (claim, _, digest), result in zip(batch, results, strict=True):
        if result.ok:
            outcomes[claim.record_key] = Outcome.success(
                f"{operation}:{result.action}" if result.action else operation,
                result.zoho_id, digest)
        else:
            field = f" (field {result.field})" if result.field else ""
            outcomes[claim.record_key] = Outcome.failure(
                operation, result.code or "ERROR",
                f"Zoho rejected {claim.entity} {claim.record_key}{field}: {result.message}",
                transient=False)
    return outcomes


# The batch's users and, per user, whether another user's email equals theirs ignoring case
# and surrounding spaces: one statement, one lookup per user in the expression's index
# (migration 20261121002000).
_USERS_SQL = sa.text("""
SELECT u.*, EXISTS (SELECT 1 FROM public.users AS other
                     WHERE lower(btrim(other.email)) = lower(btrim(u.email))
                       AND other.id <> u.id) AS email_shared_ignoring_case
  FROM public.users AS u WHERE u.id = ANY(:ids)
""")


class ContactsFlow:
    """Storefront users -> Zoho CRM Contacts."""

    entity = "crm_contact"

    def __init__(self, crm: CrmClient, fields: CrmFieldConfig) -> None:
        self.crm = crm
        self.fields = fields
        self.field_check = FieldCheck(crm, fields)

    def api_calls(self) -> int:
        return sum(self.crm.http.api_calls.values())

    def preflight(self) -> None:
        """Before claiming: the Contacts layout must take every field we send (once a run)."""
        self.field_check.ensure("Contacts")

    def attempt(self, engine: sa.Engine, claims: Sequence[Claim], *, force: bool
                ) -> dict[str, Outcome]:
        with db.autocommit(engine) as conn:  # one statement: no transaction needed
            rows = {str(row["id"]): row for row in conn.execute(
                _USERS_SQL, {"ids": [c.record_id for c in claims]}).mappings()}
        warnings: Warnings = {}
        outcomes, to_send = _prepare(claims, rows,
                                     lambda row, notes: contact_from_user(row, self.fields, notes),
                                     force=force, label="user", warnings=warnings)
        known, new, key_only = [], [], []
        for claim, payload, digest in to_send:
            zoho_id = claim.zoho_id or rows[claim.record_key]["zoho_crm_id"]
            if zoho_id:
                known.append((claim, {**payload, "id": zoho_id}, digest))
            elif rows[claim.record_key]["email_shared_ignoring_case"]:
                key_only.append((claim, payload, digest))
            else:
                new.append((claim, payload, digest))
        key = self.fields.contact_key_field
        outcomes |= _send(new, lambda ps: self.crm.upsert("Contacts", ps, (key, "Email")),
                          "upsert")
        # Zoho matches Email ignoring case: where two users' emails differ only in case, an
        # Email match could be the other user's Contact, so those are matched on the key only.
        outcomes |= _send(key_only, lambda ps: self.crm.upsert("Contacts", ps, (key,)),
                          "upsert")
        outcomes |= _send(known, lambda ps: self.crm.update("Contacts", ps), "update")
        return _with_warnings(outcomes, warnings)

    def write_back(self, conn: sa.Connection, done: Sequence[tuple[Claim, Outcome]]) -> None:
        store_zoho_ids(conn, "users", "zoho_crm_id", done)


def _renamed_quotes(conn: sa.Connection, claims: Sequence[Claim], sources: dict[str, Payload]
                   ) -> dict[str, Outcome]:
    """Quote-request claims whose quote got another number since: the row of the new number
    (enqueued by migration 20261121000400) makes its Lead, this one settles as superseded."""
    missing = [c for c in claims
               if c.source_table == "b2b_quotes" and c.record_key not in sources]
    if not missing:
        return {}
    existing = set(conn.execute(sa.text("SELECT id FROM public.b2b_quotes WHERE id = ANY(:ids)"),
                                {"ids": [c.record_id for c in missing]}).scalars())
    return {c.record_key: Outcome.success("superseded", None)
            for c in missing if c.record_id in existing}


class LeadsFlow:
    """Contact-us submissions and B2B quote requests -> Zoho CRM Leads.

    ``reference_field`` is a custom Leads field marked "Do not allow duplicate values" in
    Zoho CRM; it holds our record key (``inquiry-<id>`` / ``quote-<number>``).
    """

    entity = "crm_lead"

    def __init__(self, crm: CrmClient, reference_field: str | None = None,
                 fields: CrmFieldConfig | None = None) -> None:
        self.crm = crm
        fields = fields or CrmFieldConfig.from_env()
        if reference_field:
            fields = dataclasses.replace(fields, lead_reference_field=reference_field)
        self.reference_field = fields.lead_reference_field
        self.field_check = FieldCheck(crm, fields)

    def api_calls(self) -> int:
        return sum(self.crm.http.api_calls.values())

    def preflight(self) -> None:
        """Before claiming: the Leads layout must take every field we send (once a run)."""
        self.field_check.ensure("Leads")

    def _load(self, conn: sa.Connection, claims: Sequence[Claim]) -> dict[str, Payload]:
        inquiries = [c.record_id for c in claims if c.source_table == "contact_submissions"]
        quotes = [c.record_id for c in claims if c.source_table == "b2b_quotes"]
        builders: dict[str, Payload] = {}
        for row in conn.execute(sa.text(
                "SELECT * FROM public.contact_submissions WHERE id = ANY(:ids)"),
                {"ids": inquiries}).mappings():
            builders[f"inquiry-{row['id']}"] = {"kind": "inquiry", "row": row}
        quote_rows = conn.execute(sa.text(
            "SELECT q.*, to_jsonb(u) AS customer FROM public.b2b_quotes q "
            "JOIN public.users u ON u.id = q.user_id WHERE q.id = ANY(:ids)"),
            {"ids": quotes}).mappings().all()
        lines: dict[Any, list[Any]] = {}
        for line in conn.execute(sa.text(
                "SELECT i.*, p.sku, p.name AS product_name, p.hsn_code "
                "FROM public.b2b_quote_items i JOIN public.products p ON p.id = i.product_id "
                "WHERE i.quote_id = ANY(:ids) ORDER BY p.sku"), {"ids": quotes}).mappings():
            lines.setdefault(line["quote_id"], []).append(line)
        owners = key_owners(conn, "b2b_quotes", "quote_number", "zoho_crm_id",
                            (row["quote_number"] for row in quote_rows))
        for row in quote_rows:
            builders[f"quote-{row['quote_number']}"] = {
                "kind": "quote", "row": row, "customer": row["customer"],
                "lines": lines.get(row["id"], []), "owners": owners}
        return builders

    def _build(self, source: Payload, warnings: list[str]) -> Payload:
        if source["kind"] == "inquiry":
            return lead_from_inquiry(source["row"], warnings)
        check_quote_number(source["row"], source["owners"])
        return lead_from_quote(source["row"], source["customer"], source["lines"], warnings)

    def attempt(self, engine: sa.Engine, claims: Sequence[Claim], *, force: bool
                ) -> dict[str, Outcome]:
        with engine.connect() as conn:
            sources = self._load(conn, claims)
            superseded = _renamed_quotes(conn, claims, sources)
        reference = self.reference_field
        warnings: Warnings = {}
        outcomes, to_send = _prepare([c for c in claims if c.record_key not in superseded],
                                     sources, self._build, force=force, label="lead",
                                     warnings=warnings)
        outcomes |= superseded
        to_send = [(c, {**p, reference: c.record_key}, d) for c, p, d in to_send]
        outcomes |= _send(to_send, lambda ps: self.crm.upsert("Leads", ps, (reference,)),
                          "upsert")
        return _with_warnings(outcomes, warnings)

    def write_back(self, conn: sa.Connection, done: Sequence[tuple[Claim, Outcome]]) -> None:
        store_zoho_ids(conn, "contact_submissions", "zoho_crm_lead_id",
                       [(c, o) for c, o in done if c.source_table == "contact_submissions"])
        store_zoho_ids(conn, "b2b_quotes", "zoho_crm_id",
                       [(c, o) for c, o in done if c.source_table == "b2b_quotes"])
