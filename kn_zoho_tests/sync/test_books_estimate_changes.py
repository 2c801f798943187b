"""A quote's estimate follows the quote after it was made (issue 14 item 5): rejected marks it
declined, expired lets Books expire it, an approved quote's edits update it while Books allows;
nothing is sent when nothing mapped changed, and a lost reply never marks twice."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from kn_zoho.sync.books import EstimatesFlow, ItemsFlow
from kn_zoho.sync.runner import run_flow
from kn_zoho_tests.sync.books_fixtures import *  # noqa: F403 - pytest fixtures
from kn_zoho_tests.sync.books_fixtures import losing_first_reply
from kn_zoho_tests.sync.storefront_rows import (
    execute,
    one,
    product,
    quote,
    user,
)

NUMBER = "Q-2026-0001"


def _estimate(books_sandbox) -> dict:
    [estimate] = books_sandbox.records("books_estimates")
    return estimate


def _sync(engine: sa.Engine, books_clients) -> tuple[str, str, int]:
    report = run_flow(engine, EstimatesFlow(books_clients.books), retry_base=0)
    [result] = report.results or [None]
    if result is None:
        return "-", "-", report.api_calls
    return result.status, result.operation, report.api_calls


@pytest.fixture
def approved(engine: sa.Engine, books_sandbox, books_clients) -> str:
    """An approved quote whose estimate is in Books (a draft)."""
    item = product(engine, "NEEM-1L")
    quote_id = quote(engine, NUMBER, user(engine, "asha@example.in"), item)
    status, operation, _ = _sync(engine, books_clients)
    assert (status, operation.split("+")[-1]) == ("synced", "estimate:create")
    assert _estimate(books_sandbox)["status"] == "draft"
    return quote_id


def test_a_rejected_quote_marks_its_estimate_declined(
        engine: sa.Engine, books_sandbox, books_clients, approved: str) -> None:
    execute(engine, "UPDATE b2b_quotes SET status = 'rejected' WHERE id = :q", q=approved)
    # GET, then Books declines sent estimates only: mark sent, mark declined
    assert _sync(engine, books_clients) == ("synced", "sent+declined", 3)
    assert _estimate(books_sandbox)["status"] == "declined"
    assert _sync(engine, books_clients) == ("-", "-", 0)  # nothing due


def test_an_expired_quote_lets_books_expire_its_estimate(
        engine: sa.Engine, books_sandbox, books_clients, approved: str) -> None:
    execute(engine, "UPDATE b2b_quotes SET status = 'expired' WHERE id = :q", q=approved)
    assert _sync(engine, books_clients) == ("synced", "expiry_date+sent", 3)
    estimate = _estimate(books_sandbox)
    assert estimate["status"] == "expired"
    approved_on = one(engine, "SELECT (approved_at AT TIME ZONE 'Asia/Kolkata')::date::text "
                              "FROM b2b_quotes")
    assert estimate["expiry_date"] == approved_on  # yesterday: its last valid day


def test_an_edit_of_the_approved_quote_updates_the_estimate_and_only_a_real_edit(
        engine: sa.Engine, books_sandbox, books_clients, approved: str) -> None:
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE b2b_quote_items SET quantity = 3, line_total = 354 "
                             "WHERE quote_id = :q"), {"q": approved})
        conn.execute(sa.text("UPDATE b2b_quotes SET subtotal = 354, tax_total = 54, "
                             "grand_total = 354, notes = 'Delivery by March' WHERE id = :q"),
                     {"q": approved})
    assert _sync(engine, books_clients) == ("synced", "estimate:update", 2)  # GET + PUT
    estimate = _estimate(books_sandbox)
    assert (estimate["total"], estimate["notes"], estimate["line_items"][0]["quantity"]) == (
        354.0, "Delivery by March", 3.0)
    assert len(books_sandbox.records("books_estimates")) == 1

    # a column the estimate does not carry: queued, compared, no call
    execute(engine, "UPDATE b2b_quotes SET discount_total = 1 WHERE id = :q", q=approved)
    assert _sync(engine, books_clients) == ("synced", "unchanged", 0)


def test_an_accepted_estimate_is_not_edited_and_the_failure_says_why(
        engine: sa.Engine, books_sandbox, books_clients, approved: str) -> None:
    books = books_clients.books
    estimate_id = _estimate(books_sandbox)["estimate_id"]
    books.mark_estimate(estimate_id, "sent")
    books.mark_estimate(estimate_id, "accepted")
    execute(engine, "UPDATE b2b_quotes SET notes = 'Add 2 more' WHERE id = :q", q=approved)
    report = run_flow(engine, EstimatesFlow(books), retry_base=0)
    [failed] = report.results
    assert (failed.status, failed.error_code) == ("failed", "ESTIMATE_FINAL")
    assert "is accepted" in (failed.error_message or "") and "new quote" in (
        failed.error_message or "")
    assert _estimate(books_sandbox)["notes"] == ""  # untouched
    execute(engine, "UPDATE b2b_quotes SET status = 'rejected' WHERE id = :q", q=approved)
    [refused] = run_flow(engine, EstimatesFlow(books), retry_base=0).results
    assert refused.error_code == "ESTIMATE_FINAL"
    assert _estimate(books_sandbox)["status"] == "accepted"


def test_a_quote_rejected_before_its_estimate_was_made_needs_none(
        engine: sa.Engine, books_sandbox, books_clients) -> None:
    quote_id = quote(engine, NUMBER, user(engine, "asha@example.in"), product(engine, "N-1"))
    execute(engine, "UPDATE b2b_quotes SET status = 'rejected' WHERE id = :q", q=quote_id)
    # the tax table, and one lookup by number (a lost create could have made it)
    assert _sync(engine, books_clients) == ("synced", "rejected:no-estimate", 2)
    assert books_sandbox.calls()["GET /books/v3/estimates"] == 1
    assert books_sandbox.records("books_estimates") == []


def test_a_lost_reply_to_a_mark_is_read_back_not_marked_twice(
        engine: sa.Engine, books_sandbox, books_clients, approved: str,
        monkeypatch: pytest.MonkeyPatch) -> None:
    books = books_clients.books
    monkeypatch.setattr(books, "mark_estimate", losing_first_reply(books_sandbox,
                                                                   books.mark_estimate))
    execute(engine, "UPDATE b2b_quotes SET status = 'rejected' WHERE id = :q", q=approved)
    status, operation, _ = _sync(engine, books_clients)
    assert (status, operation) == ("synced", "sent+declined")
    assert _estimate(books_sandbox)["status"] == "declined"


def test_a_quote_rejected_after_its_validity_leaves_the_estimate_expired(
        engine: sa.Engine, books_sandbox, books_clients) -> None:
    """Books does not decline an expired estimate: once sent, one past its expiry_date is
    expired, and the rejection settles there instead of failing."""
    quote_id = quote(engine, NUMBER, user(engine, "asha@example.in"), product(engine, "N-1"))
    execute(engine, "UPDATE b2b_quotes SET approved_at = now() - interval '3 days', "
                    "valid_until = current_date - 1 WHERE id = :q", q=quote_id)
    status, operation, _ = _sync(engine, books_clients)
    assert (status, operation.split("+")[-1]) == ("synced", "estimate:create")
    execute(engine, "UPDATE b2b_quotes SET status = 'rejected' WHERE id = :q", q=quote_id)
    status, operation, _ = _sync(engine, books_clients)
    assert (status, operation) == ("synced", "sent+already:expired")
    assert _estimate(books_sandbox)["status"] == "expired"


def test_an_unchanged_quote_costs_no_call_even_with_a_withdrawn_product(
        engine: sa.Engine, books_sandbox, books_clients, approved: str) -> None:
    """Comparing the estimate touches nothing in Books: a withdrawn product's inactive item
    is not marked active just to compare."""
    execute(engine, "UPDATE products SET is_active = false")
    [item] = run_flow(engine, ItemsFlow(books_clients.books), retry_base=0).results
    assert item.operation.endswith("deactivate")
    execute(engine, "UPDATE b2b_quotes SET discount_total = 1 WHERE id = :q", q=approved)
    assert _sync(engine, books_clients) == ("synced", "unchanged", 0)
    [book_item] = books_sandbox.records("books_items")
    assert book_item["status"] == "inactive"
    # the synced estimate brings its withdrawn product's item back for a check: still
    # inactive in Books, so no call
    report = run_flow(engine, ItemsFlow(books_clients.books), retry_base=0)
    assert ([r.operation for r in report.results], report.api_calls) == (["unchanged"], 0)
