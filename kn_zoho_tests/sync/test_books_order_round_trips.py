"""What one more paid order costs the database when `sync books` invoices it (issue 12).

Each order's attempt is started alone before its calls (recorded with others, one order ahead,
on a helper thread), and marked sent under the stock lock with 'sending' written before the
call (a killed run must never invoice or pay it twice,
nor count its stock twice). Recorded alone (Zoho's replies slow), that is 7 statements an
order (start its attempt; lock, 'sending', 'sent', unlock; write back the invoice id, record
the outcome) on 2 connection check-outs (the lock's own, in autocommit; one that records an
order and starts the next, the start in autocommit) and 1 transaction: 11 round trips,
counting a ping per check-out and BEGIN/COMMIT per transaction (26 before issue 12). Fast
replies are recorded together, under one stock lock hold: 2 statements an order (start,
'sending') on 1 check-out, 3 round trips; lock, 'sent', unlock and the record are the group's.
The tests fail if either grows again. The HTTP layer's own bookkeeping (daily budget, rate
limit, token) is not the flow's and is left out.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

import psycopg
import pytest
import sqlalchemy as sa

from kn_zoho.storefront import queue
from kn_zoho.storefront.seed import seed
from kn_zoho.sync.books import ContactUpdatesFlow, InvoicesFlow, ItemsFlow
from kn_zoho.sync.reports import InfrastructureError
from kn_zoho.sync.runner import run_flow
from kn_zoho.sync.start_ahead import START_AHEAD_THREAD
from kn_zoho.sync.stock.lock import STOCK_LOCK_HELPER
from kn_zoho.zoho.errors import ZohoError
from kn_zoho.zoho.factory import ZohoClients
from kn_zoho_tests.sync.books_fixtures import *  # noqa: F403 - pytest fixtures
from kn_zoho_tests.sync.storefront_rows import execute, order, product, user

HTTP_LAYER_TABLES = ("zoho_call_budgets", "zoho_rate_limits", "zoho_oauth_tokens",
                     "zoho_settings_cache")


@dataclass
class _CheckOut:
    statements: list[str] = field(default_factory=list)
    transactions: int = 0  # BEGIN ... COMMIT/ROLLBACK sent (none in autocommit)

    @property
    def http_layer(self) -> bool:
        return bool(self.statements) and all(
            any(table in statement for table in HTTP_LAYER_TABLES)
            for statement in self.statements)


@dataclass
class _Cost:
    statements: int
    check_outs: int
    transactions: int

    @property
    def round_trips(self) -> int:
        """A ping per check-out (pool_pre_ping), BEGIN and COMMIT per transaction."""
        return self.statements + self.check_outs + 2 * self.transactions


class _Meter:
    """Database work done by this thread and the stock lock's helper thread, which writes
    'sending' while the invoice is made (the heartbeat renews leases on its own), by pool
    check-out."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        self.me = threading.get_ident()
        self.check_outs: list[_CheckOut] = []
        self._current: dict[int, _CheckOut] = {}

    def _flows(self) -> bool:
        """Whether the current thread does the flow's work."""
        return (threading.get_ident() == self.me
                or threading.current_thread().name in (STOCK_LOCK_HELPER, START_AHEAD_THREAD))

    def _checkout(self, dbapi_connection, record, proxy) -> None:
        if self._flows():
            self._current[id(dbapi_connection)] = check_out = _CheckOut()
            self.check_outs.append(check_out)

    def _of(self, conn: sa.Connection) -> _CheckOut | None:
        if not self._flows():
            return None
        return self._current.get(id(conn.connection.dbapi_connection))

    def _statement(self, conn, cursor, statement, parameters, context, executemany) -> None:
        if (check_out := self._of(conn)) is not None:
            check_out.statements.append(statement)

    def _begin(self, conn: sa.Connection) -> None:
        check_out = self._of(conn)
        if check_out is not None and not conn.connection.dbapi_connection.autocommit:
            check_out.transactions += 1

    def cost(self) -> _Cost:
        mine = [c for c in self.check_outs if not c.http_layer]
        return _Cost(sum(len(c.statements) for c in mine), len(mine),
                     sum(c.transactions for c in mine))

    def __enter__(self) -> _Meter:
        sa.event.listen(self.engine.pool, "checkout", self._checkout)
        sa.event.listen(self.engine, "before_cursor_execute", self._statement)
        sa.event.listen(self.engine, "begin", self._begin)
        return self

    def __exit__(self, *exc: object) -> None:
        sa.event.remove(self.engine.pool, "checkout", self._checkout)
        sa.event.remove(self.engine, "before_cursor_execute", self._statement)
        sa.event.remove(self.engine, "begin", self._begin)


@pytest.fixture
def orders(engine: sa.Engine, books_sandbox, books_clients: ZohoClients) -> Iterator[list[str]]:
    """Seven paid orders of one customer, whose Books items exist; the first is invoiced (its
    customer created and linked), the others are due."""
    seed(engine, users=1, products=2, orders=7, paid_fraction=1.0, quote_requests=0,
         inquiries=0)
    run_flow(engine, ItemsFlow(books_clients.books), retry_base=0)
    with engine.connect() as conn:
        numbers = list(conn.execute(sa.text(
            "SELECT order_number FROM orders ORDER BY order_number")).scalars())
    assert run_flow(engine, InvoicesFlow(books_clients.books), keys=numbers[:1],
                    retry_base=0).count("synced") == 1
    yield numbers[1:]


