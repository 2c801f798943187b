"""`kn-zoho`: the operator's command line.

Subcommands are imported only when used, so a quick call such as `kn-zoho api` does not pay
for importing Dagster.
"""

from __future__ import annotations

import importlib
import json
import sys

import click

_LAZY_SUBCOMMANDS = {
    "sandbox": "kn_zoho.sandbox.cli:sandbox_command",
    "api": "kn_zoho.zoho.cli:api_command",
    "sync": "kn_zoho.sync.cli:sync_group",
    "queue": "kn_zoho.sync.queue_cli:queue_group",
    "demo": "kn_zoho.demo:demo_command",
    "doctor": "kn_zoho.sync.doctor_cli:doctor_command",
    "find": "kn_zoho.find:find_command",
    "stock": "kn_zoho.sync.stock.cli:stock_group",
    "webhooks": "kn_zoho.webhooks.cli:webhooks_group",
}

database_url_option = click.option(
    "--database-url",
    envvar="KN_ZOHO_DATABASE_URL",
    default=None,
    help="Storefront PostgreSQL URL. Default: $KN_ZOHO_DATABASE_URL, else the embedded "
    "PostgreSQL under $KN_ZOHO_DATA_DIR (.kn_zoho).",
)


class LazyGroup(click.Group):
    """A click group whose subcommands live in modules imported on first use."""

    def __init__(self, *args: object, lazy: dict[str, str], **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self._lazy = lazy

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted([*super().list_commands(ctx), *self._lazy])

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name in self._lazy:
            module_name, attribute = self._lazy[name].split(":")
            return getattr(importlib.import_module(module_name), attribute)
        return super().get_command(ctx, name)


@click.group(cls=LazyGroup, lazy=_LAZY_SUBCOMMANDS)
def main() -> None:
    """Keep the KN Biosciences storefront and Zoho CRM/Books in step."""


@main.group()
def db() -> None:
    """Storefront database: migrations."""


@db.command("upgrade")
@database_url_option
@click.option("--with-baseline", is_flag=True,
              help="First create the storefront baseline tables (dev, test and demo only).")
def db_upgrade(database_url: str | None, with_baseline: bool) -> None:
    """Apply pending migrations in order; a no-op when all are applied."""
    from kn_zoho.storefront import db as storefront_db
    from kn_zoho.storefront.migrations import upgrade

    engine = storefront_db.create_engine(database_url)
    applied = upgrade(engine, with_baseline=with_baseline)
    where = storefront_db.redact_url(engine.url.render_as_string(hide_password=False))
    if applied:
        for name in applied:
            click.echo(f"applied {name}")
    else:
        click.echo("database is up to date")
    click.echo(f"database: {where}", err=True)


@main.command("seed")
@database_url_option
@click.option("--users", default=50, show_default=True, type=click.IntRange(min=0))
@click.option("--products", default=20, show_default=True, type=click.IntRange(min=0))
@click.option("--orders", default=100, show_default=True, type=click.IntRange(min=0))
@click.option("--paid-fraction", default=0.8, show_default=True,
              type=click.FloatRange(0.0, 1.0))
@click.option("--inquiries", default=10, show_default=True, type=click.IntRange(min=0))
@click.option("--quote-requests", default=5, show_default=True, type=click.IntRange(min=0))
@click.option("--approved-quotes", default=0, show_default=True, type=click.IntRange(min=0))
@click.option("--refunds", default=0, show_default=True, type=click.IntRange(min=0),
              help="Paid orders refunded (mostly in part; restocked or not).")
@click.option("--cancellations", default=0, show_default=True, type=click.IntRange(min=0),
              help="Paid orders cancelled (refunded in full, back on the shelf).")
@click.option("--seed", "rng_seed", default=42, show_default=True, type=int,
              help="Same seed, same rows; re-running inserts nothing new.")
@click.option("--profile-edits", default=0, show_default=True, type=click.IntRange(min=0),
              help="After seeding: users (linked to Books first) change GSTIN, phone or "
              "billing state.")
@click.option("--deactivations", default=0, show_default=True, type=click.IntRange(min=0),
              help="After seeding: products taken off sale.")
@click.option("--reactivations", default=0, show_default=True, type=click.IntRange(min=0),
              help="After seeding: products put back on sale.")
@click.option("--rejected-quotes", default=0, show_default=True, type=click.IntRange(min=0),
              help="After seeding: approved quotes rejected.")
@click.option("--expired-quotes", default=0, show_default=True, type=click.IntRange(min=0),
              help="After seeding: approved quotes expired.")
def seed_command(database_url: str | None, users: int, products: int, orders: int,
                 paid_fraction: float, inquiries: int, quote_requests: int,
                 approved_quotes: int, refunds: int, cancellations: int, rng_seed: int,
                 profile_edits: int, deactivations: int, reactivations: int,
                 rejected_quotes: int, expired_quotes: int) -> None:
    """Fill the storefront with realistic, deterministic demo data (and, with the refund and
    edit options, refunds and edits after it, as after a first sync)."""
    from dataclasses import asdict

    from kn_zoho.storefront import db as storefront_db
    from kn_zoho.storefront.seed import seed
    from kn_zoho.storefront.seed.edits import apply_edits

    engine = storefront_db.create_engine(database_url)
    summary = seed(engine, users=users, products=products, orders=orders,
                   paid_fraction=paid_fraction, inquiries=inquiries,
                   quote_requests=quote_requests, approved_quotes=approved_quotes,
                   seed=rng_seed)
    result = asdict(summary)
    if refunds or cancellations:
        from kn_zoho.storefront.seed.refunds import seed_refunds

        result.update(asdict(seed_refunds(engine, refunds=refunds, cancellations=cancellations,
                                          seed=rng_seed)))
    counts = {"profile_edits": profile_edits, "deactivations": deactivations,
              "reactivations": reactivations, "rejected_quotes": rejected_quotes,
              "expired_quotes": expired_quotes}
    if any(counts.values()):
        result["edits"] = asdict(apply_edits(engine, seed=rng_seed, **counts))
    click.echo(json.dumps(result, default=str))


if __name__ == "__main__":
    sys.exit(main())
