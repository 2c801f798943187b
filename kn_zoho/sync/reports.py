"""What a sync pass works with and reports: the contract a flow meets, each record's result, the
pass's report, and how a lost database connection is told from a flow's own failure."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import psycopg
import sqlalchemy as sa

from kn_zoho.storefront.claims import Claim
from kn_zoho.storefront.outcomes import Outcome
from kn_zoho.zoho.redaction import redact


class Flow(Protocol):
    """One kind of storefront record going to Zoho."""

    entity: str

    def attempt(self, engine: sa.Engine, claims: Sequence[Claim], *, force: bool
                ) -> dict[str, Outcome]:
        """Try to sync the claimed records; one outcome per record key."""
        ...

    def write_back(self, conn: sa.Connection, done: Sequence[tuple[Claim, Outcome]]) -> None:
        """Store Zoho's ids of the successful records ``done`` on their storefront rows, in a
        constant number of statements (same transaction as the queue update)."""
        ...

    def api_calls(self) -> int:
        """Zoho API calls made so far by this flow's clients."""
        ...

    # Optional: ``records_per_attempt: int``, how many records one ``attempt`` call gets
    # (default: the whole claimed batch). Flows that make calls per record set 1, so each
    # record's outcome is recorded as soon as Zoho confirmed it and a record whose lease
    # broke is skipped, not synced twice. Such a flow may define ``prepare(engine, claims)``
    # to read the whole batch once before its records are attempted; it must read a record
    # again where its started claim says ``changed``. It may also define
    # ``callless(claims, *, force) -> set[str]``: the record keys that, as prepared, need no
    # Zoho call (e.g. nothing changed); those are started, attempted and recorded together,
    # as nothing is lost or sent twice when they are.
    # ``record_within_seconds: float`` (default 0): outcomes of fast attempts may wait that
    # long to be recorded together (each record is still started alone, right before its
    # calls; see ``runner._Pass.attempt``). A flow that keeps writes across attempts until
    # they are recorded defines ``settle()`` (called before each record) and ``grouped()``,
    # a context manager around the pass that lets them go when it ends, however it ends.
    # ``write_back`` may run more than once for the same outcomes (a recording Postgres rolled
    # back for a conflict runs again); a flow whose write-back forgets what it wrote defines
    # ``recorded()``, called once the recording committed.


@dataclass(frozen=True)
class RecordResult:
    """What happened to one record in this run, for logs, CLI output and Dagster metadata."""

    entity: str
    record_key: str
    status: str            # queue status after the attempt: synced/pending/failed/dead,
                           # or leased (a manual retry found a live run holding it)
    operation: str
    attempt: int
    zoho_id: str | None
    error_code: str | None
    error_message: str | None
    metadata: Mapping[str, str | int | float] | None = None


@dataclass
class SyncReport:
    entity: str
    results: list[RecordResult] = field(default_factory=list)
    api_calls: int = 0
    paused: str | None = None  # the pass stopped early: the daily Zoho budget is spent

    def count(self, status: str) -> int:
        return sum(1 for r in self.results if r.status == status)

    @property
    def failures(self) -> list[RecordResult]:
        return [r for r in self.results if r.status != "synced"]


class InfrastructureError(RuntimeError):
    """Our own infrastructure (the database connection) failed during a run.

    Not the records' fault: their attempts were given back and they are due again. The run
    must fail loudly (non-zero exit, a failed Dagster step) so the next run takes the work
    up. ``reports`` holds what was done before it stopped.
    """

    def __init__(self, message: str, reports: list[SyncReport]) -> None:
        super().__init__(message)
        self.reports = reports


def is_infrastructure_error(exc: BaseException) -> bool:
    """A lost or unusable database connection (psycopg OperationalError/InterfaceError,
    SQLAlchemy's wrappers of them, a connection invalidated, a pool timeout)."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, sa.exc.DBAPIError) and (
                seen.connection_invalidated
                or isinstance(seen, sa.exc.OperationalError | sa.exc.InterfaceError)):
            return True
        if isinstance(seen, sa.exc.TimeoutError | psycopg.OperationalError
                      | psycopg.InterfaceError):
            return True
        seen = seen.__cause__
    return False


def is_transaction_conflict(exc: BaseException) -> bool:
    """Postgres rolled the transaction back for a conflict with another (deadlock,
    serialization failure: SQLSTATE class 40): nothing of it stands, so it may run again."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, psycopg.Error) and str(seen.sqlstate or "").startswith("40"):
            return True
        seen = getattr(seen, "orig", None) or seen.__cause__
    return False


def describe_infrastructure_error(exc: BaseException) -> str:
    """One line naming the failure, without the SQL or connection details."""
    orig = getattr(exc, "orig", None) or exc
    first = str(orig).strip().splitlines()[0] if str(orig).strip() else ""
    return redact(f"{type(orig).__name__}: {first}" if first else type(orig).__name__)
