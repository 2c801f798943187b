"""`kn-zoho demo`: the whole pipeline on the embedded default, no credentials needed.

Embedded PostgreSQL + the bundled Zoho sandbox (in this process) + demo data; then each
sensor ticks and its runs execute through Dagster exactly as the daemon would launch them,
on a persistent local instance, so `dagster dev` shows their history afterwards.
"""

from __future__ import annotations

import json
import logging
import os
import shlex
import warnings
from pathlib import Path
from typing import Any

import click

from kn_zoho.cli import database_url_option
from kn_zoho.storefront import db
from kn_zoho.storefront.seed.edits import EditsSummary, apply_edits

DEMO_CALLS_PER_MINUTE = 1200
BAD_EMAIL = "bad.gstin@demo.knbio.in"
# Made after the first sync, to show each kind of edit reaching Books.
DEMO_EDITS = {"profile_edits": 6, "deactivations": 2, "rejected_quotes": 1, "expired_quotes": 1}


def _dagster_home() -> Path:
    home = Path(os.environ.get("DAGSTER_HOME") or db.data_dir() / "dagster_home")
    home.mkdir(parents=True, exist_ok=True)
    project_config = Path(__file__).resolve().parents[1] / "dagster.yaml"
    if project_config.exists() and not (home / "dagster.yaml").exists():
        (home / "dagster.yaml").write_text(project_config.read_text())
    return home


def _run_config(verbose: bool) -> dict[str, object]:
    """Dagster's own console logs at WARNING unless --verbose (DEBUG)."""
    level = "DEBUG" if verbose else "WARNING"
    logging.getLogger("dagster").setLevel(level)
    if not verbose:  # e.g. Dagster's BetaWarning on every definition load
        warnings.simplefilter("ignore")
    return {"loggers": {"console": {"config": {"log_level": level}}}}


def _run_sensors_once(defs: object, instance: object, run_config: dict[str, object]
                      ) -> list[dict[str, object]]:
    """One tick of every sensor, and its run requests executed in-process."""
    from dagster import SensorResult, build_sensor_context, materialize

    from kn_zoho.defs.queue_assets import SENSOR_TAG

    resources = defs.resources
    runs = []
    for sensor_def in defs.sensors:
        with build_sensor_context(instance=instance, resources=resources) as context:
            context.log.setLevel(run_config["loggers"]["console"]["config"]["log_level"])
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
                              run_config=run_config, raise_on_error=False)
            runs.append({"sensor": sensor_def.name, "run_id": run.run_id,
                         "success": run.success})
    return runs


