"""`kn-zoho doctor`: print the doctor's table; exit 1 on any problem."""

from __future__ import annotations

import click

from kn_zoho.cli import database_url_option


@click.command("doctor")
@database_url_option
def doctor_command(database_url: str | None) -> None:
    """Check the Zoho org's setup (token, CRM fields, Books organization, state, GST taxes)."""
    from kn_zoho.mapping.crm import CrmFieldConfig
    from kn_zoho.storefront import db
    from kn_zoho.sync.books import organization_state
    from kn_zoho.sync.doctor import format_table, run_doctor
    from kn_zoho.zoho.config import ZohoConfig
    from kn_zoho.zoho.factory import build_zoho_clients

    engine = db.create_engine(database_url)
    clients = build_zoho_clients(engine, ZohoConfig.from_env(),
                                 embedded_default=db.uses_embedded(database_url))
    try:
        checks = run_doctor(engine, clients, CrmFieldConfig.from_env(), organization_state())
    finally:
        clients.close()
        engine.dispose()
    click.echo(format_table(checks))
    problems = [check for check in checks if not check.ok]
    if problems:
        click.echo(f"{len(problems)} problem(s) found", err=True)
        raise SystemExit(1)
    click.echo("all checks passed", err=True)
