"""The Dagster code location: `dagster dev -w workspace.yaml` loads this module."""

from __future__ import annotations

import os

from dagster import Definitions, EnvVar, in_process_executor

from kn_zoho.defs.books.assets import (
    books_contact_partitions,
    books_contacts,
    books_credit_note_partitions,
    books_credit_notes,
    books_estimate_partitions,
    books_estimates,
    books_invoice_partitions,
    books_invoices,
    books_item_partitions,
    books_items,
)
from kn_zoho.defs.books.sensors import (
    books_contacts_sensor,
    books_credit_notes_sensor,
    books_estimates_sensor,
    books_invoices_sensor,
    books_items_sensor,
)
from kn_zoho.defs.crm.assets import (
    crm_contact_partitions,
    crm_contacts,
    crm_lead_partitions,
    crm_leads,
)
from kn_zoho.defs.crm.sensors import crm_contacts_sensor, crm_leads_sensor
from kn_zoho.defs.health import dead_letter_alerts, queue_checks
from kn_zoho.defs.resources import StorefrontDatabase, ZohoBooksResource, ZohoCrmResource
from kn_zoho.defs.retirement import retirement_job, retirement_schedule
from kn_zoho.defs.status import (
    status_job,
    status_schedule,
    sync_status,
    zoho_budget_available,
)
from kn_zoho.defs.stock import (
    books_stock_adjustments,
    stock_in_step,
    stock_pull,
    stock_sync_job,
    stock_sync_schedule,
    storefront_stock_changes,
)

retire_synced_partitions = retirement_job([
    (crm_contact_partitions, "crm_contact"), (crm_lead_partitions, "crm_lead"),
    (books_item_partitions, "books_item"), (books_invoice_partitions, "books_invoice"),
    (books_estimate_partitions, "books_estimate"),
    (books_credit_note_partitions, "books_credit_note"),
    (books_contact_partitions, "books_contact")])


def _optional(name: str) -> dict[str, EnvVar]:
    """An EnvVar only when the variable is set, so the embedded defaults apply otherwise."""
    return {name.lower(): EnvVar(name)} if os.environ.get(name) else {}


def build_resources() -> dict[str, object]:
    storefront = StorefrontDatabase(
        **{"database_url": EnvVar("KN_ZOHO_DATABASE_URL")}
        if os.environ.get("KN_ZOHO_DATABASE_URL") else {})
    zoho = {
        "storefront": storefront,
        "client_id": EnvVar("ZOHO_CLIENT_ID"),
        "client_secret": EnvVar("ZOHO_CLIENT_SECRET"),
        "refresh_token": EnvVar("ZOHO_REFRESH_TOKEN"),
        **({"accounts_url": EnvVar("ZOHO_ACCOUNTS_URL")}
           if os.environ.get("ZOHO_ACCOUNTS_URL") else {}),
    }
    return {
        "storefront": storefront,
        "zoho_crm": ZohoCrmResource(**zoho),
        "zoho_books": ZohoBooksResource(
            **zoho, organization_id=EnvVar("ZOHO_BOOKS_ORGANIZATION_ID")),
    }


def build_definitions() -> Definitions:
    """Built from the environment as it is now (the demo sets it before calling this)."""
    # Every check here is evaluated every minute by zoho_status_job (add new ones here).
    checks = [*queue_checks(crm_contacts, "crm_contact"),
              *queue_checks(crm_leads, "crm_lead"),
              *queue_checks(books_items, "books_item"),
              *queue_checks(books_invoices, "books_invoice"),
              *queue_checks(books_estimates, "books_estimate"),
              *queue_checks(books_credit_notes, "books_credit_note"),
              *queue_checks(books_contacts, "books_contact"), zoho_budget_available]
    job = status_job(checks)
    return Definitions(
        assets=[crm_contacts, crm_leads, books_items, books_invoices, books_estimates,
                books_credit_notes, books_contacts, sync_status, books_stock_adjustments,
                stock_pull],
        # stock_in_step runs with every stock_sync_job run (after the pull it judges)
        asset_checks=[*checks, stock_in_step],
        jobs=[job, retire_synced_partitions, stock_sync_job],
        schedules=[status_schedule(job), retirement_schedule(retire_synced_partitions),
                   stock_sync_schedule],
        sensors=[crm_contacts_sensor, crm_leads_sensor, books_items_sensor,
                 books_invoices_sensor, books_estimates_sensor, books_credit_notes_sensor,
                 books_contacts_sensor, dead_letter_alerts, storefront_stock_changes],
        resources=build_resources(),
        # One step per run: running it in the run's own process saves a second Python start
        # per run (tens of seconds on a busy machine), which retry timing would otherwise pay.
        executor=in_process_executor,
    )


defs = build_definitions()
