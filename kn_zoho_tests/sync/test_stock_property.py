"""Property: whatever interleaving of storefront and Books stock changes, sync runs, faults,
killed and overlapping cycles, once everything drains every SKU's storefront stock equals
Books' equals the true value (kept here, independently), and the adjustments we sent add up to
the storefront's non-sale changes only (invariant 7); a refund's restock reaches Books through its
credit note, or, for an order refunded before it was invoiced, with its sale as an adjustment."""

from __future__ import annotations

import contextlib
import threading
from collections import Counter
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kn_zoho.storefront import db
from kn_zoho.storefront.seed import seed
from kn_zoho.sync.stock.cycle import run_stock_cycle
from kn_zoho.sync.stock.push import push
from kn_zoho.zoho.errors import ZohoError
from kn_zoho_tests.conftest import _create_database, _drop_database, _with_database
from kn_zoho_tests.sync.books_fixtures import *  # noqa: F403 - pytest fixtures
from kn_zoho_tests.sync.books_fixtures import NO_FAULTS, BooksSandbox, make_clients
from kn_zoho_tests.sync.stock_helpers import (
    adjustments,
    admin_edit,
    books_stock,
    checkout,
    store_stock,
    sync_books,
)

SKUS = 3
sku_index = st.integers(0, SKUS - 1)
OPERATIONS = st.one_of(
    st.tuples(st.just("checkout"), sku_index, st.integers(1, 3)),
    st.tuples(st.just("place"), sku_index, st.integers(1, 3)),
    st.tuples(st.just("pay"), st.integers(0, 5)),
    st.tuples(st.just("cancel"), st.integers(0, 5)),
    st.tuples(st.just("refund"), st.integers(0, 5), st.booleans()),
    st.tuples(st.just("edit"), sku_index, st.integers(-3, 6).filter(bool)),
    st.tuples(st.just("offline_sale"), sku_index, st.integers(1, 3)),
    st.tuples(st.just("adjust"), sku_index, st.integers(-3, 4).filter(bool)),
    st.tuples(st.just("credit_note"), sku_index, st.integers(1, 2)),
    st.tuples(st.just("void"), st.integers(0, 5)),
    st.tuples(st.just("sync_books"), st.sampled_from([0.0, 0.3])),
    st.tuples(st.just("cycle"), st.sampled_from([0.0, 0.3])),
    st.tuples(st.just("killed_push"), st.booleans()),
    st.just(("overlap",)),
)