def _invoice(engine: sa.Engine, books_clients: ZohoClients, keys: list[str],
             record_within_seconds: float) -> _Cost:
    flow = InvoicesFlow(books_clients.books)
    flow.record_within_seconds = record_within_seconds
    with _Meter(engine) as meter:
        report = run_flow(engine, flow, keys=keys, retry_base=0)
    assert report.count("synced") == len(keys), report.failures
    return meter.cost()


def _per_more_order(engine: sa.Engine, orders: list[str], books_clients: ZohoClients,
                    record_within_seconds: float) -> _Cost:
    two = _invoice(engine, books_clients, orders[:2], record_within_seconds)
    four = _invoice(engine, books_clients, orders[2:], record_within_seconds)
    return _Cost(*((getattr(four, name) - getattr(two, name)) / 2
                   for name in ("statements", "check_outs", "transactions")))


def test_one_more_paid_order_recorded_alone_costs_7_statements_and_11_round_trips(
        engine: sa.Engine, orders: list[str], books_clients: ZohoClients) -> None:
    per_order = _per_more_order(engine, orders, books_clients, 0.0)
    assert (per_order.statements, per_order.check_outs, per_order.transactions) == (7, 2, 1)
    assert per_order.round_trips == 11


def test_one_more_paid_order_recorded_with_others_costs_2_statements_and_3_round_trips(
        engine: sa.Engine, orders: list[str], books_clients: ZohoClients) -> None:
    per_order = _per_more_order(engine, orders, books_clients, 60.0)
    assert (per_order.statements, per_order.check_outs, per_order.transactions) == (2, 1, 0)
    assert per_order.round_trips == 3


def _new_customers_orders(engine: sa.Engine, books_clients: ZohoClients, count: int
                          ) -> list[str]:
    """``count`` users Books does not know yet, a paid order each; the item is in Books."""
    item = product(engine, "NEEM-1L")
    users = [user(engine, f"grower{n}@example.in", f"Grower {n} Naidu") for n in range(count)]
    for number, user_id in enumerate(users, start=1):
        order(engine, f"KN-{number}", user_id, item)
    run_flow(engine, ItemsFlow(books_clients.books), retry_base=0)
    return users


def test_contact_updates_needing_no_call_are_started_and_recorded_together(
        engine: sa.Engine, books_sandbox, books_clients: ZohoClients) -> None:
    """Each link queues a contact update that needs no call (the contact was just created
    from the same data): they cost one start and one record for the batch, not two
    transactions each; an edited user's update, which makes calls, is attempted alone."""
    users = _new_customers_orders(engine, books_clients, 4)
    assert run_flow(engine, InvoicesFlow(books_clients.books),
                    retry_base=0).count("synced") == 4
    execute(engine, "UPDATE users SET phone = '+91 99000 11111' WHERE id = :id", id=users[0])
    before = books_sandbox.calls()
    flow = ContactUpdatesFlow(books_clients.books)
    flow.record_within_seconds = 0.0  # each attempt recorded at once, as with slow replies
    with _Meter(engine) as meter:
        report = run_flow(engine, flow, retry_base=0)
    assert {r.record_key: r.operation for r in report.results} == {
        users[0]: "read+update", **dict.fromkeys(users[1:], "unchanged")}
    assert report.count("synced") == 4
    calls = books_sandbox.calls() - before
    assert calls == {"GET /books/v3/contacts/{id}": 1, "PUT /books/v3/contacts/{id}": 1}
    statements = [" ".join(s.split()) for c in meter.check_outs for s in c.statements]
    starts = [s for s in statements if s.startswith("WITH started AS ( UPDATE integration")]
    records = [s for s in statements if s.startswith("WITH outcome AS (")]
    assert (len(starts), len(records)) == (2, 2), statements
    reads = [s for s in statements if s.startswith("SELECT * FROM public.users")]
    assert len(reads) == 1, statements  # the batch's users, read once


def _linking(statements: list[str]) -> tuple[int, int]:
    """(user links, each locking its rows in id order; contact-update digests) among
    ``statements``."""
    flat = [" ".join(s.split()) for s in statements]
    return (sum(s.startswith("WITH locked AS (SELECT id FROM public.users") and
                "UPDATE public.users SET zoho_books_id" in s for s in flat),
            sum("SET payload_hash" in s for s in flat))


