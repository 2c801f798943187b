"""A batch's bookkeeping costs the same number of SQL statements at 10 records as at 100, and
few: the budget check and the claim (which starts the attempts) commit on their own, the
write-back and the outcomes (queue + log) go in one transaction, one statement each (issue 12:
`sync crm` within 1.5x of a raw loop doing the same calls and bookkeeping,
benchmarks/sync_throughput.py)."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence

import pytest
import sqlalchemy as sa

from kn_zoho.mapping.crm import CrmFieldConfig
from kn_zoho.storefront.claims import Claim
from kn_zoho.storefront.outcomes import Outcome
from kn_zoho.storefront.seed import seed
from kn_zoho.storefront.zoho_ids import store_zoho_ids
from kn_zoho.sync.crm import ContactsFlow
from kn_zoho.sync.runner import run_flow


class _Answered(ContactsFlow):
    """The real Contacts write-back, with outcomes decided here instead of by Zoho: every
    tenth record fails transiently, every tenth-but-three permanently, the rest succeed."""

    def __init__(self) -> None:
        self.fields = CrmFieldConfig.from_env()

    def preflight(self) -> None:
        """No Zoho here, so no field layout to check."""

    def api_calls(self) -> int:
        return 0

    def attempt(self, engine: sa.Engine, claims: Sequence[Claim], *, force: bool
                ) -> dict[str, Outcome]:
        outcomes = {}
        for number, claim in enumerate(claims):
            if number % 10 == 3:
                outcomes[claim.record_key] = Outcome.failure("upsert", "500", "down",
                                                             transient=True)
            elif number % 10 == 7:
                outcomes[claim.record_key] = Outcome.failure("map", "INVALID_DATA", "bad",
                                                             transient=False)
            else:
                outcomes[claim.record_key] = Outcome.success("upsert", f"z-{claim.record_key}",
                                                             "h")
        return outcomes


@pytest.fixture
def statements(engine: sa.Engine) -> Iterator[list[str]]:
    """SQL sent by this thread (the heartbeat's lease renewals run on their own), and
    "checkout" for each connection taken from the pool."""
    sent: list[str] = []
    me = threading.get_ident()

    def count(conn, cursor, statement, parameters, context, executemany) -> None:
        if threading.get_ident() == me:
            sent.append(statement)

    def checkout(dbapi_connection, record, proxy) -> None:
        if threading.get_ident() == me:
            sent.append("checkout")

    sa.event.listen(engine, "before_cursor_execute", count)
    sa.event.listen(engine, "checkout", checkout)
    yield sent
    sa.event.remove(engine, "before_cursor_execute", count)
    sa.event.remove(engine, "checkout", checkout)


def _run(engine: sa.Engine, statements: list[str], users: int) -> tuple[int, dict]:
    """SQL statements of one pass (pool check-outs left out) and its outcome counts."""
    seed(engine, users=users, products=0, orders=0, inquiries=0, quote_requests=0)
    statements.clear()
    report = run_flow(engine, _Answered(), retry_base=7200, batch_size=100)
    return (sum(1 for s in statements if s != "checkout"),
            {s: report.count(s) for s in ("synced", "pending", "failed")})


def _kinds(statements: list[str]) -> list[str]:
    return [" ".join(s.split()[:2]) for s in statements]


def test_recording_a_batch_costs_the_same_statements_at_10_and_100_records(
        engine: sa.Engine, statements: list[str]) -> None:
    small, small_counts = _run(engine, statements, 10)
    assert small_counts == {"synced": 8, "pending": 1, "failed": 1}
    large, large_counts = _run(engine, statements, 110)  # the first 10 exist: 100 new
    assert large_counts == {"synced": 80, "pending": 10, "failed": 10}
    assert large == small, statements
    # before the pass: the budget, whether anything is due (for the preflight), the clock;
    # the batch: the budget and the claim that starts it (each committing on its own), the
    # write-back and the outcomes (one transaction); the claim that finds nothing left
    assert _kinds(statements) == [
        "checkout", "SELECT product,", "checkout", "SELECT record_key,", "checkout",
        "SELECT now()",
        "checkout", "SELECT product,", "WITH gone", "checkout", "WITH locked",
        "WITH outcome",
        "checkout", "SELECT product,", "WITH gone"], statements
    with engine.connect() as conn:
        queue_rows = conn.execute(sa.text(
            "SELECT q.status, q.attempts, q.zoho_id, q.last_error_code, u.zoho_crm_id, "
            "q.next_attempt_at > now() + interval '1 hour' AS later "
            "FROM integration.zoho_sync_queue q JOIN users u ON u.id = q.record_id "
            "WHERE q.entity = 'crm_contact'")).all()
        logs = conn.execute(sa.text(
            "SELECT status, count(*) FROM integration.zoho_sync_logs WHERE entity = "
            "'crm_contact' AND finished_at IS NOT NULL GROUP BY status")).all()
    synced = [row for row in queue_rows if row.status == "synced"]
    assert len(synced) == 88
    assert all(row.zoho_id == row.zoho_crm_id and row.zoho_id.startswith("z-") for row in synced)
    assert sorted((row.status, row.attempts, row.last_error_code, row.later) for row in queue_rows
                  if row.status != "synced") == [("failed", 1, "INVALID_DATA", False)] * 11 + [
        ("pending", 1, "500", True)] * 11  # backoff: 7200 s after the first attempt
    assert all(row.zoho_crm_id is None for row in queue_rows if row.status != "synced")
    assert dict(logs) == {"success": 88, "pending": 11, "failed": 11}
    two_batches, _ = _run(engine, statements, 310)  # 200 new: two batches of 100
    assert two_batches - large == 4, statements  # each further batch: four statements


def test_a_row_twice_in_a_batch_gets_the_later_id_and_no_id_changes_nothing(
        engine: sa.Engine) -> None:
    """A renamed document's old and new keys point at one row: the old key settles without
    an id (superseded) and must neither clear the row's id nor race the new key's."""
    seed(engine, users=2, products=0, orders=0, inquiries=0, quote_requests=0)
    with engine.begin() as conn:
        first, second = conn.execute(sa.text("SELECT id FROM users ORDER BY id")).scalars()
        conn.execute(sa.text("UPDATE users SET zoho_crm_id = 'kept' WHERE id = :id"),
                     {"id": second})

    def claim(key: str, record_id: object) -> Claim:
        return Claim("crm_contact", key, "users", record_id, 1, 1, None, None)

    with engine.begin() as conn:
        store_zoho_ids(conn, "users", "zoho_crm_id", [
            (claim("old", first), Outcome.success("upsert", "z-old")),
            (claim("new", first), Outcome.success("upsert", "z-new")),
            (claim("renamed", second), Outcome.success("superseded", None))])
        ids = dict(conn.execute(sa.text("SELECT id, zoho_crm_id FROM users")).all())
    assert ids == {first: "z-new", second: "kept"}
    with engine.begin() as conn, pytest.raises(ValueError, match="not a Zoho id column"):
        store_zoho_ids(conn, "users", "email", [(claim("x", first), Outcome.success("u", "z"))])
