"""What the Books flows share: settings, create-or-adopt without duplicates, one record's
progress and outcome, and the small database helpers."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from kn_zoho.mapping.books import DEFAULT_PAYMENT_MODE, PAYMENT_MODES, TaxTable
from kn_zoho.mapping.errors import MappingError
from kn_zoho.storefront.claims import Claim
from kn_zoho.storefront.outcomes import Outcome
from kn_zoho.zoho.books import BooksClient
from kn_zoho.zoho.errors import (
    ZohoAuthError,
    ZohoError,
    ZohoPermanentError,
)

if TYPE_CHECKING:
    from kn_zoho.sync.books.catalog import BooksCatalog

# The state the Books organization is registered in decides intra- (CGST+SGST) versus
# inter-state (IGST) supply, and Books refuses a tax of the wrong kind, so it must be the
# organization's state as Books knows it. The bundled sandbox's organization is in Telangana.
ORGANIZATION_STATE_ENV = "KN_ZOHO_BOOKS_ORGANIZATION_STATE"
DEFAULT_ORGANIZATION_STATE = "KA"  # KN Biosciences, Bengaluru; the sandbox org too
PREFETCH_PAGES = 10
# A refund after payment keeps the sale's invoice (the refund is a credit note in Books).
INVOICED_STATUSES = frozenset({"paid", "refunded"})
# Every Books flow attempts its records one at a time, each started before its calls;
# outcomes of fast attempts are recorded together, none waiting longer than this (see
# ``runner._Pass.attempt``): with Zoho's real reply times each is recorded at once. A quarter
# second bounds what a killed run leaves unrecorded (its retry adopts it by lookups) and how
# long the stock pull waits for an invoice group's lock; 0.1 s made twice the groups.
RECORD_WITHIN_SECONDS = 0.25
# How storefront payments are recorded in Books: one of its documented payment modes.
PAYMENT_MODE_ENV = "KN_ZOHO_BOOKS_PAYMENT_MODE"
# Whether Books emails a paid order's invoice to the customer (created with send=true).
EMAIL_INVOICES_ENV = "KN_ZOHO_BOOKS_EMAIL_INVOICES"
_BOOLEANS = {"true": True, "1": True, "false": False, "0": False}
_PAISA = Decimal("0.01")

Row = dict[str, Any]


def organization_state() -> str:
    """The Books organization's state code (``KN_ZOHO_BOOKS_ORGANIZATION_STATE``)."""
    return os.environ.get(ORGANIZATION_STATE_ENV, "").strip().upper() or DEFAULT_ORGANIZATION_STATE


def payment_mode() -> str:
    """``KN_ZOHO_BOOKS_PAYMENT_MODE`` (default banktransfer), checked against the values Books
    documents; a ValueError naming the variable otherwise, raised when a flow is built."""
    value = os.environ.get(PAYMENT_MODE_ENV, "").strip().lower() or DEFAULT_PAYMENT_MODE
    if value not in PAYMENT_MODES:
        raise ValueError(f"{PAYMENT_MODE_ENV}={value!r}: Zoho Books accepts only "
                         f"{', '.join(PAYMENT_MODES)}")
    return value


def email_invoices() -> bool:
    """``KN_ZOHO_BOOKS_EMAIL_INVOICES`` (default off): true/false/1/0, anything else a
    ValueError naming the variable, raised when the invoice flow is built."""
    value = os.environ.get(EMAIL_INVOICES_ENV, "").strip().lower() or "false"
    if value not in _BOOLEANS:
        raise ValueError(f"{EMAIL_INVOICES_ENV}={value!r}: use true or false (or 1 or 0)")
    return _BOOLEANS[value]


def books_api_calls(books: BooksClient) -> int:
    """Books calls made through the client's HTTP layer (which CRM shares, so filter)."""
    return sum(n for endpoint, n in books.http.api_calls.items()
               if " /books/" in endpoint or " /inventory/" in endpoint)


# --- create without duplicates -----------------------------------------------------------


