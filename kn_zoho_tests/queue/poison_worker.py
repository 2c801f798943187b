"""A worker process for the tests: syncs crm_contact records with a stand-in flow that kills
its own process (SIGKILL, as the kernel's OOM killer would) when it meets the poison record.

    python -m kn_zoho_tests.queue.poison_worker DATABASE_URL POISON_KEY
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Sequence
from datetime import timedelta

import sqlalchemy as sa

from kn_zoho.storefront import db
from kn_zoho.storefront.claims import Claim
from kn_zoho.storefront.outcomes import Outcome
from kn_zoho.sync.heartbeat import LeaseSettings
from kn_zoho.sync.runner import run_flow

LEASE = LeaseSettings(lease=timedelta(seconds=1), heartbeat=timedelta(seconds=0.3))


class PoisonedFlow:
    """The whole claimed batch in one attempt, like the CRM flows."""

    entity = "crm_contact"

    def __init__(self, poison: str) -> None:
        self.poison = poison

    def attempt(self, engine: sa.Engine, claims: Sequence[Claim], *, force: bool
                ) -> dict[str, Outcome]:
        if any(c.record_key == self.poison for c in claims):
            os.kill(os.getpid(), signal.SIGKILL)
        return {c.record_key: Outcome.success("upsert", f"z-{c.record_key}") for c in claims}

    def write_back(self, conn: sa.Connection, done: Sequence[tuple[Claim, Outcome]]) -> None:
        pass

    def api_calls(self) -> int:
        return 0


if __name__ == "__main__":
    engine = db.create_engine(sys.argv[1])
    run_flow(engine, PoisonedFlow(sys.argv[2]), lease=LEASE, retry_base=0)
