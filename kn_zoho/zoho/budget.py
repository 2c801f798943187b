"""Zoho's daily allowance per organization, shared by every process, spent by priority.

Books allows each organization a number of calls a day by plan (Free 1,000, Standard 2,000,
Professional 5,000, Premium, Elite and Ultimate 10,000: Zoho's help page
https://www.zoho.com/ke/books/kb/automation/per-day-api-limit.md; Zoho raises it on request),
refusing the rest with HTTP 429 and code 45 (code as clients of the live API report it, see
kn_zoho/sandbox/books/common.py). CRM allows API credits per 24-hour window by edition, most
calls costing 1 credit (https://www.zoho.com/crm/developer/docs/api/v4/api-limits.html, the
same table for v8); that an insert, update or upsert costs 1 credit per 10 records and that
replies carry ``X-API-CREDITS-REMAINING`` once half is used comes from shared/ZOHO_FACTS.md:
the header only ever raises our count. Books documents no header telling what is left (the
sandbox's ``X-Rate-Limit-*`` headers are not Zoho's documented contract), so the Books count
is ours, corrected by code 45 alone.

Priorities stop at different marks so a backlog never starves stock: stock may use the whole
allowance, sales (invoices with their payments, and whatever an invoice creates on the way)
all but the stock reserve, and the catalog (estimates, items) stops a further share earlier.
Zoho does not document when Books' day starts, so a window starts with our first call; when
Zoho says "spent" earlier than our count, the budget is spent until our reset or, at most,
``probe_seconds`` (then one call probes whether Zoho's day has turned).

This module holds the rules: products, priorities, what a call costs, the allowances and
reserves (:class:`BudgetSettings`) and the error a spent budget raises. The ledger that counts
the calls is :mod:`kn_zoho.zoho.budget_ledger`; what it says now (pauses, figures for plots) is
:mod:`kn_zoho.zoho.budget_status`.
"""

from __future__ import annotations

import enum
import functools
import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, ParamSpec, Protocol, TypeVar

from kn_zoho.env import env_number
from kn_zoho.zoho.errors import ZohoRateLimitError

BOOKS = "books"
CRM = "crm"
CRM_ACCOUNT = "crm"  # one CRM organization per token: its ledger row's account
IST = timezone(timedelta(hours=5, minutes=30), "IST")  # the storefront's time zone, no DST
BOOKS_PLANS = {"free": 1_000, "standard": 2_000, "professional": 5_000, "premium": 10_000,
               "elite": 10_000, "ultimate": 10_000}
DEFAULT_BOOKS_PLAN = "professional"  # Books workflow webhooks (used here) need Professional
DEFAULT_CRM_CREDITS = 50_000  # Standard edition's base, before per-user credits
DAY_SECONDS = 86_400.0


class Priority(enum.Enum):
    """Who a call is for; the later, the earlier it stops when the budget runs low."""

    STOCK = "stock"
    SALES = "sales"      # invoices and payments (the default)
    CATALOG = "catalog"  # estimates and items


# Credit notes and refunds are money like invoices; contact updates only tidy Books' contact
# (every new invoice already carries the user's current GSTIN and place), so they wait with
# the catalog.
PRIORITY_OF_ENTITY = {"books_invoice": Priority.SALES, "books_credit_note": Priority.SALES,
                      "books_estimate": Priority.CATALOG, "books_item": Priority.CATALOG,
                      "books_contact": Priority.CATALOG, "crm_contact": Priority.SALES,
                      "crm_lead": Priority.SALES}

P = ParamSpec("P")
R = TypeVar("R")
_priority: ContextVar[Priority] = ContextVar("kn_zoho_budget_priority", default=Priority.SALES)


@contextmanager
def spending(priority: Priority) -> Iterator[None]:
    """Calls made inside count at ``priority`` (an invoice's customer and items included)."""
    token = _priority.set(priority)
    try:
        yield
    finally:
        _priority.reset(token)