@click.command("demo")
@database_url_option
@click.option("--users", default=200, show_default=True)
@click.option("--orders", default=100, show_default=True)
@click.option("--verbose", is_flag=True, help="Show Dagster's own DEBUG logs.")
def demo_command(database_url: str | None, users: int, orders: int, verbose: bool) -> None:
    """Seed the embedded storefront and sync it to the bundled Zoho sandbox through Dagster."""
    from dagster import DagsterInstance

    from kn_zoho.sandbox import credentials
    from kn_zoho.sandbox.config import SandboxConfig
    from kn_zoho.sandbox.server import start_sandbox
    from kn_zoho.storefront import queue
    from kn_zoho.storefront.migrations import upgrade
    from kn_zoho.storefront.seed import seed
    from kn_zoho.storefront.seed.refunds import seed_refunds
    from kn_zoho.zoho.auth import load_secret_key

    engine = db.create_engine(database_url)
    upgrade(engine, with_baseline=True)
    summary = seed(engine, users=users, products=20, orders=orders, inquiries=40,
                   quote_requests=10, approved_quotes=5)
    refunds = seed_refunds(engine, refunds=max(1, orders // 12),
                           cancellations=max(1, orders // 30))
    _add_bad_record(engine)
    _quotes_valid_from_today(engine)
    click.echo(f"storefront: {db.redact_url(engine.url.render_as_string(False))}")
    click.echo(f"seeded: {json.dumps(summary.__dict__ | refunds.__dict__)} + 1 user with a "
               f"bad GSTIN ({BAD_EMAIL}), to show a failure")

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
        run_config = _run_config(verbose)
        with DagsterInstance.get() as instance:
            runs = _run_sensors_once(defs, instance, run_config)
            # after the first sync: edits, and the sensors once more to carry them over
            edits = apply_edits(engine, **DEMO_EDITS)
            runs += _run_sensors_once(defs, instance, run_config)
            # the status page and the health checks, as the every-minute schedule would
            defs.resolve_job_def("zoho_status_job").execute_in_process(
                instance=instance, run_config=run_config, raise_on_error=False)
        for run in runs:
            click.echo(f"run {run['run_id']} ({run['sensor']}): "
                       f"{'success' if run['success'] else 'failed (see below)'}")
        import requests

        stats = requests.get(f"{sandbox.base_url}/__sandbox/stats", timeout=10).json()
        sandbox_records = {kind: requests.get(f"{sandbox.base_url}/__sandbox/records/{kind}",
                                              timeout=10).json()
                           for kind in ("crm_contacts", "crm_leads", "books_contacts",
                                        "books_items", "books_invoices", "books_payments",
                                        "books_estimates", "books_creditnotes")}
        held = {kind: len(records) for kind, records in sandbox_records.items()}
        held["books_refunds"] = sum(len(note.get("refunds") or [])
                                    for note in sandbox_records["books_creditnotes"])
    click.echo(f"zoho sandbox now holds: {json.dumps(held)}")
    click.echo(f"zoho API calls: {stats['requests_total']}, token refreshes: "
               f"{stats['token_refreshes']}")
    click.echo(f"queue: {json.dumps(queue.status_counts(engine))}")
    followed = edits_followed(engine, sandbox_records)
    click.echo(f"edits after the first sync: {json.dumps(followed)}")
    _print_summary(engine, held, stats, runs, os.environ["DAGSTER_HOME"], edits, followed)


def edits_followed(engine: object, records: dict[str, list[dict[str, Any]]]
                   ) -> dict[str, int]:
    """What Books shows of the edits: contacts updated (sync log), items inactive, estimates
    declined or expired (as the sandbox holds them)."""
    import sqlalchemy as sa

    with engine.connect() as conn:
        updated = conn.execute(sa.text(
            "SELECT count(DISTINCT record_key) FROM integration.zoho_sync_logs "
            "WHERE entity = 'books_contact' AND status = 'success' "
            "AND operation LIKE '%update%'")).scalar()
    estimates = [e["status"] for e in records["books_estimates"]]
    return {"books_contacts_updated": int(updated or 0),
            "books_items_inactive": sum(i["status"] == "inactive"
                                        for i in records["books_items"]),
            "books_estimates_declined": estimates.count("declined"),
            "books_estimates_expired": estimates.count("expired")}


def _quotes_valid_from_today(engine: object) -> None:
    """The seed's calendar is fixed, so its approved quotes' validity has long passed; the
    demo's are valid for 30 days from today, so a rejection shows as a declined estimate."""
    import sqlalchemy as sa

    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE b2b_quotes SET valid_until = current_date + 30 "
                             "WHERE status = 'approved' AND valid_until < current_date"))


def _add_bad_record(engine: object) -> None:
    """One user whose GSTIN fails validation: the demo then shows what a failure looks like."""
    import sqlalchemy as sa

    with engine.begin() as conn:
        conn.execute(sa.text(
            "INSERT INTO users (email, full_name, customer_type, gstin, billing_state) "
            "VALUES (:email, 'Demo Bad GSTIN', 'b2b', '29AAAAA0000A1Z0', 'KA') "
            "ON CONFLICT (email) DO NOTHING"), {"email": BAD_EMAIL})


def _never_invoiced(engine: object) -> int:
    import sqlalchemy as sa

    with engine.connect() as conn:
        return conn.execute(sa.text("SELECT count(*) FROM integration.stock_invoices "
                                    "WHERE state = 'never'")).scalar_one()


def _print_summary(engine: object, held: dict[str, int], stats: dict[str, object],
                   runs: list[dict[str, object]], dagster_home: str, edits: EditsSummary,
                   followed: dict[str, int]) -> None:
    """What a newcomer wants to know: what Zoho got, what failed and why, where to look."""
    from kn_zoho.storefront.records import records_needing_attention
    from kn_zoho.sync.links import dagster_url, record_url

    attention = records_needing_attention(engine, limit=20)
    ok = sum(1 for r in runs if r["success"])
    lines = ["", "== demo summary ==",
             f"created in Zoho (sandbox): {held['crm_contacts']} CRM contacts, "
             f"{held['crm_leads']} CRM leads, {held['books_contacts']} Books customers, "
             f"{held['books_items']} items, {held['books_invoices']} invoices with "
             f"{held['books_payments']} payments, {held['books_estimates']} estimates, "
             f"{held['books_creditnotes']} credit notes with {held['books_refunds']} refunds "
             f"({stats['requests_total']} Zoho API calls)",
             f"never invoiced (refunded or cancelled in full before invoicing): "
             f"{_never_invoiced(engine)} orders",
             f"after the first sync: {edits.profile_edits} profile edits "
             f"({edits.gstin_changes} GSTIN, {edits.phone_changes} phone, "
             f"{edits.billing_state_changes} billing state) -> "
             f"{followed['books_contacts_updated']} Books contacts updated; "
             f"{edits.deactivations} products taken off sale -> "
             f"{followed['books_items_inactive']} items inactive; {edits.rejected_quotes} quotes "
             f"rejected, {edits.expired_quotes} expired -> {followed['books_estimates_declined']}"
             f" estimates declined, {followed['books_estimates_expired']} expired",
             f"Dagster runs: {ok} succeeded, {len(runs) - ok} failed"]
    if attention:
        lines.append(f"needs attention ({len(attention)}):")
        for r in attention:
            lines += [f"  {r.entity} {r.record_key} ({r.label}): {r.status}, "
                      f"{r.last_error_code}: {r.last_error_message}",
                      f"    {record_url(r.entity, r.record_key)}"]
    else:
        lines.append("needs attention: nothing, every record synced")
    lines += ["see it in the Dagster UI:",
              f"  DAGSTER_HOME={shlex.quote(dagster_home)} dagster dev -w workspace.yaml",
              f"  then open {dagster_url()}/assets/sync_status (latest attempts, records "
              "needing attention, counts over time)",
              f"find a record by email, phone, order number or SKU: kn-zoho find {BAD_EMAIL}"]
    click.echo("\n".join(lines))
