"""Each record's state on its own partition in the Dagster UI.

A synced record gets an AssetMaterialization (green). A record that did not sync gets an
AssetObservation on its partition saying which of the three states it is in and what happens
next: retrying (attempt n of 5, next attempt time, last error), failed on bad data (the field
and what to fix) or dead (alerted; fix and Materialize). The UI's partition page shows the
latest observation's metadata next to the latest materialization, so the reason is one click
from the partition list. Descriptions carry the record's email / number / name, so the record
can be recognised (and found with the browser's search) on the asset's event lists.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from dagster import (
    AssetExecutionContext,
    AssetMaterialization,
    AssetObservation,
    Failure,
    MetadataValue,
)

from kn_zoho.storefront import records
from kn_zoho.storefront.claim_sql import MAX_ATTEMPTS
from kn_zoho.storefront.outcomes import BUDGET_ERROR
from kn_zoho.sync.links import partition_url, record_url
from kn_zoho.sync.reports import RecordResult, SyncReport

_FIELD = re.compile(r"field '([^']+)'|\(field ([^)]+)\)")
STATE_OF_STATUS = {"synced": "synced", "pending": "retrying", "failed": "failed on bad data",
                   "dead": "dead"}


def _when(moment: datetime | None) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC") if moment else ""


def _field(message: str | None) -> str:
    match = _FIELD.search(message or "")
    return (match.group(1) or match.group(2)) if match else ""


def _state_text(result: RecordResult, row: records.QueueRecord | None) -> tuple[str, str]:
    """(one-line summary, what the admin should do) for a record that did not sync."""
    error = f"{result.error_code}: {result.error_message}"
    if result.status == "pending" and result.error_code == BUDGET_ERROR:
        return (f"waiting, no attempt counted: {result.error_message}",
                "nothing: it is taken again when the budget resets")
    if result.status == "pending":
        next_at = _when(row.next_attempt_at) if row else "after its backoff"
        return (f"retrying: attempt {result.attempt} of {MAX_ATTEMPTS} failed ({error}); "
                f"next attempt at {next_at}",
                "nothing: the queue retries it automatically")
    if result.status == "dead":
        return (f"dead after {result.attempt} attempts: {error}",
                "fix the cause, then click Materialize on this partition (admins were emailed)")
    field = _field(result.error_message)
    what = f"the field '{field}' of this record" if field else "this record"
    return (f"failed on bad data: {error}",
            f"fix {what} in the storefront: the edit queues it again (or click Materialize "
            "on this partition after fixing it)")


def record_events(context: AssetExecutionContext, report: SyncReport, engine: sa.Engine
                  ) -> Iterator[AssetMaterialization | AssetObservation]:
    """One event per attempted record: a materialization if it synced, else an observation
    with its state. From the asset body: ``yield from record_events(context, report, engine)``.
    """
    engine_rows = records.records_by_key(engine, report.entity,
                                         [r.record_key for r in report.results])
    for result in report.results:
        if result.status == "leased":  # another run holds it: that run records its state
            continue
        row = engine_rows.get(result.record_key)
        label = f" ({row.label})" if row and row.label else ""
        if result.status == "synced":
            yield AssetMaterialization(
                asset_key=context.asset_key, partition=result.record_key,
                description=f"{result.entity} {result.record_key}{label}: synced "
                f"({result.operation})",
                metadata={"zoho_id": result.zoho_id or "", "operation": result.operation,
                          "attempt": result.attempt, "record": row.label if row else "",
                          **(result.metadata or {})})
            continue
        summary, todo = _state_text(result, row)
        metadata: dict[str, object] = {
            "state": STATE_OF_STATUS.get(result.status, result.status),
            "attempt": result.attempt, "max_attempts": MAX_ATTEMPTS,
            "error_code": result.error_code or "", "error": result.error_message or "",
            "what_to_do": todo, "record": row.label if row else "",
            "retry_here": MetadataValue.url(partition_url(result.entity, result.record_key)),
        }
        if result.status == "pending" and row:
            metadata["next_attempt_at"] = _when(row.next_attempt_at)
        if result.status == "failed":
            metadata["field"] = _field(result.error_message)
        yield AssetObservation(asset_key=context.asset_key, partition=result.record_key,
                               description=f"{result.entity} {result.record_key}{label}: "
                               f"{summary}", metadata=metadata)


def failure_table(failures: Sequence[RecordResult]) -> str:
    rows = ["| record | state | attempt | error |", "|---|---|---|---|"]
    for f in failures:
        message = (f.error_message or "").replace("|", "\\|").replace("\n", " ")
        rows.append(f"| [{f.record_key}]({record_url(f.entity, f.record_key)}) | "
                    f"{STATE_OF_STATUS.get(f.status, f.status)} | {f.attempt} | "
                    f"{f.error_code}: {message} |")
    return "\n".join(rows)


def raise_if_failed(report: SyncReport) -> None:
    """Fail the step if a record failed for good (bad data or dead), so exactly those
    partitions show red. Records merely waiting for a retry do not fail the run: their
    partitions carry a 'retrying' observation and the sensor brings them back on time."""
    final = [r for r in report.failures if r.status in ("failed", "dead")]
    if not final:
        return
    raise Failure(
        description=f"{len(final)} of {len(report.results)} {report.entity} records "
        "did not sync: " + ", ".join(f"{f.record_key} ({STATE_OF_STATUS[f.status]}: "
                                     f"{f.error_message})" for f in final[:20]),
        metadata={
            "failed_records": MetadataValue.md(failure_table(report.failures)),
            "synced": report.count("synced"),
            "failed": report.count("failed"),
            "dead": report.count("dead"),
            "retry_scheduled": report.count("pending"),
            "api_calls": report.api_calls,
        },
        allow_retries=False,  # per-record retries come from the queue's backoff
    )


def raise_if_not_taken(engine: sa.Engine, report: SyncReport, keys: Sequence[str]) -> None:
    """A manual retry, re-execution or step retry that could not take some of its records
    fails and says who holds them, instead of going green having done nothing."""
    attempted = {r.record_key for r in report.results if r.status != "leased"}
    leased = {r.record_key: r.error_message for r in report.results if r.status == "leased"}
    missing = [k for k in keys if k not in attempted]
    if not missing:
        return
    found = {h.record_key: h for h in records.holders(engine, report.entity, missing)}
    reasons = []
    for key in missing[:20]:
        holder = found.get(key)
        if key in leased:  # the runner checked the holder: still running, or unknown
            reasons.append(f"{key}: {leased[key]}")
        elif holder is None:
            reasons.append(f"{key}: not in the sync queue")
        elif holder.status == "in_progress":
            reasons.append(f"{key}: held by run {holder.claimed_by} until "
                           f"{_when(holder.claimed_until)} (lease)")
        else:
            reasons.append(f"{key}: {holder.status}")
    raise Failure(
        description=f"{len(missing)} of {len(keys)} {report.entity} records could not be "
        "taken by this run: " + "; ".join(reasons),
        metadata={"not_taken": len(missing), "attempted": len(attempted)},
        allow_retries=False)
