"""`kn-zoho webhooks serve`: the Books webhook receiver on uvicorn (loopback by default)."""

from __future__ import annotations

import os

import click

from kn_zoho.cli import database_url_option

SECRET_ENV = "KN_ZOHO_WEBHOOK_SECRET"  # noqa: S105 - a variable name


@click.group("webhooks")
def webhooks_group() -> None:
    """Zoho Books webhooks that make the next stock pull come sooner."""


@webhooks_group.command("serve")
@database_url_option
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Listen address; put a TLS-terminating proxy in front for Zoho to reach it.")
@click.option("--port", default=8780, show_default=True, type=int)
@click.option("--debounce-seconds", default=10.0, show_default=True, type=float,
              help="At most one early pull per this many seconds.")
def serve(database_url: str | None, host: str, port: int, debounce_seconds: float) -> None:
    """Receive Books webhooks (POST /webhooks/books/{item|invoice|creditnote|
    inventoryadjustment}, header X-KN-Webhook-Secret) and pull stock early."""
    import uvicorn

    from kn_zoho.sync.cli import _clients
    from kn_zoho.sync.stock.location import books_location_id
    from kn_zoho.sync.stock.pull import pull
    from kn_zoho.webhooks.app import EarlyPull, create_webhook_app

    secret = os.environ.get(SECRET_ENV, "")
    if not secret:
        raise click.UsageError(f"set {SECRET_ENV} (the secret Books sends in the header)")
    with _clients(database_url) as (engine, clients):
        location_id = books_location_id()  # a mis-set variable stops the server at start
        early = EarlyPull(lambda: pull(engine, clients.books, location_id), debounce_seconds)
        try:
            uvicorn.run(create_webhook_app(secret, early.request), host=host, port=port,
                        log_level="info")
        finally:
            early.close()
