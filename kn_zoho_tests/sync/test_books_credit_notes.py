"""Storefront refunds -> Books credit notes with their refunds, against the sandbox and a real
database: partial and full refunds, restock or not, a refund before its invoice, a cancellation
before invoicing, lost replies and a killed run (one credit note and one refund per refund)."""

from __future__ import annotations

import json
from collections import Counter
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa

from kn_zoho.storefront.seed import seed
from kn_zoho.sync.books import CreditNotesFlow
from kn_zoho.sync.runner import run_flow
from kn_zoho.sync.service import books_flows
from kn_zoho_tests.sync.books_fixtures import *  # noqa: F403 - pytest fixtures
from kn_zoho_tests.sync.books_fixtures import BooksSandbox, losing_first_reply
from kn_zoho_tests.sync.stock_helpers import books_stock


def _sync(engine: sa.Engine, clients: Any) -> None:
    for flow in books_flows(clients):
        run_flow(engine, flow, retry_base=0)


def _orders(engine: sa.Engine, count: int = 4) -> list[dict[str, Any]]:
    seed(engine, users=4, products=5, orders=count, paid_fraction=1.0, quote_requests=0,
         inquiries=0)
    with engine.connect() as conn:
        return [dict(row) for row in conn.execute(sa.text(
            "SELECT id, order_number, grand_total, shipping_charge FROM public.orders "
            "ORDER BY order_number")).mappings()]


def _lines(engine: sa.Engine, order_id: Any) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        return [dict(row) for row in conn.execute(sa.text(
            "SELECT i.id, i.quantity, i.line_total, p.sku FROM public.order_items i "
            "JOIN public.products p ON p.id = i.product_id WHERE i.order_id = :id "
            "ORDER BY p.sku"), {"id": order_id}).mappings()]


def _refund(engine: sa.Engine, order_id: Any, gateway: str, entries: list[dict[str, Any]],
            shipping: Decimal | int = 0) -> str:
    with engine.begin() as conn:
        refund_id = conn.execute(sa.text(
            "SELECT public.refund_order_lines(:id, :gateway, CAST(:lines AS jsonb), :shipping)"),
            {"id": order_id, "gateway": gateway, "shipping": shipping,
             "lines": json.dumps(entries, default=str)}).scalar_one()
        return conn.execute(sa.text("SELECT refund_number FROM public.order_refunds "
                                    "WHERE id = :id"), {"id": refund_id}).scalar_one()


def _queue(engine: sa.Engine, entity: str) -> dict[str, tuple[str, str | None]]:
    with engine.connect() as conn:
        return {row.record_key: (row.status, row.last_error_code) for row in conn.execute(
            sa.text("SELECT record_key, status, last_error_code FROM integration.zoho_sync_queue "
                    "WHERE entity = :e"), {"e": entity})}


def _notes(sandbox: BooksSandbox) -> dict[str, dict[str, Any]]:
    return {note["creditnote_number"]: note for note in sandbox.records("books_creditnotes")}


def test_partial_refunds_credit_the_invoice_with_its_tax_split_and_return_only_restock(
        engine: sa.Engine, books_sandbox: BooksSandbox, books_clients: Any) -> None:
    order = next(o for o in _orders(engine) if len(_lines(engine, o["id"])) >= 2)
    _sync(engine, books_clients)
    invoice = next(i for i in books_sandbox.records("books_invoices")
                   if i["invoice_number"] == order["order_number"])
    first, second = _lines(engine, order["id"])[:2]
    before = books_stock(books_sandbox)

    number = _refund(engine, order["id"], "rfnd_A1", [
        {"order_item_id": first["id"], "quantity": 1, "restock": True},
        {"order_item_id": second["id"], "quantity": 1, "restock": False}])
    _sync(engine, books_clients)

    note = _notes(books_sandbox)[number]
    assert note["invoice_id"] == invoice["invoice_id"]
    assert note["place_of_supply"] == invoice["place_of_supply"]
    assert note["status"] == "closed" and note["balance"] == 0
    with engine.connect() as conn:
        amount = conn.execute(sa.text("SELECT amount FROM public.order_refunds "
                                      "WHERE refund_number = :n"), {"n": number}).scalar_one()
    assert Decimal(str(note["total"])) == amount
    # the same kind of tax as the invoice: CGST+SGST stays CGST+SGST, IGST stays IGST
    assert {t["tax_name"][:4] for t in note["taxes"]} <= {t["tax_name"][:4]
                                                          for t in invoice["taxes"]}
    assert [r["reference_number"] for r in note["refunds"]] == ["rfnd_A1"]
    after = books_stock(books_sandbox)
    assert after[first["sku"]] == before[first["sku"]] + 1  # back on the shelf
    if second["sku"] != first["sku"]:
        assert after[second["sku"]] == before[second["sku"]]  # not restocked: no stock back

    with engine.begin() as conn:  # the rest, in full: the order is refunded
        conn.execute(sa.text("SELECT public.refund_order(:id)"), {"id": order["id"]})
    _sync(engine, books_clients)
    notes = [n for n in _notes(books_sandbox).values() if n.get("invoice_id")
             == invoice["invoice_id"]]
    assert len(notes) == 2
    assert sum(Decimal(str(n["total"])) for n in notes) == Decimal(str(invoice["total"]))
    assert set(_queue(engine, "books_credit_note").values()) == {("synced", None)}


