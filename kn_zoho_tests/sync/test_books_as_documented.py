"""The Books sync talks to Books as Zoho documents it: invoices marked sent before their
payment (adopted drafts too), inactive items re-activated rather than failing forever, a
create refused with any code adopted by key, and the payment mode checked up front."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa

from kn_zoho.mapping.books import item_from_product, tax_table_from_zoho
from kn_zoho.storefront.seed import seed
from kn_zoho.sync.books import PAYMENT_MODE_ENV, InvoicesFlow, ItemsFlow
from kn_zoho.sync.runner import run_flow
from kn_zoho.zoho.errors import ZohoError, ZohoPermanentError
from kn_zoho_tests.sync.books_fixtures import *  # noqa: F403 - pytest fixtures
from kn_zoho_tests.sync.books_fixtures import BooksSandbox, losing_first_reply


def _seed(engine: sa.Engine, orders: int = 4) -> list[str]:
    seed(engine, users=3, products=3, orders=orders, paid_fraction=1.0, quote_requests=0,
         inquiries=0)
    with engine.connect() as conn:
        return list(conn.execute(sa.text("SELECT order_number FROM orders")).scalars())


def _sold_once(engine: sa.Engine, sandbox: BooksSandbox) -> None:
    """Every invoice paid, and each item's stock lowered by exactly what was sold."""
    assert all(i["status"] == "paid" for i in sandbox.records("books_invoices"))
    with engine.connect() as conn:
        sold = dict(conn.execute(sa.text(
            "SELECT p.sku, sum(i.quantity) FROM order_items i JOIN products p "
            "ON p.id = i.product_id GROUP BY p.sku")).all())
    items = sandbox.records("books_items")
    assert {i["sku"]: Decimal(str(i["initial_stock"])) - Decimal(str(i["stock_on_hand"]))
            for i in items} == {i["sku"]: Decimal(sold.get(i["sku"], 0)) for i in items}


def test_a_paid_order_is_sent_then_paid_and_moves_stock_once(
        engine: sa.Engine, books_sandbox, books_clients) -> None:
    numbers = _seed(engine)
    report = run_flow(engine, InvoicesFlow(books_clients.books), retry_base=0)
    assert report.count("synced") == len(numbers)
    assert all(r.operation.endswith("invoice:create+invoice:sent+payment:create")
               for r in report.results)
    _sold_once(engine, books_sandbox)
    payments = books_sandbox.records("books_payments")
    assert {p["payment_mode"] for p in payments} == {"banktransfer"}


def test_duplicate_refused_with_an_undocumented_code_is_adopted_and_sent(
        engine: sa.Engine, books_sandbox, books_clients, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another run created the invoice (a draft) just before us; Books refuses our create
    with a code and message we do not know. The flow looks it up by number, adopts it,
    marks the adopted draft sent and pays it: one invoice, stock lowered once."""
    numbers = _seed(engine, orders=1)
    books = books_clients.books
    create = books.create_invoice

    def raced(payload: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        create(payload, **kwargs)  # the other run's create, stored as a draft
        try:
            return create(payload, **kwargs)
        except ZohoError as error:
            raise ZohoPermanentError("This number is in use.", code=98765,
                                     http_status=400) from error

    monkeypatch.setattr(books, "create_invoice", raced)
    report = run_flow(engine, InvoicesFlow(books), retry_base=0)
    [result] = report.results
    assert (result.status, result.operation.split("+")[-3:]) == (
        "synced", ["invoice:adopt", "invoice:sent", "payment:create"])
    assert [i["invoice_number"] for i in books_sandbox.records("books_invoices")] == numbers
    _sold_once(engine, books_sandbox)



def test_mark_sent_with_a_lost_reply_is_checked_and_not_repeated(
        engine: sa.Engine, books_sandbox, books_clients, monkeypatch: pytest.MonkeyPatch
) -> None:
    numbers = _seed(engine)
    books = books_clients.books
    monkeypatch.setattr(books, "mark_invoice_sent",
                        losing_first_reply(books_sandbox, books.mark_invoice_sent))
    report = run_flow(engine, InvoicesFlow(books), retry_base=0)
    assert report.count("synced") == len(numbers)
    _sold_once(engine, books_sandbox)


def test_an_inactive_item_with_the_sku_is_reactivated_and_linked(
        engine: sa.Engine, books_sandbox, books_clients) -> None:
    """Books lists active items only by default and refuses a second item with the SKU: an
    item marked inactive there is found (filter_by=Status.All), marked active and linked."""
    seed(engine, users=1, products=3, orders=0, inquiries=0, quote_requests=0)
    books = books_clients.books
    with engine.connect() as conn:
        product = dict(conn.execute(sa.text(
            "SELECT * FROM products ORDER BY sku LIMIT 1")).mappings().one())
    taxes = tax_table_from_zoho(books.list_taxes())
    hidden = books.create_item(item_from_product(product, taxes))
    books.mark_item_inactive(hidden["item_id"])

    before = books_sandbox.calls()
    report = run_flow(engine, ItemsFlow(books), retry_base=0)
    # found in the catalog listing (filter_by=Status.All): no create refused for its SKU
    assert (books_sandbox.calls() - before)["POST /books/v3/items"] == 2
    operations = {r.record_key: r.operation for r in report.results}
    assert operations[product["sku"]] == "reactivate+update"
    items = {i["sku"]: i for i in books_sandbox.records("books_items")}
    assert len(items) == 3
    assert (items[product["sku"]]["item_id"], items[product["sku"]]["status"]) == (
        hidden["item_id"], "active")

    books.mark_item_inactive(hidden["item_id"])  # linked, then marked inactive in Books
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE products SET price = price + 1 WHERE id = :id"),
                     {"id": product["id"]})
    again = run_flow(engine, ItemsFlow(books), retry_base=0)
    assert [r.operation for r in again.results] == ["update+reactivate"]
    assert books.get_item(hidden["item_id"])["status"] == "active"  # type: ignore[index]


def test_payment_mode_is_configurable_and_checked_when_the_flow_is_built(
        engine: sa.Engine, books_sandbox, books_clients, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(PAYMENT_MODE_ENV, "Razorpay")
    with pytest.raises(ValueError, match="KN_ZOHO_BOOKS_PAYMENT_MODE='razorpay': Zoho Books "
                                         "accepts only check, cash, creditcard"):
        InvoicesFlow(books_clients.books)
    monkeypatch.setenv(PAYMENT_MODE_ENV, "Others")
    _seed(engine, orders=2)
    report = run_flow(engine, InvoicesFlow(books_clients.books), retry_base=0)
    assert report.count("synced") == 2
    assert {p["payment_mode"] for p in books_sandbox.records("books_payments")} == {"others"}
