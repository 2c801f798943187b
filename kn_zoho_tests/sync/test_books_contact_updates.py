"""Profile edits after the first invoice reach the user's Books contact (issue 14 item 1):
only when what maps to the contact changed, with the fewest calls, exactly once; a GSTIN change
applies to documents made after it and never to the invoices made before."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from kn_zoho.sync.books import BooksCatalog, ContactUpdatesFlow, InvoicesFlow, ItemsFlow
from kn_zoho.sync.runner import run_flow
from kn_zoho.sync.service import books_flows, run_flows, summary
from kn_zoho_tests.sync.books_fixtures import *  # noqa: F403 - pytest fixtures
from kn_zoho_tests.sync.books_fixtures import losing_first_reply
from kn_zoho_tests.sync.storefront_rows import (
    GSTIN_KA,
    GSTIN_MH,
    by_id,
    execute,
    one,
    order,
    product,
    queue_row,
    user,
)


def _first_invoices(engine: sa.Engine, books_clients) -> dict[str, str]:
    """Three customers, each invoiced once; returns user id by name."""
    item = product(engine, "NEEM-1L")
    users = {name: user(engine, f"{name.lower()}@example.in", f"{name} Rao",
                        gstin=GSTIN_KA if name == "Asha" else None)
             for name in ("Asha", "Bala", "Chitra")}
    for number, user_id in enumerate(users.values(), start=1):
        order(engine, f"KN-{number}", user_id, item)
    reports = run_flows(engine, books_flows(books_clients), retry_base=0)
    assert summary(engine, reports)["failed"] == 0
    return users


def test_a_contact_created_from_the_current_data_costs_no_update(
        engine: sa.Engine, books_sandbox, books_clients) -> None:
    users = _first_invoices(engine, books_clients)
    for user_id in users.values():
        row = queue_row(engine, "books_contact", user_id)
        assert row["status"] == "synced" and row["payload_hash"]
    calls = books_sandbox.calls()
    assert calls["PUT /books/v3/contacts/{id}"] == 0
    assert calls["GET /books/v3/contacts/{id}"] == 0


def test_profile_edits_update_the_linked_contact_with_the_fewest_calls(
        engine: sa.Engine, books_sandbox, books_clients) -> None:
    users = _first_invoices(engine, books_clients)
    contacts_before = by_id(books_sandbox, "books_contacts", "contact_id")
    with engine.begin() as conn:  # Asha moves to Maharashtra, Bala a new phone, Chitra no-op
        conn.execute(sa.text("UPDATE users SET gstin = :g, billing_state = 'MH', "
                             "shipping_state = 'MH' WHERE id = :id"),
                     {"g": GSTIN_MH, "id": users["Asha"]})
        conn.execute(sa.text("UPDATE users SET phone = '+91 99000 11111' WHERE id = :id"),
                     {"id": users["Bala"]})
        conn.execute(sa.text("UPDATE users SET shipping_state = 'TN' WHERE id = :id"),
                     {"id": users["Chitra"]})  # billing state decides her place: maps the same
    report = run_flow(engine, ContactUpdatesFlow(books_clients.books), retry_base=0)
    operations = {r.record_key: r.operation for r in report.results}
    assert operations == {users["Asha"]: "update", users["Bala"]: "read+update",
                          users["Chitra"]: "unchanged"}
    assert report.api_calls == 1 + 2  # Asha: PUT; Bala: GET (person id) + PUT

    contacts = by_id(books_sandbox, "books_contacts", "contact_id")
    assert len(contacts) == len(contacts_before) == 3
    asha = contacts[one(engine, "SELECT zoho_books_id FROM users WHERE id = :i", i=users["Asha"])]
    assert (asha["gst_no"], asha["gst_treatment"], asha["place_of_contact"]) == (
        GSTIN_MH, "business_gst", "MH")
    bala_id = one(engine, "SELECT zoho_books_id FROM users WHERE id = :i", i=users["Bala"])
    [before], [after] = (contacts_before[bala_id]["contact_persons"],
                         contacts[bala_id]["contact_persons"])
    assert after["phone"] == contacts[bala_id]["phone"] == "+919900011111"
    assert after["contact_person_id"] == before["contact_person_id"]  # updated, not replaced
    assert (after["email"], after["is_primary_contact"]) == ("bala@example.in", True)

    again = run_flow(engine, ContactUpdatesFlow(books_clients.books), retry_base=0)
    assert again.results == [] and again.api_calls == 0  # nothing due


def test_a_gstin_change_applies_to_later_invoices_only(
        engine: sa.Engine, books_sandbox, books_clients) -> None:
    """Asha's first invoice keeps her old GSTIN. An order paid after her edit, invoiced while
    her contact update still waits, already carries the new GSTIN (the invoice sends the
    user's current one), and so does every later document."""
    users = _first_invoices(engine, books_clients)
    execute(engine, "UPDATE users SET gstin = :g, billing_state = 'MH' WHERE id = :id",
            g=GSTIN_MH, id=users["Asha"])
    order(engine, "KN-9", users["Asha"], one(engine, "SELECT id FROM products"))
    catalog = BooksCatalog(books_clients.books)
    run_flow(engine, ItemsFlow(books_clients.books, catalog), retry_base=0)
    [invoiced] = run_flow(engine, InvoicesFlow(books_clients.books, catalog),
                          retry_base=0).results
    assert invoiced.status == "synced"
    assert queue_row(engine, "books_contact", users["Asha"])["status"] == "pending"

    invoices = {i["invoice_number"]: i for i in books_sandbox.records("books_invoices")}
    assert invoices["KN-1"]["gst_no"] == GSTIN_KA   # made before the edit: keeps its GSTIN
    assert invoices["KN-9"]["gst_no"] == GSTIN_MH
    run_flow(engine, ContactUpdatesFlow(books_clients.books), retry_base=0)
    invoices = {i["invoice_number"]: i for i in books_sandbox.records("books_invoices")}
    assert invoices["KN-1"]["gst_no"] == GSTIN_KA   # the contact's update leaves it alone
    contact = books_clients.books.get_contact(invoices["KN-1"]["customer_id"])
    assert contact is not None and contact["gst_no"] == GSTIN_MH


def test_a_lost_reply_is_sent_again_and_the_contact_is_updated_once(
        engine: sa.Engine, books_sandbox, books_clients, monkeypatch: pytest.MonkeyPatch
) -> None:
    users = _first_invoices(engine, books_clients)
    execute(engine, "UPDATE users SET company = 'Rao Agro LLP' WHERE id = :id",
            id=users["Asha"])
    books = books_clients.books
    monkeypatch.setattr(books, "update_contact", losing_first_reply(books_sandbox,
                                                                    books.update_contact))
    [lost] = run_flow(engine, ContactUpdatesFlow(books), retry_base=0).results
    assert lost.status == "pending"  # outcome unknown: retried, never reported as done
    [again] = run_flow(engine, ContactUpdatesFlow(books), retry_base=0).results
    assert (again.status, again.operation) == ("synced", "update")
    contacts = books_sandbox.records("books_contacts")
    assert len(contacts) == 3
    assert [c["company_name"] for c in contacts].count("Rao Agro LLP") == 1
    puts = books_sandbox.calls()["PUT /books/v3/contacts/{id}"]
    assert run_flow(engine, ContactUpdatesFlow(books), retry_base=0).results == []
    assert books_sandbox.calls()["PUT /books/v3/contacts/{id}"] == puts


def test_a_bad_gstin_fails_naming_the_field_and_fixing_it_syncs_it(
        engine: sa.Engine, books_sandbox, books_clients) -> None:
    users = _first_invoices(engine, books_clients)
    execute(engine, "UPDATE users SET gstin = '29AAACR5055K1Z4' WHERE id = :id",
            id=users["Asha"])
    [failed] = run_flow(engine, ContactUpdatesFlow(books_clients.books), retry_base=0).results
    assert failed.status == "failed" and "gstin" in (failed.error_message or "")
    execute(engine, "UPDATE users SET gstin = :g WHERE id = :id", g=GSTIN_MH, id=users["Asha"])
    [fixed] = run_flow(engine, ContactUpdatesFlow(books_clients.books), retry_base=0).results
    assert (fixed.status, fixed.operation) == ("synced", "update")


def test_a_name_another_contact_holds_gets_the_email_added(
        engine: sa.Engine, books_sandbox, books_clients) -> None:
    users = _first_invoices(engine, books_clients)
    execute(engine, "UPDATE users SET full_name = 'Bala Rao' WHERE id = :id", id=users["Asha"])
    [renamed] = run_flow(engine, ContactUpdatesFlow(books_clients.books), retry_base=0).results
    assert renamed.status == "synced"
    names = sorted(c["contact_name"] for c in books_sandbox.records("books_contacts"))
    assert names == ["Bala Rao", "Bala Rao (asha@example.in)", "Chitra Rao"]


def test_an_edit_made_while_the_invoice_creates_the_contact_is_not_lost(
        engine: sa.Engine, books_sandbox, books_clients, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The invoice flow read the user, then the user changed their phone before the contact
    was linked (no contact id yet, so the edit queued nothing): the link queues the contact,
    and since it holds the older data, its check sends the edit."""
    buyer = user(engine, "asha@example.in", "Asha Rao")
    order(engine, "KN-1", buyer, product(engine, "NEEM-1L"))
    catalog = BooksCatalog(books_clients.books)
    create = catalog.customer

    def customer_edited_meanwhile(*args, **kwargs):
        execute(engine, "UPDATE users SET phone = '+91 99000 22222' WHERE id = :id", id=buyer)
        return create(*args, **kwargs)

    monkeypatch.setattr(catalog, "customer", customer_edited_meanwhile)
    run_flow(engine, ItemsFlow(books_clients.books, catalog), retry_base=0)
    [invoice] = run_flow(engine, InvoicesFlow(books_clients.books, catalog),
                         retry_base=0).results
    # in Books (and due once more: its user changed while it was being made)
    assert invoice.operation.endswith("payment:create") and invoice.status == "pending"
    [contact] = books_sandbox.records("books_contacts")
    assert contact["phone"] == "+919845012345"  # created from what the flow had read
    [check] = run_flow(engine, ContactUpdatesFlow(books_clients.books), retry_base=0).results
    assert (check.status, check.operation) == ("synced", "read+update")
    [contact] = books_sandbox.records("books_contacts")
    assert contact["phone"] == "+919900022222"
