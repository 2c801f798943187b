"""README command 1: `kn-zoho demo` on the embedded default, in a fresh folder."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest


@pytest.mark.slow
def test_demo_syncs_everything_through_dagster_on_the_embedded_default(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("ZOHO_", "KN_ZOHO_", "DAGSTER_"))}
    env["KN_ZOHO_DATA_DIR"] = str(tmp_path / ".kn_zoho")
    kn_zoho = Path(sys.executable).with_name("kn-zoho")
    try:
        result = subprocess.run(  # noqa: S603 (our own console script)
            [str(kn_zoho), "demo", "--users", "30", "--orders", "12"],
            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600, check=False)
    finally:
        import pgserver  # the demo leaves its embedded server running for later commands

        pgserver.get_server(tmp_path / ".kn_zoho" / "pgdata", cleanup_mode="stop").cleanup()
    assert result.returncode == 0, result.stderr[-3000:]
    lines = result.stdout.splitlines()
    held = json.loads(next(line for line in lines if line.startswith("zoho sandbox now holds"))
                      .split(": ", 1)[1])
    queue = json.loads(next(line for line in lines if line.startswith("queue:"))
                       .split(": ", 1)[1])
    followed = json.loads(next(line for line in lines
                               if line.startswith("edits after the first sync"))
                          .split(": ", 1)[1])
    # the edits made after the first sync are in Books (issue 14): 6 profile edits of linked
    # customers, 2 products off sale, 1 quote rejected and 1 expired
    assert followed == {"books_contacts_updated": 6, "books_items_inactive": 2,
                        "books_estimates_declined": 1, "books_estimates_expired": 1}
    assert held["crm_contacts"] == 30  # the 31st user has a bad GSTIN on purpose
    assert held["books_invoices"] == held["books_payments"] > 0
    assert held["books_creditnotes"] == held["books_refunds"] > 0  # one refund per credit note
    assert queue["pending"] == queue["dead"] == 0
    assert queue["failed"] == 1
    failed_runs = [line for line in lines if line.startswith("run ") and "success" not in line]
    assert len(failed_runs) == 1 and "crm_contacts_sensor" in failed_runs[0]
    # the readable summary: what Zoho got, what failed and why, where to look
    summary = result.stdout.split("== demo summary ==", 1)[1]
    assert "created in Zoho (sandbox): 30 CRM contacts" in summary
    assert "needs attention (1):" in summary
    assert "credit notes with" in summary  # storefront refunds, and a paid cancellation:
    assert "cancelled in full before invoicing): 0 orders" not in summary  # never invoiced
    assert "bad.gstin@demo.knbio.in" in summary and "field 'gstin'" in summary
    assert "http://127.0.0.1:3000/assets/crm_contacts?view=events&partition=" in summary
    assert "dagster dev -w workspace.yaml" in summary and "/assets/sync_status" in summary
    # Dagster's own chatter stays at WARNING without --verbose
    assert " - DEBUG - " not in result.stdout + result.stderr
    assert " - INFO - " not in result.stdout + result.stderr
    # the runs are in Dagster's own storage, for `dagster dev` to show
    assert (tmp_path / ".kn_zoho" / "dagster_home" / "dagster.yaml").exists()
