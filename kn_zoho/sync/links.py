"""Deep links into the Dagster UI: a record's state and its partition page on its asset.

The base URL is ``KN_ZOHO_DAGSTER_URL`` (default the local ``dagster dev`` address), so the
CLI, the alert email and the status tables all point at the deployment the admins open.
"""

from __future__ import annotations

import os
from urllib.parse import quote

DAGSTER_URL_ENV = "KN_ZOHO_DAGSTER_URL"
DEFAULT_DAGSTER_URL = "http://127.0.0.1:3000"

# queue entity -> the Dagster asset whose partitions are its records
ASSET_OF_ENTITY = {
    "crm_contact": "crm_contacts",
    "crm_lead": "crm_leads",
    "books_item": "books_items",
    "books_invoice": "books_invoices",
    "books_estimate": "books_estimates",
    "books_credit_note": "books_credit_notes",
    "books_contact": "books_contacts",
}


def dagster_url() -> str:
    return (os.environ.get(DAGSTER_URL_ENV) or DEFAULT_DAGSTER_URL).rstrip("/")


def _asset_url(entity: str, record_key: str, view: str) -> str:
    asset = ASSET_OF_ENTITY.get(entity, entity)
    return (f"{dagster_url()}/assets/{quote(asset, safe='')}?view={view}"
            f"&partition={quote(record_key, safe='')}")


def record_url(entity: str, record_key: str) -> str:
    """The record's latest event on its asset's Events tab: its state (synced, retrying,
    failed on bad data, dead), the error and what to do, with all their metadata."""
    return _asset_url(entity, record_key, "events")


def partition_url(entity: str, record_key: str) -> str:
    """The record's partition page: its status colour and the Materialize button (retry)."""
    return _asset_url(entity, record_key, "partitions")