def test_refund_before_its_invoice_waits_then_is_credited(
        engine: sa.Engine, books_sandbox: BooksSandbox, books_clients: Any) -> None:
    order = _orders(engine, 1)[0]
    line = _lines(engine, order["id"])[0]
    number = _refund(engine, order["id"], "rfnd_B1",
                     [{"order_item_id": line["id"], "quantity": 1}])
    run_flow(engine, CreditNotesFlow(books_clients.books), retry_base=0)
    assert _queue(engine, "books_credit_note")[number] == ("pending", "INVOICE_NOT_SYNCED")
    assert not books_sandbox.records("books_creditnotes")

    _sync(engine, books_clients)  # invoice first, then (due again at once) the credit note
    assert _queue(engine, "books_credit_note")[number] == ("synced", None)
    assert number in _notes(books_sandbox)


def test_cancelled_after_payment_before_invoicing_is_never_invoiced(
        engine: sa.Engine, books_sandbox: BooksSandbox, books_clients: Any) -> None:
    orders = _orders(engine, 2)
    cancelled = orders[0]
    with engine.begin() as conn:
        conn.execute(sa.text("SELECT public.cancel_paid_order(:id, 'rfnd_C1')"),
                     {"id": cancelled["id"]})
    _sync(engine, books_clients)
    numbers = {i["invoice_number"] for i in books_sandbox.records("books_invoices")}
    assert numbers == {orders[1]["order_number"]}
    assert not books_sandbox.records("books_creditnotes")
    assert _queue(engine, "books_invoice")[cancelled["order_number"]] == ("synced", None)
    assert set(_queue(engine, "books_credit_note").values()) == {("synced", None)}
    with engine.connect() as conn:
        # the sale and its return are ordinary storefront changes now, netting to nothing
        rows = conn.execute(sa.text(
            "SELECT source, sum(delta) FROM integration.stock_movements WHERE order_id = :id "
            "GROUP BY source"), {"id": cancelled["id"]}).all()
        operation = conn.execute(sa.text(
            "SELECT operation FROM integration.zoho_sync_logs WHERE entity = 'books_invoice' "
            "AND record_key = :n ORDER BY id DESC LIMIT 1"),
            {"n": cancelled["order_number"]}).scalar_one()
    assert all(source == "storefront" for source, _ in rows)
    assert operation == "not-invoiced"


def _set_payment_status(engine: sa.Engine, order_id: Any, status: str) -> None:
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE public.orders SET payment_status = :s WHERE id = :id"),
                     {"s": status, "id": order_id})


def test_an_order_settled_as_never_invoiced_is_not_invoiced_when_marked_paid_again(
        engine: sa.Engine, books_sandbox: BooksSandbox, books_clients: Any) -> None:
    """Its sale went to Books as an adjustment: an invoice would take that stock twice."""
    cancelled = _orders(engine, 1)[0]
    with engine.begin() as conn:
        conn.execute(sa.text("SELECT public.cancel_paid_order(:id, 'rfnd_C3')"),
                     {"id": cancelled["id"]})
    _sync(engine, books_clients)
    before = books_stock(books_sandbox)

    _set_payment_status(engine, cancelled["id"], "paid")  # an admin undoes the refund by hand
    _sync(engine, books_clients)
    assert not books_sandbox.records("books_invoices")
    assert books_stock(books_sandbox) == before
    assert _queue(engine, "books_invoice")[cancelled["order_number"]] == (
        "failed", "NEVER_INVOICED")
    with engine.connect() as conn:
        message = conn.execute(sa.text(
            "SELECT last_error_message FROM integration.zoho_sync_queue "
            "WHERE entity = 'books_invoice' AND record_key = :n"),
            {"n": cancelled["order_number"]}).scalar_one()
    assert message.startswith(f"order {cancelled['order_number']}: field 'payment_status'")
    assert "never invoiced" in message

    _set_payment_status(engine, cancelled["id"], "refunded")  # the fix the message names
    calls = books_sandbox.calls()
    _sync(engine, books_clients)
    assert _queue(engine, "books_invoice")[cancelled["order_number"]] == ("synced", None)
    assert books_sandbox.calls() == calls  # settled before: nothing looked up again
    assert books_stock(books_sandbox) == before


