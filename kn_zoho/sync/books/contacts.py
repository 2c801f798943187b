"""Storefront profile edits -> the user's Books contact (after the first invoice linked it).

The invoice and estimate flows find or create a user's Books contact once; a later edit of the
user's name, company, GSTIN, customer type, billing/shipping state, email or phone reaches Books
here (``PUT /contacts/{id}``, https://www.zoho.com/books/api/v3/contacts/ "Update a Contact").

GSTIN changes apply to documents made after them: Books keeps each invoice's own ``gst_no`` and
``place_of_supply``, and the invoice flow sends the user's current ones with every new invoice
anyway, so an order invoiced while its user's contact update still waits carries the new
details, and the invoices made before keep theirs.

Calls: none when the mapped contact did not change (hash of the last update, or of what the
contact was created from); one PUT when only the contact's own fields changed; a GET and a PUT
when the primary person's name, email or phone changed (a person is updated by its
``contact_person_id``, which only the contact's details give). A lost reply is harmless: the
PUT carries the whole state, so a retry sends the same again.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa

from kn_zoho.mapping.books_edits import ContactUpdate, contact_update_from_user, split_digest
from kn_zoho.storefront.claims import Claim
from kn_zoho.storefront.outcomes import Outcome
from kn_zoho.storefront.zoho_ids import store_ids
from kn_zoho.sync.books.common import (
    RECORD_WITHIN_SECONDS,
    BatchAttempts,
    Refused,
    Row,
    _missing,
    _Progress,
    _rows,
    _settle,
    batch_attempts,
    batch_serves,
    books_api_calls,
    reading,
    refused_for_good,
)
from kn_zoho.zoho.books import BooksClient
from kn_zoho.zoho.errors import ZohoError

_PERSON_KEEP = ("contact_person_id", "salutation", "first_name", "last_name", "email", "phone",
                "mobile", "is_primary_contact")


class ContactUpdatesFlow:
    """Users already linked to a Books contact -> that contact, when what maps to it changed."""

    entity = "books_contact"
    records_per_attempt = 1  # calls per record: each started alone, right before its calls
    record_within_seconds = RECORD_WITHIN_SECONDS

    def __init__(self, books: BooksClient) -> None:
        self.books = books
        self._batch: tuple[BatchAttempts, dict[Any, Row]] | None = None

    def api_calls(self) -> int:
        return books_api_calls(self.books)

    def prepare(self, engine: sa.Engine, claims: Sequence[Claim]) -> None:
        """Read the claimed batch's users at once (one query a batch, not one a record)."""
        self._batch = None
        self._batch = (batch_attempts(claims), _users(engine, claims))

    def callless(self, claims: Sequence[Claim], *, force: bool) -> set[str]:
        """The records that, as read, make no call: gone, not linked, or unchanged since the
        contact was last written (most of them: every link queues one). The runner records
        them together, two statements a batch instead of two a record."""
        if self._batch is None:  # not read (its read failed): each record goes alone
            return set()
        users = self._batch[1]
        return {claim.record_key for claim in claims
                if (user := users.get(claim.record_id)) is None or not user.get("zoho_books_id")
                or (not force and contact_update_from_user(user).digest == claim.payload_hash)}

    def attempt(self, engine: sa.Engine, claims: Sequence[Claim], *, force: bool
                ) -> dict[str, Outcome]:
        if self._batch is not None and batch_serves(self._batch[0], claims):
            users = self._batch[1]
        else:  # not prepared, or changed since: read now
            users = _users(engine, claims)
        outcomes: dict[str, Outcome] = {}
        for claim in claims:
            user = users.get(claim.record_id)
            if user is None:
                outcomes[claim.record_key] = _missing(claim, "user")
                continue
            outcomes[claim.record_key] = _settle(
                f"user {claim.record_key}",
                lambda progress, claim=claim, user=user: self._sync(claim, user, force,
                                                                    progress))
        return outcomes

    def _sync(self, claim: Claim, user: Row, force: bool, progress: _Progress) -> Outcome:
        contact_id = user.get("zoho_books_id")
        if not contact_id:
            # unlinked again (or never linked): the next document creates it from today's data
            progress.steps.append("not-linked")
            return progress.success()
        progress.zoho_id = str(contact_id)
        update = contact_update_from_user(user)
        digest = update.digest
        if not force and digest == claim.payload_hash:
            progress.steps.append("unchanged")
            return progress.success(digest)
        body: dict[str, Any] = dict(update.contact)
        if force or split_digest(claim.payload_hash)[1] != split_digest(digest)[1]:
            body["contact_persons"] = self._persons(str(contact_id), update)
            progress.steps.append("read")
        self._put(str(contact_id), body, user)
        progress.steps.append("update")
        progress.metadata.update({key: str(body.get(key) or "") for key in (
            "gst_treatment", "gst_no", "place_of_contact")})
        return progress.success(digest)

    def _persons(self, contact_id: str, update: ContactUpdate) -> list[dict[str, Any]]:
        """The contact's persons as Books has them, the primary one replaced by the user's:
        a PUT's list replaces the whole list, so persons someone added in Books stay."""
        contact = self.books.get_contact(contact_id)
        if contact is None:
            raise Refused("NOT_FOUND", (
                f"field 'zoho_books_id': Zoho Books has no contact {contact_id} (deleted "
                "there?). Clear users.zoho_books_id for this user; the next invoice links or "
                "creates the contact again"))
        persons = [{key: person[key] for key in _PERSON_KEEP if person.get(key) not in (None, "")}
                   for person in contact.get("contact_persons") or []]
        primary = next((p for p in persons if p.get("is_primary_contact")), None)
        mine = {**update.person, "is_primary_contact": True}
        if primary is None:
            return [mine, *persons]
        primary.update(mine)
        return persons

    def _put(self, contact_id: str, body: Mapping[str, Any], user: Row) -> None:
        """PUT the contact; Books keeps names unique, so a name another contact holds is sent
        again with the email added (as the contact was created, see ``BooksCatalog``)."""
        try:
            self.books.update_contact(contact_id, body)
        except ZohoError as error:
            if not refused_for_good(error):
                raise
            email = str(user.get("email") or "").strip()
            named = f"{body['contact_name']} ({email})"[:200]
            if body["contact_name"] == named:
                raise
            # Books' code for a taken name is undocumented: bad data is refused again, with
            # its own message
            self.books.update_contact(contact_id, {**body, "contact_name": named})

    def write_back(self, conn: sa.Connection, done: Sequence[tuple[Claim, Outcome]]) -> None:
        """Nothing to store on the user: the contact id is already there."""


