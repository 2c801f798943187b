"""One stock cycle: push, then pull (what the CLI and the Dagster schedule run)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from kn_zoho.sync.books.common import books_api_calls
from kn_zoho.sync.stock.pull import PullReport, pull
from kn_zoho.sync.stock.push import PushReport, push
from kn_zoho.zoho.books import BooksClient


@dataclass
class StockCycleReport:
    push: PushReport
    pull: PullReport
    api_calls: int

    def summary(self) -> dict[str, Any]:
        """The CLI's last line: counts an admin or a script can check."""
        return {
            "pushed_skus": len(self.push.pushed_skus),
            "pulled_skus": len(self.pull.pulled_skus),
            "adjustments": self.push.adjustments,
            "api_calls": self.api_calls,
            "drift": len(self.pull.drift),
            "drift_skus": self.pull.drift[:20],
            "items": self.pull.items,
            "push_unknown": self.push.unknown,
            "push_error": self.push.error,
            "push_refused_skus": self.push.refused_skus,
        }


def run_stock_cycle(engine: sa.Engine, books: BooksClient) -> StockCycleReport:
    """Push the storefront's non-sale changes, then pull Books' stock."""
    before = books_api_calls(books)
    pushed = push(engine, books)
    pulled = pull(engine, books)
    return StockCycleReport(pushed, pulled, books_api_calls(books) - before)