def test_cancelled_after_invoicing_is_credited_in_full_and_back_in_stock(
        engine: sa.Engine, books_sandbox: BooksSandbox, books_clients: Any) -> None:
    order = _orders(engine, 1)[0]
    _sync(engine, books_clients)
    before = books_stock(books_sandbox)
    with engine.begin() as conn:
        conn.execute(sa.text("SELECT public.cancel_paid_order(:id, 'rfnd_C2')"),
                     {"id": order["id"]})
    _sync(engine, books_clients)
    (invoice,) = books_sandbox.records("books_invoices")
    (note,) = books_sandbox.records("books_creditnotes")
    assert invoice["status"] == "paid"  # never voided: credited
    assert (note["invoice_id"], note["total"]) == (invoice["invoice_id"], invoice["total"])
    returned = Counter()
    for line in _lines(engine, order["id"]):
        returned[line["sku"]] += line["quantity"]
    after = books_stock(books_sandbox)
    assert {sku: after[sku] - before[sku] for sku in returned} == dict(returned)



def _killed_after(call: Any) -> Any:
    """``call`` that Books carries out, then the run dies before it hears back."""
    def killed(*args: Any, **kwargs: Any) -> Any:
        call(*args, **kwargs)
        raise SystemExit("run killed")
    return killed


def _refund_everything(engine: sa.Engine, orders: list[dict[str, Any]]) -> list[str]:
    numbers = []
    for index, order in enumerate(orders):
        line = _lines(engine, order["id"])[0]
        numbers.append(_refund(engine, order["id"], f"rfnd_D{index}",
                               [{"order_item_id": line["id"], "quantity": 1,
                                 "restock": index % 2 == 0}]))
    return numbers


def _assert_one_each(sandbox: BooksSandbox, numbers: list[str]) -> None:
    notes = sandbox.records("books_creditnotes")
    assert Counter(n["creditnote_number"] for n in notes) == Counter(numbers)
    assert all(len(n["refunds"]) == 1 and n["balance"] == 0 for n in notes)


@pytest.mark.parametrize("method", ["create_credit_note", "refund_credit_note"])
def test_lost_replies_make_one_credit_note_and_one_refund(
        engine: sa.Engine, books_sandbox: BooksSandbox, books_clients: Any,
        monkeypatch: pytest.MonkeyPatch, method: str) -> None:
    orders = _orders(engine, 3)
    _sync(engine, books_clients)
    numbers = _refund_everything(engine, orders)
    books = books_clients.books
    monkeypatch.setattr(books, method, losing_first_reply(books_sandbox, getattr(books, method)))
    for _ in range(3):
        _sync(engine, books_clients)
    _assert_one_each(books_sandbox, numbers)


@pytest.mark.parametrize("method", ["create_credit_note", "open_credit_note",
                                    "refund_credit_note"])
def test_a_run_killed_after_books_stored_makes_no_duplicate(
        engine: sa.Engine, books_sandbox: BooksSandbox, books_clients: Any,
        monkeypatch: pytest.MonkeyPatch, method: str) -> None:
    orders = _orders(engine, 2)
    _sync(engine, books_clients)
    numbers = _refund_everything(engine, orders)
    books = books_clients.books
    real = getattr(books, method)
    monkeypatch.setattr(books, method, _killed_after(real))
    with pytest.raises(SystemExit):
        run_flow(engine, CreditNotesFlow(books), retry_base=0)
    monkeypatch.setattr(books, method, real)
    with engine.begin() as conn:  # the dead run's lease runs out
        conn.execute(sa.text("UPDATE integration.zoho_sync_queue SET claimed_until = now() "
                             "WHERE entity = 'books_credit_note' AND status = 'in_progress'"))
    for _ in range(2):
        _sync(engine, books_clients)
    _assert_one_each(books_sandbox, numbers)
    with engine.connect() as conn:
        states = set(conn.execute(sa.text(
            "SELECT state FROM integration.stock_credit_notes")).scalars())
    assert states <= {"sent"}


def test_bad_data_fails_the_refund_naming_the_field_before_anything_reaches_books(
        engine: sa.Engine, books_sandbox: BooksSandbox, books_clients: Any) -> None:
    orders = _orders(engine, 2)
    _sync(engine, books_clients)
    line = _lines(engine, orders[0]["id"])[0]
    bad = _refund(engine, orders[0]["id"], "rfnd_" + "x" * 100,
                  [{"order_item_id": line["id"], "quantity": 1}])
    good = _refund(engine, orders[1]["id"], "rfnd_E2",
                   [{"order_item_id": _lines(engine, orders[1]["id"])[0]["id"], "quantity": 1}])
    _sync(engine, books_clients)
    queue = _queue(engine, "books_credit_note")
    assert queue[bad] == ("failed", "INVALID_DATA") and queue[good] == ("synced", None)
    with engine.connect() as conn:
        message = conn.execute(sa.text(
            "SELECT last_error_message FROM integration.zoho_sync_queue "
            "WHERE entity = 'books_credit_note' AND record_key = :k"), {"k": bad}).scalar_one()
    assert f"refund {bad}" in message and "field 'gateway_refund_id'" in message
    assert set(_notes(books_sandbox)) == {good}
