"""Dead-lettered records alert the admins exactly once."""

from __future__ import annotations

import email
import email.policy
from email.message import EmailMessage
from pathlib import Path

import pytest
import sqlalchemy as sa

from kn_zoho.storefront import queue
from kn_zoho.storefront.claim_sql import MAX_ATTEMPTS
from kn_zoho.storefront.outcomes import Outcome
from kn_zoho.sync.alerts import AlertSettings, OutboxMailer, send_dead_letter_alerts


def _kill_one_user(engine: sa.Engine) -> str:
    with engine.begin() as conn:
        user_id = str(conn.execute(sa.text(
            "INSERT INTO users (email) VALUES ('dead@example.in') RETURNING id")).scalar())
    for _ in range(MAX_ATTEMPTS):
        [claim] = queue.claim(engine, "crm_contact", worker="w")
        with engine.begin() as conn:
            queue.finish(conn, claim, Outcome.failure("upsert", "500", "Zoho is down",
                                                      transient=True),
                         worker="w", retry_base_seconds=0)
    return user_id


def test_dead_record_alerts_once(engine: sa.Engine, tmp_path: Path,
                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KN_ZOHO_DAGSTER_URL", "https://dagster.knbio.in/")
    user_id = _kill_one_user(engine)
    settings = AlertSettings(("ops@knbio.in",), "kn-zoho@knbio.in", OutboxMailer(tmp_path))
    alerted = send_dead_letter_alerts(engine, settings)
    assert [(r.record_key, r.attempts) for r in alerted] == [(user_id, 5)]
    [mail] = list(tmp_path.glob("*.eml"))
    body = mail.read_text()
    assert user_id in body and "Zoho is down" in body and "ops@knbio.in" in body
    text = email.message_from_bytes(mail.read_bytes(), policy=email.policy.default
                                    ).get_content()
    base = "https://dagster.knbio.in/assets/crm_contacts"
    assert f"why: {base}?view=events&partition={user_id}" in text
    assert f"retry: {base}?view=partitions&partition={user_id}" in text
    assert "dead@example.in" in text  # the email the admin knows the user by
    assert send_dead_letter_alerts(engine, settings) == []
    assert len(list(tmp_path.glob("*.eml"))) == 1


def test_mail_failure_leaves_the_alert_for_next_time(engine: sa.Engine, tmp_path: Path) -> None:
    _kill_one_user(engine)

    class Down:
        def send(self, message: EmailMessage) -> None:
            raise OSError("smtp unreachable")

    with pytest.raises(OSError, match="smtp unreachable"):
        send_dead_letter_alerts(engine, AlertSettings(("a@b.in",), "x@b.in", Down()))
    assert len(send_dead_letter_alerts(
        engine, AlertSettings(("a@b.in",), "x@b.in", OutboxMailer(tmp_path)))) == 1
