"""`kn-zoho demo`: the whole pipeline on the embedded default, no credentials needed.

Embedded PostgreSQL + the bundled Zoho sandbox (in this process) + demo data; then each
sensor ticks and its runs execute through Dagster exactly as the daemon would launch them,
on a persistent local instance, so `dagster dev` shows their history afterwards.
"""

from __future__ import annotations

import json
import os
import shlex
from pathlib import Path

import click

from kn_zoho.cli import database_url_option
from kn_zoho.storefront import db

DEMO_CALLS_PER_MINUTE = 1200


def _dagster_home() -> Path:
    home = Path(os.environ.get("DAGSTER_HOME") or db.data_dir() / "dagster_home")
    home.mkdir(parents=True, exist_ok=True)
    project_config = Path(__file__).resolve().parents[1] / "dagster.yaml"
    if project_config.exists() and not (home / "dagster.yaml").exists():
        (home / "dagster.yaml").write_text(project_config.read_text())
    return home


def _run_sensors_once(defs: object, instance: object) -> list[dict[str, object]]:
    """One tick of every sensor, and its run requests executed in-process."""
    from dagster import SensorResult, build_sensor_context, materialize

    from kn_zoho.defs.queue_assets import SENSOR_TAG

    resources = defs.resources
    runs = []
    for sensor_def in defs.sensors:
        with build_sensor_context(instance=instance, resources=resources) as context:
            result = sensor_def(context)
        if not isinstance(result, SensorResult):  # e.g. the dead-letter alerts: nothing to run
            continue
        for request in result.dynamic_partitions_requests or []:
            instance.add_dynamic_partitions(request.partitions_def_name, request.partition_keys)
        selected = set(sensor_def.asset_selection.resolve(defs.resolve_asset_graph()))
        assets = [a for a in defs.assets if set(a.keys) & selected]  # multi-assets have keys
        for request in result.run_requests:
            run = materialize(assets, instance=instance, resources=resources,
                              tags={**request.tags, SENSOR_TAG: sensor_def.name},
                              raise_on_error=False)
            runs.append({"sensor": sensor_def.name, "run_id": run.run_id,
                         "success": run.success})
    return runs


@click.command("demo")
@database_url_option
@click.option("--users", default=200, show_default=True)
@click.option("--orders", default=100, show_default=True)
def demo_command(database_url: str | None, users: int, orders: int) -> None:
    """Seed the embedded storefront and sync it to the bundled Zoho sandbox through Dagster."""
    from dagster import DagsterInstance

    from kn_zoho.sandbox import credentials
    from kn_zoho.sandbox.config import SandboxConfig
    from kn_zoho.sandbox.server import start_sandbox
    from kn_zoho.storefront import queue
    from kn_zoho.storefront.migrations import upgrade
    from kn_zoho.storefront.seed import seed
    from kn_zoho.zoho.auth import load_secret_key

    engine = db.create_engine(database_url)
    upgrade(engine, with_baseline=True)
    summary = seed(engine, users=users, products=20, orders=orders, inquiries=40,
                   quote_requests=10, approved_quotes=5)
    click.echo(f"storefront: {db.redact_url(engine.url.render_as_string(False))}")
    click.echo(f"seeded: {json.dumps(summary.__dict__)}")

    state_file = db.data_dir() / "sandbox-state.json"
    # The demo's own sandbox allows more calls a minute than real Zoho (100), and the client
    # is told so; a real deployment keeps the default.
    os.environ.setdefault("KN_ZOHO_BOOKS_CALLS_PER_MINUTE", str(DEMO_CALLS_PER_MINUTE))
    os.environ.setdefault("KN_ZOHO_CRM_CALLS_PER_MINUTE", str(DEMO_CALLS_PER_MINUTE))
    config = SandboxConfig(seed=1, state_file=str(state_file),
                           rate_limit_per_minute=DEMO_CALLS_PER_MINUTE)
    with start_sandbox(config) as sandbox:
        for line in credentials.export_lines(sandbox.base_url):
            name, _, value = shlex.split(line.removeprefix("export "))[0].partition("=")
            os.environ[name] = value
        if db.uses_embedded(database_url):
            os.environ.setdefault("KN_ZOHO_SECRET_KEY", load_secret_key(True).decode())
        os.environ["DAGSTER_HOME"] = str(_dagster_home())
        from kn_zoho.definitions import build_definitions

        defs = build_definitions()
        with DagsterInstance.get() as instance:
            runs = _run_sensors_once(defs, instance)
        for run in runs:
            click.echo(f"run {run['run_id']} ({run['sensor']}): "
                       f"{'success' if run['success'] else 'FAILED (see the Dagster UI)'}")
        import requests

        stats = requests.get(f"{sandbox.base_url}/__sandbox/stats", timeout=10).json()
        held = {kind: len(requests.get(f"{sandbox.base_url}/__sandbox/records/{kind}",
                                       timeout=10).json())
                for kind in ("crm_contacts", "crm_leads", "books_contacts", "books_items",
                             "books_invoices", "books_payments", "books_estimates")}
    click.echo(f"zoho sandbox now holds: {json.dumps(held)}")
    click.echo(f"zoho API calls: {stats['requests_total']}, token refreshes: "
               f"{stats['token_refreshes']}")
    click.echo(f"queue: {json.dumps(queue.status_counts(engine))}")
    click.echo(f"Dagster history in {os.environ['DAGSTER_HOME']}: open it with "
               f"`DAGSTER_HOME={os.environ['DAGSTER_HOME']} dagster dev -w workspace.yaml`")
