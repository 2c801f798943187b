"""`kn-zoho sandbox`: run the local Zoho in the foreground."""

from __future__ import annotations

from pathlib import Path

import click

from kn_zoho.sandbox.config import SandboxConfig
from kn_zoho.sandbox.server import serve


@click.command("sandbox")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on; keep it local, the credentials are public.")
@click.option("--port", default=8765, show_default=True, type=int)
@click.option("--rate-limit-per-minute", default=100, show_default=True, type=int,
              help="Books calls allowed per minute (HTTP 429, code 44 beyond).")
@click.option("--minute-seconds", default=60.0, show_default=True, type=float,
              help="Length of a 'minute' for the rate limit; shorten it for demos.")
@click.option("--token-ttl-seconds", default=3600.0, show_default=True, type=float,
              help="Lifetime of an access token.")
@click.option("--crm-credits", default=50_000, show_default=True, type=int,
              help="CRM API credits per rolling day (HTTP 429 beyond); 0 = unlimited.")
@click.option("--seed", default=0, show_default=True, type=int,
              help="Seed for ids, tokens and fault draws.")
@click.option("--state-file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Keep records in this JSON file across restarts.")
def sandbox_command(host: str, port: int, rate_limit_per_minute: int, minute_seconds: float,
                    token_ttl_seconds: float, crm_credits: int, seed: int,
                    state_file: Path | None) -> None:
    """Run a local Zoho (accounts, CRM v8, Books v3) and print the ZOHO_* exports for it."""
    serve(SandboxConfig(rate_limit_per_minute=rate_limit_per_minute,
                        minute_seconds=minute_seconds, token_ttl_seconds=token_ttl_seconds,
                        crm_credits=crm_credits or None, seed=seed, state_file=state_file),
          host=host, port=port)
