"""`kn-zoho api METHOD PATH`: one authenticated Zoho call, for operators and debugging.

It goes through the shared token store, so it never mints a token of its own while a valid
one exists. Imports stay light (no Dagster, no pandas): it should answer in a blink.
"""

from __future__ import annotations

import json
import sys
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import click

from kn_zoho.storefront import db
from kn_zoho.zoho.config import ZohoConfig, ZohoConfigError
from kn_zoho.zoho.errors import ZohoError
from kn_zoho.zoho.factory import build_zoho_clients


@click.command("api")
@click.argument("method", type=click.Choice(["GET", "POST", "PUT", "PATCH", "DELETE"],
                                            case_sensitive=False))
@click.argument("path")
@click.option("--data", "data", default=None, help="JSON request body.")
@click.option(
    "--database-url",
    envvar=db.DATABASE_URL_ENV,
    default=None,
    help="Storefront PostgreSQL URL (holds the shared token). Default: $KN_ZOHO_DATABASE_URL, "
    "else the embedded PostgreSQL under $KN_ZOHO_DATA_DIR.",
)
def api_command(method: str, path: str, data: str | None, database_url: str | None) -> None:
    """Call Zoho: PATH like /crm/v8/Contacts or /books/v3/invoices?status=paid.

    Books calls get organization_id added. Prints the JSON reply; exits 1 on an error reply.
    """
    try:
        body = json.loads(data) if data is not None else None
    except json.JSONDecodeError as exc:
        raise click.BadParameter(f"not valid JSON: {exc}", param_hint="--data") from None
    try:
        config = ZohoConfig.from_env()
    except ZohoConfigError as exc:
        raise click.ClickException(str(exc)) from None

    parts = urlsplit(path)
    params: dict[str, Any] = dict(parse_qsl(parts.query, keep_blank_values=True))
    if parts.path.startswith("/books/"):
        params.setdefault("organization_id", config.books_organization_id)
    engine = db.create_engine(database_url)
    try:
        clients = build_zoho_clients(engine, config, embedded_default=database_url is None)
        reply = clients.http.request(
            method,
            parts.path.replace("{", "{{").replace("}", "}}"),  # a literal path, no template
            params=params,
            json=body,
        )
    except ZohoConfigError as exc:
        raise click.ClickException(str(exc)) from None
    except ZohoError as exc:
        shown = exc.reply if exc.reply else {"error": str(exc), "code": exc.code}
        click.echo(json.dumps(shown, indent=2, ensure_ascii=False, default=str))
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    finally:
        engine.dispose()
    click.echo(json.dumps(reply, indent=2, ensure_ascii=False, default=str))


if __name__ == "__main__":
    api_command()
