"""The call ledger in Postgres, ``integration.zoho_call_budgets``, shared by every process.

One row per product and account, with the window's reset time and the calls used. A process
reserves calls in small blocks (one short transaction per block of ten calls, none per call) and
gives back what it did not use when it closes. What it counts against (allowances, priority
marks, the probe after Zoho says "spent" early) is :mod:`kn_zoho.zoho.budget`; what the ledger
says now (pauses, figures) is read by :mod:`kn_zoho.zoho.budget_status`.
"""

from __future__ import annotations

import atexit
import logging
import threading
from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa

from kn_zoho.zoho.budget import BudgetSettings, Priority, ZohoBudgetSpent, current_priority

log = logging.getLogger(__name__)


@dataclass
class _Block:
    """Calls reserved in one statement: slots ``next`` .. ``end`` of the window ending at
    ``resets_at`` (slot n brings ``used`` to n)."""

    resets_at: datetime
    allowance: int
    next: int
    end: int

    @property
    def left(self) -> int:
        return self.end - self.next + 1


# The row is created on first use and locked in one statement (ON CONFLICT DO UPDATE locks it).
_ENSURE_AND_LOCK = sa.text(
    "INSERT INTO integration.zoho_call_budgets AS b"
    " (product, account, allowance, window_started_at, resets_at)"
    " VALUES (:product, :account, :allowance, now(), now() + make_interval(secs => :window))"
    " ON CONFLICT (product, account) DO UPDATE SET updated_at = b.updated_at"
    " RETURNING b.used, b.resets_at, b.resets_at <= now() AS expired")
_ROLL = sa.text(
    "UPDATE integration.zoho_call_budgets SET window_started_at = now(), used = 0,"
    " resets_at = now() + make_interval(secs => :window), refused_at = NULL, updated_at = now()"
    " WHERE product = :product AND account = :account RETURNING resets_at")
_SET_USED = sa.text(
    "UPDATE integration.zoho_call_budgets SET used = :used, allowance = :allowance,"
    " updated_at = now() WHERE product = :product AND account = :account")
_GIVE_BACK = sa.text(
    "UPDATE integration.zoho_call_budgets SET used = greatest(used - :n, 0), updated_at = now()"
    " WHERE product = :product AND account = :account AND resets_at = :resets_at")
_REFUSED = sa.text(
    "INSERT INTO integration.zoho_call_budgets AS b"
    " (product, account, allowance, window_started_at, resets_at, used, refused_at)"
    " VALUES (:product, :account, :allowance, now(), now() + make_interval(secs => :probe),"
    "         :allowance, now())"
    " ON CONFLICT (product, account) DO UPDATE SET used = greatest(b.used, b.allowance),"
    "  refused_at = now(), updated_at = now(),"
    "  resets_at = CASE WHEN b.resets_at <= now() THEN now() + make_interval(secs => :probe)"
    "              ELSE least(b.resets_at, now() + make_interval(secs => :probe)) END")


class PostgresCallBudget:
    """The ledger in Postgres, shared by every process, reserved in blocks."""

    def __init__(self, engine: sa.Engine, settings: BudgetSettings | None = None) -> None:
        self._engine = engine
        self.settings = settings or BudgetSettings.from_env()
        self._lock = threading.Lock()
        self._blocks: dict[tuple[str, str], _Block] = {}
        self._reported_used: dict[tuple[str, str], int] = {}
        self.statements = 0  # reservations sent to Postgres, for tests and benchmarks
        # Dagster keeps clients for the process's life: its unused calls go back at exit
        atexit.register(self._close_quietly)

    def take(self, product: str, account: str, cost: int) -> None:
        priority = current_priority()
        key = (product, account)
        with self._lock:
            block = self._blocks.get(key)
            if (block is not None and datetime.now(UTC) < block.resets_at
                    and cost <= block.left and block.next + cost - 1 <= self.settings.limit(
                        product, block.allowance, priority)):
                block.next += cost
                return
            self._reserve(key, cost, priority)

    def _reserve(self, key: tuple[str, str], cost: int, priority: Priority) -> None:
        product, account = key
        allowance = self.settings.allowance(product)
        old = self._blocks.pop(key, None)
        params = {"product": product, "account": account, "allowance": allowance,
                  "window": self.settings.window_seconds}
        with self._engine.begin() as conn:
            self.statements += 1
            row = conn.execute(_ENSURE_AND_LOCK, params).one()
            used, resets_at = row.used, row.resets_at
            if row.expired:
                used, resets_at = 0, conn.execute(_ROLL, params).scalar_one()
            elif old is not None and old.resets_at == resets_at:
                used = max(0, used - old.left)  # the old block's unused calls go back
            used = max(used, self._reported_used.pop(key, 0))
            limit = self.settings.limit(product, allowance, priority)
            # ``block`` calls of this cost (a CRM upsert of 100 costs 10 credits); near the mark
            # blocks shrink, so calls another process holds unused there are few
            grant = min(max(cost, min(self.settings.block * cost, (limit - used) // 4)),
                        limit - used)
            if grant >= cost:
                self._blocks[key] = _Block(resets_at, allowance, used + cost + 1, used + grant)
                used += grant
            conn.execute(_SET_USED, {**params, "used": used})
        if grant < cost:
            raise ZohoBudgetSpent(product, resets_at)

    def refused(self, product: str, account: str) -> None:
        with self._lock:
            self._blocks.pop((product, account), None)
        with self._engine.begin() as conn:
            conn.execute(_REFUSED, {"product": product, "account": account,
                                    "allowance": self.settings.allowance(product),
                                    "probe": self.settings.probe_seconds})

    def observe_remaining(self, product: str, account: str, remaining: int) -> None:
        if remaining <= 0:
            self.refused(product, account)
            return
        with self._lock:  # applied with the next reservation: no statement per reply
            self._reported_used[(product, account)] = max(
                0, self.settings.allowance(product) - remaining)

    def _close_quietly(self) -> None:
        try:
            self.close()
        except sa.exc.SQLAlchemyError:  # the database went first: the window's reset heals it
            log.debug("could not give unused Zoho calls back at exit", exc_info=True)

    def close(self) -> None:
        """Give back the reserved calls this process did not make."""
        with self._lock:
            blocks, self._blocks = self._blocks, {}
        unused = [(key, b) for key, b in blocks.items() if b.left > 0]
        if not unused:
            return
        with self._engine.begin() as conn:
            for (product, account), block in unused:
                conn.execute(_GIVE_BACK, {"product": product, "account": account,
                                          "n": block.left, "resets_at": block.resets_at})
