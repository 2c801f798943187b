"""One stock cycle: push, then pull (what the CLI and the Dagster schedule run)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from kn_zoho.sync.books.common import books_api_calls
from kn_zoho.sync.stock.location import books_location_id
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
    """Push the storefront's non-sale changes, then pull Books' stock (the organization's,
    or the KN_ZOHO_BOOKS_LOCATION_ID location's: checked here, before any call)."""
    location_id = books_location_id()
    before = books_api_calls(books)
    pushed = push(engine, books, location_id)
    pulled = pull(engine, books, location_id)
    return StockCycleReport(pushed, pulled, books_api_calls(books) - before)