def _users(engine: sa.Engine, claims: Sequence[Claim]) -> dict[Any, Row]:
    with reading(engine) as conn:
        return {row["id"]: row for row in _rows(
            conn, "SELECT * FROM public.users WHERE id = ANY(:ids)",
            [claim.record_id for claim in claims])}


class CustomerLinks:
    """New customers' Books contact ids, written with the outcomes of the attempts that found
    or made them (one statement per storefront table per group, not two per customer).

    The user row in memory is linked at once, so the run's next document of the same user
    needs no lookup. Should the run die before its record, the next attempt finds the contact
    by email (one search) and links it then: a crash costs a call, never a duplicate. When the
    contact was just created from this very row, the hash of what it holds goes on the contact
    update the link enqueues, so that update costs no call unless the user changed since. A
    contact found in Books (``link``, ``adopt``) holds whatever it holds, so its first update
    brings it in line.
    """

    def __init__(self) -> None:
        self._ids: dict[Any, str] = {}
        self._digests: dict[str, str] = {}

    def committed(self) -> None:
        """The recording that wrote them committed: the links are stored. Until then they
        stay, so a recording rolled back and tried again writes them again (no attempt, so
        no new link, comes between a recording and its commit)."""
        self._ids, self._digests = {}, {}

    def add(self, user: Row, customer_id: str, how: str) -> None:
        user["zoho_books_id"] = customer_id
        self._ids[user["id"]] = customer_id
        if how == "create":
            self._digests[str(user["id"])] = contact_update_from_user(user).digest

    def write(self, conn: sa.Connection) -> None:
        """Inside the record's transaction (``store_ids`` locks the users' rows in id order,
        so two runs linking some of the same users never wait on each other in a cycle)."""
        ids, digests = self._ids, self._digests
        if not ids:
            return
        # the trigger enqueues each linked user's contact update (``books_contact``)
        store_ids(conn, "users", "zoho_books_id", ids)
        if digests:
            conn.execute(sa.text(
                "UPDATE integration.zoho_sync_queue AS q SET payload_hash = v.digest "
                "FROM unnest(CAST(:keys AS text[]), CAST(:digests AS text[])) AS v(key, digest) "
                "WHERE q.entity = 'books_contact' AND q.record_key = v.key"),
                {"keys": list(digests), "digests": list(digests.values())})
