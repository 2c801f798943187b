"""Tell the admins, once, about records that failed for good (dead after five attempts).

The queue row's ``alerted_at`` makes it once: rows are taken ``FOR UPDATE SKIP LOCKED`` and
marked in the same transaction that sends the mail, so two sensors never both alert, and a
mail that could not be sent is tried again on the next tick.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import smtplib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Protocol

import sqlalchemy as sa

from kn_zoho.storefront import db
from kn_zoho.storefront import records as queue_records
from kn_zoho.sync.links import partition_url, record_url

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DeadRecord:
    entity: str
    record_key: str
    attempts: int
    error_code: str | None
    error_message: str | None
    label: str = ""  # email / number / name the admin knows the record by


class Mailer(Protocol):
    def send(self, message: EmailMessage) -> None: ...


@dataclass(frozen=True)
class SmtpMailer:
    """SMTP with STARTTLS; credentials from the environment only."""

    host: str
    port: int = 587
    username: str | None = None
    password: str | None = None
    starttls: bool = True

    def send(self, message: EmailMessage) -> None:
        with smtplib.SMTP(self.host, self.port, timeout=30) as smtp:
            if self.starttls:
                smtp.starttls()
            if self.username:
                smtp.login(self.username, self.password or "")
            smtp.send_message(message)


@dataclass(frozen=True)
class OutboxMailer:
    """Writes each alert as an .eml file: the demo's and tests' stand-in for a mail server."""

    folder: Path

    def send(self, message: EmailMessage) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
        (self.folder / f"alert-{stamp}.eml").write_bytes(message.as_bytes())


@dataclass(frozen=True)
class AlertSettings:
    recipients: tuple[str, ...]
    sender: str
    mailer: Mailer

    @classmethod
    def from_env(cls) -> AlertSettings:
        """KN_ZOHO_ALERT_EMAILS (comma separated), KN_ZOHO_ALERT_FROM and KN_ZOHO_SMTP_HOST,
        _PORT, _USER, _PASSWORD; without an SMTP host alerts go to an outbox folder."""
        recipients = tuple(a.strip() for a in os.environ.get("KN_ZOHO_ALERT_EMAILS", "").split(",")
                           if a.strip()) or ("admin@localhost",)
        host = os.environ.get("KN_ZOHO_SMTP_HOST")
        mailer: Mailer = (
            SmtpMailer(host, int(os.environ.get("KN_ZOHO_SMTP_PORT", "587")),
                       os.environ.get("KN_ZOHO_SMTP_USER"),
                       os.environ.get("KN_ZOHO_SMTP_PASSWORD"))
            if host else OutboxMailer(db.data_dir() / "alert-outbox"))
        return cls(recipients, os.environ.get("KN_ZOHO_ALERT_FROM", "kn-zoho@localhost"), mailer)


def compose(records: Sequence[DeadRecord], settings: AlertSettings) -> EmailMessage:
    message = EmailMessage()
    message["Subject"] = f"[kn_zoho] {len(records)} record(s) failed to sync to Zoho for good"
    message["From"] = settings.sender
    message["To"] = ", ".join(settings.recipients)
    lines = ["These storefront records failed every automatic attempt and are dead-lettered.",
             "Fix the cause, then open the record's retry link below and click Materialize.", ""]
    for r in records:
        label = f" ({r.label})" if r.label else ""
        lines += [f"- {r.entity} {r.record_key}{label}: {r.attempts} attempts; last error "
                  f"{r.error_code}: {r.error_message}",
                  f"  why: {record_url(r.entity, r.record_key)}",
                  f"  retry: {partition_url(r.entity, r.record_key)}"]
    message.set_content("\n".join(lines))
    return message


def _with_labels(engine: sa.Engine, records: list[DeadRecord]) -> list[DeadRecord]:
    labelled = []
    for entity in sorted({r.entity for r in records}):
        rows = [r for r in records if r.entity == entity]
        found = queue_records.records_by_key(engine, entity, [r.record_key for r in rows])
        labelled += [dataclasses.replace(r, label=found[r.record_key].label)
                     if r.record_key in found else r for r in rows]
    return labelled


def send_dead_letter_alerts(engine: sa.Engine, settings: AlertSettings) -> list[DeadRecord]:
    """Send one mail for every dead record not alerted yet; return what was alerted."""
    with engine.begin() as conn:
        rows = conn.execute(sa.text(
            "SELECT entity, record_key, attempts, last_error_code, last_error_message "
            "FROM integration.zoho_sync_queue WHERE status = 'dead' AND alerted_at IS NULL "
            "ORDER BY entity, record_key FOR UPDATE SKIP LOCKED")).all()
        records = [DeadRecord(*row) for row in rows]
        if not records:
            return []
        records = _with_labels(engine, records)
        settings.mailer.send(compose(records, settings))
        conn.execute(sa.text(
            "UPDATE integration.zoho_sync_queue SET alerted_at = now() "
            "WHERE status = 'dead' AND alerted_at IS NULL AND (entity, record_key) IN "
            "(SELECT * FROM unnest(CAST(:entities AS text[]), CAST(:keys AS text[])))"),
            {"entities": [r.entity for r in records], "keys": [r.record_key for r in records]})
    log.warning("alerted admins about %d dead records", len(records))
    return records
