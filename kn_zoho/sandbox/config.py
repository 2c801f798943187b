"""Knobs of the local Zoho: limits, token lifetime, seed and persistence."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class SandboxConfig:
    """How the sandbox behaves; the defaults are Zoho's documented limits.

    Time windows are knobs so tests can shrink them: ``minute_seconds`` is the length of
    Books' per-minute window (its daily window is 1440 of those), ``refresh_window_seconds``
    the accounts server's refresh-token throttle window.
    """

    rate_limit_per_minute: int = 100
    minute_seconds: float = 60.0
    token_ttl_seconds: float = 3600.0
    daily_limit: int = 10_000
    books_concurrency: int = 10
    crm_concurrency: int = 10
    # CRM API credits per rolling window (Standard edition's base, shared/ZOHO_FACTS.md;
    # None: unlimited) and the window's length (None: a day of ``minute_seconds`` minutes).
    crm_credits: int | None = 50_000
    crm_credit_window_seconds: float | None = None
    refresh_limit: int = 10
    refresh_window_seconds: float = 600.0
    max_live_tokens: int = 15
    seed: int = 0
    state_file: str | Path | None = None
    # State (Zoho Books code) the organization is registered in: decides intra- vs
    # inter-state GST. KN Biosciences is in Hyderabad, Telangana.
    organization_state: str = "KA"  # KN Biosciences is in Karnataka (Bengaluru)
    # Books' daily-limit window on its own, so a test can shorten the day without shortening
    # the minute (None: 1440 minutes).
    daily_window_seconds: float | None = None

    @property
    def crm_credit_window(self) -> float:
        """Length of CRM's rolling credit window, scaled with the minute unless set."""
        if self.crm_credit_window_seconds is not None:
            return self.crm_credit_window_seconds
        return self.minute_seconds * 1440

    @property
    def day_seconds(self) -> float:
        """Length of Books' daily-limit window, scaled with the minute unless set."""
        if self.daily_window_seconds is not None:
            return self.daily_window_seconds
        return self.minute_seconds * 1440
