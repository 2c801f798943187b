"""`kn-zoho sync crm|books`: one pass of a flow, in-process, with the code Dagster runs."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import click
import sqlalchemy as sa

from kn_zoho.cli import database_url_option
from kn_zoho.storefront import db
from kn_zoho.sync.reports import Flow
from kn_zoho.zoho.config import ZohoConfig
from kn_zoho.zoho.factory import ZohoClients, build_zoho_clients


@contextmanager
def _clients(database_url: str | None) -> Iterator[tuple[sa.Engine, ZohoClients]]:
    engine = db.create_engine(database_url)
    clients = build_zoho_clients(engine, ZohoConfig.from_env(),
                                 embedded_default=db.uses_embedded(database_url))
    try:
        yield engine, clients
    finally:
        clients.close()
        engine.dispose()


def _run(database_url: str | None, flows: Callable[[ZohoClients], list[Flow]]) -> None:
    """One pass; the last line is the JSON summary. A lost database connection ends the run
    with one error line, the summary of what was done, and exit status 1; so does a flow
    stopped by its setup check (the other flows still run)."""
    from kn_zoho.sync.reports import InfrastructureError
    from kn_zoho.sync.service import FlowsStopped, run_flows, summary

    with _clients(database_url) as (engine, clients):
        error: InfrastructureError | None = None
        stopped: FlowsStopped | None = None
        try:
            reports = run_flows(engine, flows(clients))
        except InfrastructureError as exc:
            error, reports = exc, exc.reports
        except FlowsStopped as exc:
            stopped, reports = exc, exc.reports
        for report in reports:
            for failure in report.failures:
                click.echo(f"{failure.status:>8} {failure.entity} {failure.record_key}: "
                           f"{failure.error_message}", err=True)
        result = summary(engine, reports)
        for holder, count in (result.get("leased_by") or {}).items():
            click.echo(f"  leased {count} records held by {holder}: not retried until that "
                       "run finishes or its lease runs out (`kn-zoho queue list`)", err=True)
        if error is not None:
            result["error"] = str(error)
            click.echo(f"error: {error}; the records it was working on are due again (their "
                       "attempts not counted): run again when the database is back", err=True)
        if stopped is not None:
            for reason in stopped.errors:
                click.echo(f"error: {reason}", err=True)
        click.echo(json.dumps(result))
        if error is not None or stopped is not None:
            raise SystemExit(1)


@click.group("sync")
def sync_group() -> None:
    """Sync due storefront records to Zoho once (what the Dagster assets run)."""


@sync_group.command("crm")
@database_url_option
def sync_crm(database_url: str | None) -> None:
    """Users -> CRM Contacts; inquiries and quote requests -> CRM Leads."""
    from kn_zoho.sync.service import crm_flows

    _run(database_url, crm_flows)


@sync_group.command("books")
@database_url_option
def sync_books(database_url: str | None) -> None:
    """Products -> Books items; paid orders -> invoices + payments; approved quotes ->
    estimates; refunds -> credit notes + refunds."""
    from kn_zoho.sync.service import books_flows

    _run(database_url, books_flows)


@sync_group.command("stock")
@database_url_option
def sync_stock(database_url: str | None) -> None:
    """One stock cycle: storefront changes -> one Books adjustment, then Books stock ->
    storefront (snapshot + pending). Last line: one JSON object."""
    from kn_zoho.sync.stock.cycle import run_stock_cycle

    with _clients(database_url) as (engine, clients):
        report = run_stock_cycle(engine, clients.books)
        if report.push.error:
            click.echo(f"push: {report.push.error}", err=True)
        for level in report.pull.levels:
            if level.out_of_step:
                click.echo(f"out of step {level.sku}: storefront {level.storefront}, Books "
                           f"{level.books}, pending {level.pending} ({level.reason})", err=True)
        click.echo(json.dumps(report.summary()))
