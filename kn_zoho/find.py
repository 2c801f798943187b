"""`kn-zoho find TEXT`: a record by what an admin knows (email, phone, order or quote number,
SKU, name), with its queue state, last error and a link to its partition in the Dagster UI."""

from __future__ import annotations

import sys

import click

from kn_zoho.cli import database_url_option


@click.command("find")
@database_url_option
@click.argument("text")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(min=1))
def find_command(database_url: str | None, text: str, limit: int) -> None:
    """Find sync records whose email, phone, name, order/quote number, SKU or key contains
    TEXT. Links use $KN_ZOHO_DAGSTER_URL (default http://127.0.0.1:3000)."""
    from kn_zoho.storefront import db
    from kn_zoho.storefront.records import find_records
    from kn_zoho.sync.links import partition_url, record_url

    engine = db.create_engine(database_url)
    found = find_records(engine, text, limit=limit)
    if not found:
        click.echo(f"no sync record matches {text!r}", err=True)
        sys.exit(1)
    for r in found:
        state = "retrying" if r.status == "pending" and r.attempts else r.status
        click.echo(f"{r.entity} {r.record_key}  [{state}, attempts {r.attempts}]  {r.label}")
        if r.status == "pending" and r.attempts:
            click.echo(f"  next attempt at {r.next_attempt_at:%Y-%m-%d %H:%M:%S %Z}")
        if r.last_error_code or r.last_error_message:
            click.echo(f"  last error: {r.last_error_code}: {r.last_error_message}")
        if r.zoho_id:
            click.echo(f"  zoho id: {r.zoho_id}")
        click.echo(f"  state and error: {record_url(r.entity, r.record_key)}")
        click.echo(f"  retry (Materialize): {partition_url(r.entity, r.record_key)}")
