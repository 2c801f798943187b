"""What the call ledger says now, read-only: each row's state (:func:`budget_states`), whether
an entity's work must wait for the budget (:func:`pause_for`, asked by the sensors, schedules and
runner before they launch or claim anything) and the figures Dagster plots
(:func:`budget_metadata`). The ledger itself is :mod:`kn_zoho.zoho.budget_ledger`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from kn_zoho.zoho.budget import (
    BOOKS,
    CRM,
    PRIORITY_OF_ENTITY,
    BudgetSettings,
    Priority,
    product_of,
    spent_message,
)


@dataclass(frozen=True)
class BudgetState:
    """One ledger row as the database sees it now."""

    product: str
    account: str
    allowance: int
    used: int
    window_started_at: datetime
    resets_at: datetime
    refused_at: datetime | None
    current: bool  # the window has not reset yet

    @property
    def used_now(self) -> int:
        return self.used if self.current else 0

    def spent_for(self, settings: BudgetSettings, priority: Priority) -> bool:
        return self.current and self.used >= settings.limit(self.product, self.allowance,
                                                           priority)


_STATES = sa.text(
    "SELECT product, account, allowance, used, window_started_at, resets_at, "
    "refused_at, resets_at > now() AS current FROM integration.zoho_call_budgets "
    "ORDER BY product, account")


def budget_states(bind: sa.Engine | sa.Connection) -> list[BudgetState]:
    """Every ledger row; given a connection, read in the caller's transaction."""
    if isinstance(bind, sa.Connection):
        rows = bind.execute(_STATES).all()
    else:
        with bind.connect() as conn:
            rows = conn.execute(_STATES).all()
    return [BudgetState(**row._asdict()) for row in rows]


@dataclass(frozen=True)
class BudgetPause:
    """Work of this priority waits until ``resets_at``; ``message`` says so for people."""

    product: str
    resets_at: datetime
    message: str


def pause_for(bind: sa.Engine | sa.Connection, entity: str,
              settings: BudgetSettings | None = None,
              priority: Priority | None = None, *, refused: bool = False
              ) -> BudgetPause | None:
    """Whether ``entity``'s work must wait for the budget (None: go ahead); given a
    connection, read in the caller's transaction.

    ``refused``: the ledger has just refused one of its calls, so its current window is spent
    for this work even when a few credits are left (a CRM write of 100 records costs 10)."""
    product = product_of(entity)
    if product is None:
        return None
    settings = settings or BudgetSettings.from_env()
    priority = priority or PRIORITY_OF_ENTITY.get(entity, Priority.SALES)
    spent = [s for s in budget_states(bind) if s.product == product
             and (s.spent_for(settings, priority) or (refused and s.current))]
    if not spent:
        return None
    resets_at = max(s.resets_at for s in spent)
    return BudgetPause(product, resets_at, spent_message(product, resets_at))


def budget_metadata(states: list[BudgetState], settings: BudgetSettings) -> dict[str, Any]:
    """Numbers per product for plots: used in the current window, allowance, remaining."""
    figures: dict[str, Any] = {}
    for product in (BOOKS, CRM):
        rows = [s for s in states if s.product == product]
        allowance = max((s.allowance for s in rows), default=settings.allowance(product))
        used = sum(s.used_now for s in rows)
        unit = "calls" if product == BOOKS else "credits"
        figures[f"zoho_{product}_{unit}_used_today"] = used
        figures[f"zoho_{product}_{unit}_allowance"] = allowance
        figures[f"zoho_{product}_{unit}_remaining"] = max(0, allowance - used)
    return figures
