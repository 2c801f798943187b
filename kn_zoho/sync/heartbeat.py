"""Leases that fit the work: short, and renewed by a background thread while the run lives.

A run's records are leased for ``KN_ZOHO_LEASE_SECONDS`` (default 60) and the lease is
renewed every ``KN_ZOHO_HEARTBEAT_SECONDS`` (default 20) for as long as the process runs. A
killed run stops renewing, so its records are taken again within one lease; a slow batch
never loses its records to another run while its process is alive.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import timedelta
from types import TracebackType

import sqlalchemy as sa

from kn_zoho.env import env_number
from kn_zoho.storefront import leases

log = logging.getLogger(__name__)

LEASE_ENV = "KN_ZOHO_LEASE_SECONDS"
HEARTBEAT_ENV = "KN_ZOHO_HEARTBEAT_SECONDS"


@dataclass(frozen=True)
class LeaseSettings:
    """How long a lease lasts and how often a live run renews it."""

    lease: timedelta = timedelta(seconds=60)
    heartbeat: timedelta = timedelta(seconds=20)

    def __post_init__(self) -> None:
        if self.heartbeat >= self.lease:
            raise ValueError(
                f"the heartbeat ({self.heartbeat.total_seconds():g} s, {HEARTBEAT_ENV}) must "
                f"be shorter than the lease ({self.lease.total_seconds():g} s, {LEASE_ENV})")

    @classmethod
    def from_env(cls) -> LeaseSettings:
        """``KN_ZOHO_LEASE_SECONDS`` and ``KN_ZOHO_HEARTBEAT_SECONDS`` (default: a third of
        the lease)."""
        lease = env_number(LEASE_ENV, 60.0, positive=True)
        return cls(timedelta(seconds=lease),
                   timedelta(seconds=env_number(HEARTBEAT_ENV, lease / 3, positive=True)))


class Heartbeat:
    """Renews ``worker``'s leases every ``settings.heartbeat`` until stopped (a context
    manager). A failed renewal (database blip) is logged and tried again on the next beat."""

    def __init__(self, engine: sa.Engine, worker: str, settings: LeaseSettings) -> None:
        self.engine = engine
        self.worker = worker
        self.settings = settings
        self.failures = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"heartbeat-{worker}",
                                        daemon=True)

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stop.wait(self.settings.heartbeat.total_seconds()):
            try:
                leases.renew(self.engine, self.worker, self.settings.lease)
                self.failures = 0
            except sa.exc.SQLAlchemyError as exc:
                # a blip is retried on the next beat; only a lease at risk is worth a warning
                self.failures += 1
                at_risk = self.failures * self.settings.heartbeat >= self.settings.lease / 2
                log.log(logging.WARNING if at_risk else logging.INFO,
                        "could not renew the leases of run %s (%d times): %s", self.worker,
                        self.failures, type(exc).__name__)