class World:
    """One storefront database + the sandbox, and the true stock kept on the side."""

    def __init__(self, engine: sa.Engine, sandbox: BooksSandbox, placement: bool) -> None:
        self.engine, self.sandbox = engine, sandbox
        self.clients = make_clients(engine, sandbox)
        seed(engine, users=3, products=SKUS, orders=0, inquiries=0, quote_requests=0)
        if placement:
            with engine.begin() as conn:
                conn.execute(sa.text("UPDATE public.storefront_settings SET value = 'placement' "
                                     "WHERE name = 'stock_lowered_at'"))
        self.skus = sorted(store_stock(engine))
        self.truth = Counter(store_stock(engine))
        self.non_sale = Counter(store_stock(engine))  # the inserts are storefront changes too
        self.refunded: list[dict[str, Any]] = []
        self.orders: list[dict[str, Any]] = []
        self.offline: list[dict[str, Any]] = []
        sync_books(engine, self.clients)

    def faulty(self, rate: float) -> contextlib.AbstractContextManager[None]:
        @contextlib.contextmanager
        def faults() -> Any:
            self.sandbox.faults(error_rate=rate, lost_response_rate=rate / 2)
            try:
                yield
            except ZohoError:
                pass
            finally:
                self.sandbox.faults(**NO_FAULTS)
        return faults()

    def _stock_call(self, sql: str, **params: Any) -> bool:
        try:
            with self.engine.begin() as conn:
                conn.execute(sa.text(sql), params)
        except sa.exc.DBAPIError:
            return False  # refused by the storefront (oversold, wrong state): nothing moved
        return True

    def apply(self, op: tuple[Any, ...]) -> None:
        kind = op[0]
        if kind in ("checkout", "place"):
            sku, quantity = self.skus[op[1]], op[2]
            with contextlib.suppress(sa.exc.DBAPIError):
                order_id = checkout(self.engine, sku, quantity, pay=kind == "checkout")
                self.orders.append({"id": order_id, "sku": sku, "q": quantity})
                if kind == "checkout" or self._lowered(order_id):
                    self.truth[sku] -= quantity
        elif kind in ("pay", "cancel", "refund") and self.orders:
            order = self.orders[op[1] % len(self.orders)]
            lowered = self._lowered(order["id"])
            if kind == "pay":
                if self._stock_call("SELECT public.pay_order(:id, 'pay_x')", id=order["id"]) \
                        and not lowered:
                    self.truth[order["sku"]] -= order["q"]
            elif kind == "cancel":
                if self._stock_call("SELECT public.cancel_order(:id)", id=order["id"]) \
                        and lowered:
                    self.truth[order["sku"]] += order["q"]
            elif self._stock_call("SELECT public.refund_order(:id, :restock)", id=order["id"],
                                  restock=op[2]):
                self.refunded.append({**order, "restock": op[2]})
                if op[2]:
                    self.truth[order["sku"]] += order["q"]
        elif kind == "edit":
            sku = self.skus[op[1]]
            admin_edit(self.engine, sku, op[2])
            self.truth[sku] += op[2]
            self.non_sale[sku] += op[2]
        elif kind == "offline_sale":
            sku = self.skus[op[1]]
            reply = self.sandbox._session.post(
                self.sandbox.base_url + "/__sandbox/books/offline-sale",
                json={"sku": sku, "quantity": op[2]}, timeout=10).json()
            self.offline.append({"id": reply["invoice"]["invoice_id"], "sku": sku, "q": op[2]})
            self.truth[sku] -= op[2]
        elif kind == "adjust":
            self.sandbox._post("/__sandbox/books/adjust-stock",
                               {"sku": self.skus[op[1]], "quantity_adjusted": op[2]})
            self.truth[self.skus[op[1]]] += op[2]
        elif kind == "credit_note":
            self.sandbox._post("/__sandbox/books/credit-note",
                               {"sku": self.skus[op[1]], "quantity": op[2]})
            self.truth[self.skus[op[1]]] += op[2]
        elif kind == "void" and self.offline:
            sale = self.offline.pop(op[1] % len(self.offline))
            self.sandbox._post("/__sandbox/books/void-invoice", {"invoice_id": sale["id"]})
            self.truth[sale["sku"]] += sale["q"]
        elif kind == "sync_books":
            with self.faulty(op[1]):
                sync_books(self.engine, self.clients)
        elif kind == "cycle":
            with self.faulty(op[1]):
                run_stock_cycle(self.engine, self.clients.books)
        elif kind == "killed_push":
            self.killed_push(after_books_stored=op[1])
        elif kind == "overlap":
            self.overlapping_cycles()

    def _lowered(self, order_id: Any) -> bool:
        with self.engine.connect() as conn:
            return conn.execute(sa.text("SELECT stock_lowered_at IS NOT NULL FROM public.orders "
                                        "WHERE id = :id"), {"id": order_id}).scalar_one()

    def killed_push(self, *, after_books_stored: bool) -> None:
        books = self.clients.books
        real = books.create_inventory_adjustment

        def killed(payload: dict[str, Any]) -> dict[str, Any]:
            if after_books_stored:
                real(payload)
            raise SystemExit("run killed")

        books.create_inventory_adjustment = killed  # type: ignore[method-assign]
        try:
            with contextlib.suppress(SystemExit):
                push(self.engine, books)
        finally:
            del books.create_inventory_adjustment

    def overlapping_cycles(self) -> None:
        other = make_clients(self.engine, self.sandbox)
        errors: list[BaseException] = []

        def run(clients: Any) -> None:
            try:
                run_stock_cycle(self.engine, clients.books)
            except BaseException as error:
                errors.append(error)

        threads = [threading.Thread(target=run, args=(c,)) for c in (self.clients, other)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        other.close()
        assert not errors, errors

    def pushed_for_refunds(self) -> Counter[str]:
        """What refunds add to the pushed adjustments: nothing for an invoiced order (its
        credit note returns the restock); for one refunded before it was invoiced (never
        invoiced) its sale and its restock, as ordinary storefront changes."""
        extra: Counter[str] = Counter()
        with self.engine.connect() as conn:
            never = set(conn.execute(sa.text("SELECT order_id FROM integration.stock_invoices "
                                             "WHERE state = 'never'")).scalars())
        for order in self.refunded:
            if order["id"] in never:
                extra[order["sku"]] += order["q"] if order["restock"] else 0
                extra[order["sku"]] -= order["q"]
        return extra

    def drain(self) -> None:
        """Quiet: every open order settled (cancelled), every queue and cycle run dry."""
        for index in range(len(self.orders)):
            self.apply(("cancel", index))
        for _ in range(3):
            sync_books(self.engine, self.clients)
            run_stock_cycle(self.engine, self.clients.books)


@pytest.mark.slow
@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(operations=st.lists(OPERATIONS, max_size=14), placement=st.booleans())
def test_both_sides_converge_to_the_truth(operations: list[tuple[Any, ...]], placement: bool,
                                          admin_engine: sa.Engine, pg_server_url: str,
                                          template_database: str,
                                          books_sandbox: BooksSandbox) -> None:
    books_sandbox.reset()
    name = _create_database(admin_engine, template=template_database)
    engine = db.create_engine(_with_database(pg_server_url, name))
    try:
        world = World(engine, books_sandbox, placement)
        for operation in operations:
            world.apply(operation)
        world.drain()

        assert store_stock(engine) == books_stock(books_sandbox) == dict(world.truth)
        pushed: Counter[str] = Counter()
        for adjustment in adjustments(books_sandbox):
            if adjustment["reference_number"].startswith("KNSTK-"):
                for line in adjustment["line_items"]:
                    pushed[line["sku"]] += int(line["quantity_adjusted"])
        # sales never pushed; each storefront change exactly once
        expected = Counter(world.non_sale)
        expected.update(world.pushed_for_refunds())
        assert {k: v for k, v in pushed.items() if v} == \
            {k: v for k, v in expected.items() if v}
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT count(*) FROM integration.stock_levels "
                                        "WHERE out_of_step > 0")).scalar_one() == 0
        world.clients.close()
    finally:
        engine.dispose()
        _drop_database(admin_engine, name)
