"""Wire flows to clients and summarise runs: shared by the CLI, Dagster and tests."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from kn_zoho.mapping.crm import CrmFieldConfig
from kn_zoho.storefront import queue
from kn_zoho.sync.books import BooksCatalog, EstimatesFlow, InvoicesFlow, ItemsFlow
from kn_zoho.sync.crm import ContactsFlow, LeadsFlow
from kn_zoho.sync.errors import SetupError
from kn_zoho.sync.runner import Flow, SyncReport, run_flow
from kn_zoho.zoho.factory import ZohoClients


def crm_flows(clients: ZohoClients) -> list[Flow]:
    fields = CrmFieldConfig.from_env()
    return [ContactsFlow(clients.crm, fields), LeadsFlow(clients.crm, fields=fields)]


def books_flows(clients: ZohoClients) -> list[Flow]:
    """Items first, so invoices and estimates find them; one catalog (taxes, customers,
    items already in Books) serves all three, so the run lists each at most once."""
    catalog = BooksCatalog(clients.books)
    return [ItemsFlow(clients.books, catalog), InvoicesFlow(clients.books, catalog),
            EstimatesFlow(clients.books, catalog)]


class FlowsStopped(RuntimeError):
    """Some flows did not run because the Zoho org is not set up for them; ``reports`` holds
    what the other flows did."""

    def __init__(self, errors: Sequence[SetupError], reports: list[SyncReport]) -> None:
        super().__init__("; ".join(map(str, errors)))
        self.errors = list(errors)
        self.reports = reports


def run_flows(engine: sa.Engine, flows: Sequence[Flow], **kwargs: Any) -> list[SyncReport]:
    """Run each flow; a flow stopped by its setup check does not stop the others (its report
    is empty), and the call then raises FlowsStopped after all of them ran."""
    reports: list[SyncReport] = []
    stopped: list[SetupError] = []
    for flow in flows:
        calls_before = flow.api_calls()
        try:
            reports.append(run_flow(engine, flow, **kwargs))
        except SetupError as error:
            stopped.append(error)  # an empty report, so summaries still count its queue
            reports.append(SyncReport(flow.entity, api_calls=flow.api_calls() - calls_before))
    if stopped:
        raise FlowsStopped(stopped, reports)
    return reports


def summary(engine: sa.Engine, reports: Sequence[SyncReport]) -> dict[str, Any]:
    """Counts for this run plus what the queue still holds for the same entities.

    ``synced``/``failed``/``dead``/``retrying`` count records attempted in this run;
    ``pending`` is every record still waiting (new, or a retry not yet due).
    """
    waiting = {"pending": 0, "in_progress": 0, "failed": 0, "dead": 0}
    for report in reports:
        counts = queue.status_counts(engine, report.entity)
        for status in waiting:
            waiting[status] += counts[status]
    return {
        "synced": sum(r.count("synced") for r in reports),
        "failed": sum(r.count("failed") for r in reports),
        "dead": sum(r.count("dead") for r in reports),
        "retrying": sum(r.count("pending") for r in reports),
        "pending": waiting["pending"] + waiting["in_progress"],
        "api_calls": sum(r.api_calls for r in reports),
        "queue_failed": waiting["failed"],
        "queue_dead": waiting["dead"],
        "by_entity": {r.entity: {"synced": r.count("synced"), "failed": r.count("failed"),
                                 "dead": r.count("dead"), "retrying": r.count("pending")}
                      for r in reports},
    }