def at_priority(priority: Priority) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Decorator: every call the function makes counts at ``priority``."""
    def wrap(function: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(function)
        def inner(*args: P.args, **kwargs: P.kwargs) -> R:
            with spending(priority):
                return function(*args, **kwargs)
        inner.budget_priority = priority  # type: ignore[attr-defined]  # visible to tests
        return inner
    return wrap


def current_priority() -> Priority:
    return _priority.get()


def product_of(entity: str) -> str | None:
    """The Zoho product a queue entity is synced to, None for an unknown entity."""
    return BOOKS if entity.startswith("books_") else CRM if entity.startswith("crm_") else None


def call_cost(product: str, method: str, body: Any) -> int:
    """What a call costs of the daily allowance: one Books call; in CRM one credit, and one
    per 10 records for an insert, update or upsert (see the module docstring)."""
    if product != CRM or method not in ("POST", "PUT") or not isinstance(body, dict):
        return 1
    records = body.get("data")
    return max(1, math.ceil(len(records) / 10)) if isinstance(records, list) else 1


@dataclass(frozen=True)
class BudgetSettings:
    """Allowances and reserves, from the environment (see :meth:`from_env`)."""

    books_daily_calls: int = BOOKS_PLANS[DEFAULT_BOOKS_PLAN]
    crm_daily_credits: int = DEFAULT_CRM_CREDITS
    window_seconds: float = DAY_SECONDS
    stock_reserve: float = 0.10   # share of the Books allowance only stock may use
    sales_reserve: float = 0.30   # further share the catalog leaves to sales and stock
    probe_seconds: float = 3600.0  # after Zoho said spent early: wait at most this long
    block: int = 10               # calls (of the call's cost) reserved per statement ...
    max_block: int = 100          # ... doubling up to this within a burst of calls

    @classmethod
    def from_env(cls) -> BudgetSettings:
        """``KN_ZOHO_BOOKS_PLAN`` (free, standard, professional, premium; default
        professional) or ``KN_ZOHO_BOOKS_DAILY_CALLS``; ``KN_ZOHO_CRM_DAILY_CREDITS``;
        ``KN_ZOHO_BUDGET_STOCK_RESERVE`` / ``KN_ZOHO_BUDGET_SALES_RESERVE`` (fractions);
        ``KN_ZOHO_BUDGET_WINDOW_SECONDS`` (tests shorten the day) and
        ``KN_ZOHO_BUDGET_PROBE_SECONDS`` (default min(3600, window / 24))."""
        import os

        plan = os.environ.get("KN_ZOHO_BOOKS_PLAN", DEFAULT_BOOKS_PLAN).strip().lower()
        if plan not in BOOKS_PLANS:
            raise ValueError(f"KN_ZOHO_BOOKS_PLAN must be one of {', '.join(BOOKS_PLANS)}, "
                             f"got {plan!r}")
        window = env_number("KN_ZOHO_BUDGET_WINDOW_SECONDS", DAY_SECONDS, positive=True)
        settings = cls(
            books_daily_calls=int(env_number("KN_ZOHO_BOOKS_DAILY_CALLS", BOOKS_PLANS[plan],
                                             integer=True, positive=True)),
            crm_daily_credits=int(env_number("KN_ZOHO_CRM_DAILY_CREDITS", DEFAULT_CRM_CREDITS,
                                             integer=True, positive=True)),
            window_seconds=window,
            stock_reserve=env_number("KN_ZOHO_BUDGET_STOCK_RESERVE", 0.10),
            sales_reserve=env_number("KN_ZOHO_BUDGET_SALES_RESERVE", 0.30),
            probe_seconds=env_number("KN_ZOHO_BUDGET_PROBE_SECONDS", min(3600.0, window / 24),
                                     positive=True),
        )
        if settings.stock_reserve + settings.sales_reserve >= 1:
            raise ValueError("KN_ZOHO_BUDGET_STOCK_RESERVE + KN_ZOHO_BUDGET_SALES_RESERVE must "
                             f"be below 1, got {settings.stock_reserve + settings.sales_reserve}")
        return settings

    def allowance(self, product: str) -> int:
        return self.books_daily_calls if product == BOOKS else self.crm_daily_credits

    def limit(self, product: str, allowance: int, priority: Priority) -> int:
        """How far ``used`` may go for calls of ``priority`` (CRM has no stock to reserve
        for: every CRM call may use the whole allowance)."""
        if product == CRM or priority is Priority.STOCK:
            return allowance
        if priority is Priority.SALES:
            return math.floor(allowance * (1 - self.stock_reserve))
        return math.floor(allowance * (1 - self.stock_reserve - self.sales_reserve))


def resumes_at_text(moment: datetime) -> str:
    """``HH:MM IST (HH:MM UTC)``: the admins work in IST, Dagster shows UTC."""
    return (f"{moment.astimezone(IST):%H:%M} IST ({moment.astimezone(UTC):%H:%M} UTC, "
            f"{moment.astimezone(UTC):%Y-%m-%d})")


def spent_message(product: str, resets_at: datetime) -> str:
    what = "Books budget" if product == BOOKS else "CRM credit budget"
    return f"daily {what} spent, resumes at {resumes_at_text(resets_at)}"


class ZohoBudgetSpent(ZohoRateLimitError):
    """Our ledger says the day's allowance (at this call's priority) is spent: nothing was sent.
    Not the record's fault: the runner gives the attempt back and waits for ``resets_at``."""

    def __init__(self, product: str, resets_at: datetime) -> None:
        super().__init__(spent_message(product, resets_at), daily=True, code="BUDGET")
        self.product = product
        self.resets_at = resets_at


class CallBudget(Protocol):
    def take(self, product: str, account: str, cost: int) -> None:
        """Count ``cost`` calls (credits) at the current priority, or raise ZohoBudgetSpent."""
        ...

    def refused(self, product: str, account: str) -> None:
        """Zoho said the allowance is spent (Books code 45)."""
        ...

    def observe_remaining(self, product: str, account: str, remaining: int) -> None:
        """Zoho told what is left (CRM's X-API-CREDITS-REMAINING)."""
        ...

    def close(self) -> None: ...
