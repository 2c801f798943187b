"""The call ledger in Postgres, ``integration.zoho_call_budgets``, shared by every process.

One row per product and account, with the window's reset time and the calls used. A process
reserves calls in blocks (one statement per block, none per call): ten calls at first,
doubling up to a hundred while the calls keep coming (a run of 1,254 Books calls makes 16
reservations, not 126), so a process that makes a few calls holds few; it gives back what it
did not use when it closes. What it counts against (allowances, priority
marks, the probe after Zoho says "spent" early) is :mod:`kn_zoho.zoho.budget`; what the ledger
says now (pauses, figures) is read by :mod:`kn_zoho.zoho.budget_status`.
"""

from __future__ import annotations

import atexit
import logging
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa

from kn_zoho.storefront import db
from kn_zoho.zoho.budget import BudgetSettings, Priority, ZohoBudgetSpent, current_priority

log = logging.getLogger(__name__)

# A reservation within this long of the previous one continues a burst: its block doubles.
BURST_SECONDS = 60.0


@dataclass
class _Block:
    """Calls reserved in one statement: slots ``next`` .. ``end`` of the window ending at
    ``resets_at`` (slot n brings ``used`` to n)."""

    resets_at: datetime
    allowance: int
    next: int
    end: int
    size: int            # the block asked for (the next one in a burst asks for twice it)
    reserved_at: float   # time.monotonic() of the reservation

    @property
    def left(self) -> int:
        return self.end - self.next + 1


# One statement reserves a block: it locks the row, rolls an expired window over, gives back
# the unused calls of this process's previous block of the same window, counts what Zoho
# reported used, and takes up to ``block`` calls below ``limit`` (near the mark blocks shrink
# to a quarter of what is left, so calls another process holds unused there are few). It
# returns the count it started from and the calls granted; fewer than ``cost`` means spent.
_RESERVE = sa.text("""
WITH current AS (
    SELECT used, resets_at, resets_at <= now() AS expired
      FROM integration.zoho_call_budgets
     WHERE product = :product AND account = :account
       FOR UPDATE),
base AS (
    SELECT expired, greatest(CASE WHEN expired THEN 0
                                  WHEN resets_at = CAST(:old_resets_at AS timestamptz)
                                  THEN greatest(used - :old_left, 0)
                                  ELSE used END, :reported) AS used
      FROM current),
granted AS (
    SELECT expired, used, least(greatest(:cost, least(:block * :cost, (:limit - used) / 4)),
                                :limit - used) AS calls
      FROM base)
UPDATE integration.zoho_call_budgets AS b
   SET used = g.used + CASE WHEN g.calls >= :cost THEN g.calls ELSE 0 END,
       allowance = :allowance,
       window_started_at = CASE WHEN g.expired THEN now() ELSE b.window_started_at END,
       resets_at = CASE WHEN g.expired THEN now() + make_interval(secs => :window)
                        ELSE b.resets_at END,
       refused_at = CASE WHEN g.expired THEN NULL ELSE b.refused_at END,
       updated_at = now()
  FROM granted AS g
 WHERE b.product = :product AND b.account = :account
RETURNING g.used, g.calls, b.resets_at""")
# The row of a product and account, on their first reservation ever.
_CREATE = sa.text(
    "INSERT INTO integration.zoho_call_budgets"
    " (product, account, allowance, window_started_at, resets_at)"
    " VALUES (:product, :account, :allowance, now(), now() + make_interval(secs => :window))"
    " ON CONFLICT (product, account) DO NOTHING")
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
        size = self.settings.block
        if old is not None and time.monotonic() - old.reserved_at < BURST_SECONDS:
            size = max(size, min(self.settings.max_block, 2 * old.size))
        params = {"product": product, "account": account, "allowance": allowance,
                  "window": self.settings.window_seconds, "cost": cost,
                  "block": size,
                  "limit": self.settings.limit(product, allowance, priority),
                  "reported": self._reported_used.pop(key, 0),
                  "old_resets_at": old.resets_at if old is not None else None,
                  "old_left": old.left if old is not None else 0}
        with db.autocommit(self._engine) as conn:
            self.statements += 1
            row = conn.execute(_RESERVE, params).one_or_none()
            if row is None:  # first use: create the row, then reserve
                conn.execute(_CREATE, params)
                row = conn.execute(_RESERVE, params).one()
        if row.calls < cost:
            raise ZohoBudgetSpent(product, row.resets_at)
        self._blocks[key] = _Block(row.resets_at, allowance, row.used + cost + 1,
                                   row.used + row.calls, size, time.monotonic())

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