def test_new_customers_recorded_together_are_linked_in_one_statement(
        engine: sa.Engine, books_sandbox, books_clients: ZohoClients) -> None:
    """Four new customers' links (and the digests that spare their contact updates a call)
    are written with the group's outcomes, one statement per table, not two per customer."""
    users = _new_customers_orders(engine, books_clients, 4)
    flow = InvoicesFlow(books_clients.books)
    flow.record_within_seconds = 60.0
    with _Meter(engine) as meter:
        report = run_flow(engine, flow, retry_base=0)
    assert report.count("synced") == 4, report.failures
    assert {r.operation.split("+")[0] for r in report.results} == {"customer:create"}
    assert _linking([s for c in meter.check_outs for s in c.statements]) == (1, 1)
    with engine.connect() as conn:
        linked = conn.execute(sa.text(
            "SELECT count(*) FROM users WHERE zoho_books_id IS NOT NULL")).scalar_one()
    assert linked == 4
    _assert_updates_need_no_call(engine, books_sandbox, books_clients, users)


def _assert_updates_need_no_call(engine: sa.Engine, books_sandbox, books_clients: ZohoClients,
                                 users: list[str]) -> None:
    """The digests went with the links: the contact update each link queued makes no call."""
    before = books_sandbox.calls()
    report = run_flow(engine, ContactUpdatesFlow(books_clients.books), retry_base=0)
    assert {r.record_key: r.operation for r in report.results} == dict.fromkeys(
        users, "unchanged")
    assert books_sandbox.calls() - before == {}


def test_a_customer_created_for_an_order_that_then_fails_is_linked_all_the_same(
        engine: sa.Engine, books_sandbox, books_clients: ZohoClients,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The link goes with the outcome, whatever it is: the contact made for an order whose
    invoice Books refused is the user's, and the order's retry neither looks for it nor
    makes another."""
    [user_id] = _new_customers_orders(engine, books_clients, 1)
    books = books_clients.books
    with monkeypatch.context() as patch:
        def refuse(*args: object, **kwargs: object) -> None:
            raise ZohoError("Invoice refused", code=4, http_status=400)
        patch.setattr(books, "create_invoice", refuse)
        [failed] = run_flow(engine, InvoicesFlow(books), retry_base=0).results
    assert (failed.status, failed.operation) == ("failed", "customer:create"), failed
    [contact] = books_sandbox.records("books_contacts")
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT zoho_books_id FROM users WHERE id = :id"),
                            {"id": user_id}).scalar_one() == contact["contact_id"]
    # refused for good: the admin's manual retry
    [synced] = run_flow(engine, InvoicesFlow(books), keys=[failed.record_key], force=True,
                        retry_base=0).results
    assert synced.status == "synced" and not synced.operation.startswith("customer:"), synced
    assert len(books_sandbox.records("books_contacts")) == 1


def test_a_recording_a_deadlock_rolled_back_is_tried_again_with_the_customers_links(
        engine: sa.Engine, books_sandbox, books_clients: ZohoClients,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Postgres rolls back one side of a deadlock (a storefront transaction locking the same
    rows in another order): the group's recording runs again, links and all, instead of
    stopping the run with its Zoho work done but unrecorded."""
    users = _new_customers_orders(engine, books_clients, 3)
    finish_many, conflicts = queue.finish_many, []

    def deadlocked_once(conn: sa.Connection, *args: object, **kwargs: object) -> object:
        statuses = finish_many(conn, *args, **kwargs)  # written, then rolled back
        if not conflicts:
            conflicts.append(1)
            raise sa.exc.OperationalError("WITH outcome ...", {},
                                          psycopg.errors.DeadlockDetected("deadlock detected"))
        return statuses

    monkeypatch.setattr(queue, "finish_many", deadlocked_once)
    flow = InvoicesFlow(books_clients.books)
    flow.record_within_seconds = 60.0  # the three recorded together
    report = run_flow(engine, flow, retry_base=0)
    assert conflicts == [1]
    assert report.count("synced") == 3, report.failures
    with engine.connect() as conn:
        linked = conn.execute(sa.text(
            "SELECT count(*) FROM users WHERE zoho_books_id IS NOT NULL")).scalar_one()
        attempts = conn.execute(sa.text(
            "SELECT status, count(*) FROM integration.zoho_sync_logs "
            "WHERE entity = 'books_invoice' GROUP BY status")).all()
    assert linked == 3
    assert attempts == [("success", 3)]
    _assert_updates_need_no_call(engine, books_sandbox, books_clients, users)


def test_a_recording_that_keeps_conflicting_stops_the_run_saying_so(
        engine: sa.Engine, books_sandbox, books_clients: ZohoClients,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Tried three times, then the run stops as for a lost database: the attempts are given
    back (not counted), and the message names the conflict, not a lost connection."""
    _new_customers_orders(engine, books_clients, 1)

    def deadlocked(conn: sa.Connection, *args: object, **kwargs: object) -> object:
        raise sa.exc.OperationalError("WITH outcome ...", {},
                                      psycopg.errors.DeadlockDetected("deadlock detected"))

    monkeypatch.setattr(queue, "finish_many", deadlocked)
    with pytest.raises(InfrastructureError, match=r"^books_invoice: database transaction kept "
                                                  r"conflicting with another: DeadlockDetected"):
        run_flow(engine, InvoicesFlow(books_clients.books), retry_base=0)
    with engine.connect() as conn:
        assert conn.execute(sa.text(
            "SELECT status, attempts FROM integration.zoho_sync_queue "
            "WHERE entity = 'books_invoice'")).one() == ("pending", 0)
