"""`kn-zoho queue`: see who holds which records, and release the leases of a run that is gone."""

from __future__ import annotations

import click

from kn_zoho.cli import database_url_option
from kn_zoho.storefront import db

STATUSES = ("pending", "in_progress", "synced", "failed", "dead")
ENTITIES = ("crm_contact", "crm_lead", "books_item", "books_invoice", "books_estimate",
            "books_contact")


def _age(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    seconds = max(0.0, seconds)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds / size:.1f}{unit}"
    return f"{seconds:.0f}s"


@click.group("queue")
def queue_group() -> None:
    """The sync queue as an operator sees it: held, failed and dead records."""


@queue_group.command("list")
@database_url_option
@click.option("--entity", type=click.Choice(ENTITIES), default=None, help="Only this entity.")
@click.option("--status", "statuses", type=click.Choice(STATUSES), multiple=True,
              help="Only these statuses (repeatable). Default: in_progress, failed, dead.")
@click.option("--limit", default=200, show_default=True, type=click.IntRange(min=1))
def queue_list(database_url: str | None, entity: str | None, statuses: tuple[str, ...],
               limit: int) -> None:
    """Records held by a run (with the holder, how long it has held them and whether its
    lease is live), failed and dead records (with their last error)."""
    from kn_zoho.storefront import leases

    engine = db.create_engine(database_url)
    try:
        rows = leases.entries(engine, entity=entity,
                              statuses=statuses or ("in_progress", "failed", "dead"),
                              limit=limit)
    finally:
        engine.dispose()
    if not rows:
        click.echo("nothing held, failed or dead")
        return
    click.echo(f"{'entity':<15} {'record':<38} {'status':<11} {'tries':>5} "
               f"{'held':>6} {'lease':>7}  holder / last error")
    for row in rows:
        if row.status == "in_progress":
            left = row.lease_left_seconds or 0.0
            lease = _age(left) if left >= 0 else "expired"
            detail = f"{row.holder_kind or '?'} run {row.holder}"
        else:
            lease, detail = "-", row.last_error or ""
        click.echo(f"{row.entity:<15} {row.record_key:<38} {row.status:<11} {row.attempts:>5} "
                   f"{_age(row.held_seconds):>6} {lease:>7}  {detail}")


@queue_group.command("release")
@database_url_option
@click.argument("run_id")
@click.option("--force", is_flag=True,
              help="Release even though the run renewed its lease recently (it looks alive). "
              "Only when you know it is gone: a live run would sync the records twice.")
def queue_release(database_url: str | None, run_id: str, force: bool) -> None:
    """Make the records RUN_ID holds due again now (a run that is gone)."""
    from kn_zoho.storefront import leases

    engine = db.create_engine(database_url)
    try:
        released = leases.release_run(engine, run_id, force=force)
    except leases.LeaseHeldError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        engine.dispose()
    click.echo(f"released {released} records held by run {run_id}")
