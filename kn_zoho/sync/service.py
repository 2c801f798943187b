"""Wire flows to clients and summarise runs: shared by the CLI, Dagster and tests."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from kn_zoho.mapping.crm import CrmFieldConfig
from kn_zoho.storefront import leases, queue
from kn_zoho.sync.books import (
    BooksCatalog,
    ContactUpdatesFlow,
    CreditNotesFlow,
    EstimatesFlow,
    InvoicesFlow,
    ItemsFlow,
)
from kn_zoho.sync.crm import ContactsFlow, LeadsFlow
from kn_zoho.sync.errors import SetupError
from kn_zoho.sync.reports import Flow, InfrastructureError, SyncReport, is_infrastructure_error
from kn_zoho.sync.runner import run_flow
from kn_zoho.zoho.factory import ZohoClients


def crm_flows(clients: ZohoClients) -> list[Flow]:
    fields = CrmFieldConfig.from_env()
    return [ContactsFlow(clients.crm, fields), LeadsFlow(clients.crm, fields=fields)]


def books_flows(clients: ZohoClients) -> list[Flow]:
    """Items first, so invoices and estimates find them, and credit notes after the invoices
    they credit; one catalog (taxes, customers, items already in Books) serves them all, so
    the run lists each at most once. Contact updates last: the contacts the documents just
    linked are then checked in the same run (no call when created from the current data)."""
    catalog = BooksCatalog(clients.books)
    return [ItemsFlow(clients.books, catalog), InvoicesFlow(clients.books, catalog),
            EstimatesFlow(clients.books, catalog), CreditNotesFlow(clients.books, catalog),
            ContactUpdatesFlow(clients.books)]


class FlowsStopped(RuntimeError):
    """Some flows did not run because the Zoho org is not set up for them; ``reports`` holds
    what the other flows did."""

    def __init__(self, errors: Sequence[SetupError], reports: list[SyncReport]) -> None:
        super().__init__("; ".join(map(str, errors)))
        self.errors = list(errors)
        self.reports = reports


def run_flows(engine: sa.Engine, flows: Sequence[Flow], **kwargs: Any) -> list[SyncReport]:
    """Run the flows in order under one run id (a CLI run gets ``cli-<uuid>``).

    A flow stopped by its setup check does not stop the others (its report is empty); the call
    then raises :class:`FlowsStopped` after all of them ran. An :class:`InfrastructureError`
    stops the run and carries every report so far."""
    if not kwargs.get("run_id") and not kwargs.get("worker"):
        kwargs["run_id"] = f"cli-{uuid.uuid4()}"
    reports: list[SyncReport] = []
    stopped: list[SetupError] = []
    for flow in flows:
        calls_before = flow.api_calls()
        try:
            reports.append(run_flow(engine, flow, **kwargs))
        except SetupError as error:
            stopped.append(error)  # an empty report, so summaries still count its queue
            reports.append(SyncReport(flow.entity, api_calls=flow.api_calls() - calls_before))
        except InfrastructureError as exc:
            exc.reports[:0] = reports
            raise
    if stopped:
        raise FlowsStopped(stopped, reports)
    return reports


def summary(engine: sa.Engine | None, reports: Sequence[SyncReport]) -> dict[str, Any]:
    """Counts for this run plus what the queue still holds for the same entities.

    ``synced``/``failed``/``dead``/``retrying`` count records attempted in this run;
    ``pending`` is every record still waiting (new, a retry not yet due, or held by a run
    whose lease ran out); ``leased`` the records a live run holds right now, with
    ``leased_by`` naming the runs (they are not retried until that run finishes or dies).
    Without ``engine`` (or when the database cannot be read) the queue figures are left out.
    """
    result: dict[str, Any] = {
        "synced": sum(r.count("synced") for r in reports),
        "failed": sum(r.count("failed") for r in reports),
        "dead": sum(r.count("dead") for r in reports),
        "retrying": sum(r.count("pending") for r in reports),
    }
    if any(r.paused for r in reports):  # the daily Zoho budget stopped these flows
        result["paused"] = {r.entity: r.paused for r in reports if r.paused}
    if any(r.count("leased") for r in reports):
        result["refused_leased"] = sum(r.count("leased") for r in reports)
    if engine is not None:
        try:
            result |= _queue_state(engine, [r.entity for r in reports])
        except sa.exc.SQLAlchemyError as exc:
            if not is_infrastructure_error(exc):
                raise
    result["api_calls"] = sum(r.api_calls for r in reports)
    result["by_entity"] = {
        r.entity: {"synced": r.count("synced"), "failed": r.count("failed"),
                   "dead": r.count("dead"), "retrying": r.count("pending")}
        for r in reports}
    return result


def _queue_state(engine: sa.Engine, entities: Sequence[str]) -> dict[str, Any]:
    waiting = {"pending": 0, "in_progress": 0, "failed": 0, "dead": 0}
    for entity in entities:
        counts = queue.status_counts(engine, entity)
        for status in waiting:
            waiting[status] += counts[status]
    held = leases.leased_by(engine, entities)
    leased = sum(held.values())
    return {"pending": waiting["pending"] + waiting["in_progress"] - leased,
            "leased": leased, "leased_by": held,
            "queue_failed": waiting["failed"], "queue_dead": waiting["dead"]}