class Refused(Exception):
    """A permanent failure found by the sync itself (not by mapping or Zoho)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def refused_for_good(error: ZohoError) -> bool:
    """Zoho refused a create permanently (bad data, or a record with the same unique key:
    the code Books gives for "already exists" is not documented, so no code is trusted)."""
    return isinstance(error, ZohoPermanentError) and not isinstance(error, ZohoAuthError)


def create_or_adopt(create: Callable[[], Row], find: Callable[[], Row | None]
                    ) -> tuple[Row, str]:
    """Create a record Zoho keeps unique on a key, or adopt the one already stored.

    After any permanent refusal (whatever its code), or when the create's outcome is unknown
    (timeout, lost reply, 5xx after the write), the record is looked up by its key and adopted
    if found; a refusal for bad data costs that one lookup. A lost create that never got
    stored is sent once more (safe: the key is unique). Returns the record and ``"create"``
    or ``"adopt"``.
    """
    for last in (False, True):
        try:
            return create(), "create"
        except ZohoError as error:
            if not (refused_for_good(error) or error.outcome_unknown):
                raise
            found = find()
            if found is not None:
                return found, "adopt"
            if not error.outcome_unknown or last:
                raise
    raise AssertionError("unreachable")


# --- shared by the flows ---------------------------------------------------------------------


def document_metadata(document: Row) -> dict[str, str | int | float]:
    """What the admin wants to see on an invoice/estimate/credit note's materialization: the
    totals Books computed and the GST split (numbers, so the UI can plot them)."""
    metadata: dict[str, str | int | float] = {
        # a credit note also names the invoice it credits: its own number comes first
        "number": str(document.get("creditnote_number") or document.get("invoice_number")
                      or document.get("estimate_number") or ""),
        "place_of_supply": str(document.get("place_of_supply") or ""),
        "sub_total": float(_amount(document.get("sub_total", 0))),
        "tax_total": float(_amount(document.get("tax_total", 0))),
        "total": float(_amount(document.get("total", 0))),
    }
    for tax in document.get("taxes") or []:
        metadata[f"tax {tax.get('tax_name')}"] = float(_amount(tax.get("tax_amount", 0)))
    return metadata


@dataclass
class _Progress:
    """What one record's attempt has done so far: its outcome, whether it succeeds or not."""

    steps: list[str] = field(default_factory=list)
    zoho_id: str | None = None
    metadata: dict[str, str | int | float] = field(default_factory=dict)

    @property
    def operation(self) -> str:
        return "+".join(self.steps) or "attempt"

    def success(self, payload_digest: str | None = None) -> Outcome:
        return Outcome.success(self.operation, self.zoho_id, payload_digest,
                               self.metadata or None)

    def failure(self, code: str, message: str, *, transient: bool) -> Outcome:
        # zoho_id survives a failure in the queue row, so the next attempt starts from it
        return Outcome(False, self.operation, zoho_id=self.zoho_id, error_code=code,
                       error_message=message, transient=transient)


def _settle(label: str, work: Callable[[_Progress], Outcome]) -> Outcome:
    """Run one record's work; any failure becomes that record's outcome, never the batch's."""
    progress = _Progress()
    try:
        return work(progress)
    except MappingError as error:
        return progress.failure("INVALID_DATA", str(error), transient=False)
    except Refused as error:
        return progress.failure(error.code, f"{label}: {error}", transient=False)
    except ZohoError as error:
        return progress.failure(str(error.code or type(error).__name__), f"{label}: {error}",
                                transient=error.transient)


def _for_all(claims: Sequence[Claim], outcome: Outcome) -> dict[str, Outcome]:
    return {claim.record_key: outcome for claim in claims}


def _setup_failure(catalog: BooksCatalog, claims: Sequence[Claim]
                   ) -> tuple[TaxTable | None, dict[str, Outcome]]:
    """The tax table, or the same failure for every claim (Books down or taxes missing)."""
    try:
        return catalog.taxes(), {}
    except ZohoError as error:
        return None, _for_all(claims, Outcome.failure(
            "taxes", str(error.code or type(error).__name__),
            f"reading Zoho Books taxes: {error}", transient=error.transient))
    except ValueError as error:
        return None, _for_all(claims, Outcome.failure(
            "taxes", "TAX_SETUP", f"Zoho Books tax setup: {error}", transient=False))


@contextmanager
def reading(engine: sa.Engine) -> Iterator[sa.Connection]:
    """A connection for reads only, in autocommit: under READ COMMITTED each statement reads
    its own snapshot anyway, so a transaction would only add a BEGIN and a ROLLBACK round
    trip to every read."""
    with engine.connect() as conn:
        yield conn.execution_options(isolation_level="AUTOCOMMIT")


def _rows(conn: sa.Connection, sql: str, ids: Sequence[Any]) -> list[Row]:
    return [dict(row) for row in conn.execute(sa.text(sql), {"ids": list(ids)}).mappings()]


def _amount(value: Any) -> Decimal:
    return Decimal(str(value)).quantize(_PAISA)


def _link(engine: sa.Engine, table: str, row: Row, zoho_id: str) -> None:
    """Store a Books id on a storefront row at once, in its own small transaction, so a
    later failure of the document does not lose the customer or item it created."""
    if row.get("zoho_books_id") == zoho_id:
        return
    with engine.begin() as conn:
        conn.execute(sa.text(f"UPDATE public.{table} SET zoho_books_id = :zid "  # noqa: S608
                             "WHERE id = :id AND zoho_books_id IS DISTINCT FROM :zid"),
                     {"zid": zoho_id, "id": row["id"]})
    row["zoho_books_id"] = zoho_id


def _attempt_of(claim: Claim) -> tuple[str, int, int]:
    """One attempt of one version of a record: a batch read serves only the attempts it was
    read for, never a later claim of the same record."""
    return claim.record_key, claim.version, claim.attempt


BatchAttempts = frozenset[tuple[str, int, int]]  # the attempts a batch read is for


def batch_attempts(claims: Sequence[Claim]) -> BatchAttempts:
    """The attempts a batch read (a flow's ``prepare``) is for."""
    return frozenset(_attempt_of(claim) for claim in claims)


def batch_serves(attempts: BatchAttempts, claims: Sequence[Claim]) -> bool:
    """Whether the batch read for ``attempts`` serves ``claims``: each is one of those
    attempts, its record unchanged since (``Claim.changed`` comes from starting it)."""
    return all(not claim.changed and _attempt_of(claim) in attempts for claim in claims)


def _missing(claim: Claim, label: str) -> Outcome:
    return Outcome.failure("load", "NOT_FOUND", f"{label} {claim.record_key} no longer exists in "
                           "the storefront", transient=False)
