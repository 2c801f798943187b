"""Everything the sandbox remembers, behind one lock.

``data`` is what a real Zoho would keep (records, number sequences, issued tokens) and is
what goes to ``state_file``; counters, faults, the fault RNG and the limiters live only in
memory. Ids come from counters and tokens from a hash of (seed, counter), so two sandboxes
with the same seed answer the same calls with the same ids.
"""

from __future__ import annotations

import json
import os
import random
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from starlette.requests import HTTPConnection

from kn_zoho.sandbox.config import SandboxConfig
from kn_zoho.sandbox.limits import CreditLedger, RequestLimiter

IST = timezone(timedelta(hours=5, minutes=30))
DATA_VERSION = 1

# admin record kind -> (service, collection) inside ``data``
RECORD_KINDS: dict[str, tuple[str, str]] = {
    "crm_contacts": ("crm", "Contacts"),
    "crm_leads": ("crm", "Leads"),
    "books_contacts": ("books", "contacts"),
    "books_items": ("books", "items"),
    "books_invoices": ("books", "invoices"),
    "books_estimates": ("books", "estimates"),
    "books_payments": ("books", "payments"),
    "books_adjustments": ("books", "adjustments"),
    "books_creditnotes": ("books", "creditnotes"),
    "books_locations": ("books", "locations"),
    "books_emails": ("books", "emails"),  # the outbox: invoices Books emailed (send=true)
}

# Zoho-looking ids: CRM's are 19 digits, Books' 15.
_ID_PREFIXES = {"crm": "5725767", "books": "46000"}
_ID_DIGITS = {"crm": 12, "books": 10}


@dataclass
class Faults:
    """Injected misbehaviour of CRM/Books calls (never of OAuth or the admin API)."""

    error_rate: float = 0.0
    write_error_rate: float = 0.0  # 500s on writes only (reads such as settings/fields work)
    lost_response_rate: float = 0.0
    latency_ms: float = 0.0
    timeout_rate: float = 0.0
    timeout_seconds: float = 30.0

    def update(self, values: dict[str, Any]) -> None:
        """Set the given fields; rates must lie in [0, 1] and durations be >= 0."""
        known = {f.name for f in fields(self)}
        for name, value in values.items():
            if name not in known:
                raise ValueError(f"unknown fault {name!r}")
            if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                raise ValueError(f"fault {name} must be a number >= 0")
            if name.endswith("_rate") and value > 1:
                raise ValueError(f"fault {name} must be between 0 and 1")
        for name, value in values.items():
            setattr(self, name, float(value))


@dataclass(frozen=True)
class FaultPlan:
    """What happens to one call, drawn before it runs."""

    latency_seconds: float = 0.0
    hang_seconds: float | None = None  # hang, then time out without doing the work
    fail: bool = False                 # answer an internal error without doing the work
    lose_response: bool = False        # do the work, then lose the reply


@dataclass
class Stats:
    """Counters the admin API reports; requests_by_endpoint keys look like 'GET /books/v3/items'."""

    requests_total: int = 0
    requests_by_endpoint: Counter[str] = field(default_factory=Counter)
    token_refreshes: int = 0
    token_refresh_denied: int = 0
    rate_limited: int = 0
    faults_injected: int = 0
    issued_access_tokens: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        result = asdict(self)
        result["requests_by_endpoint"] = dict(sorted(self.requests_by_endpoint.items()))
        return result


def _empty_data(seed: int) -> dict[str, Any]:
    first_id = seed * 1_000_000 + 1000
    return {
        "version": DATA_VERSION,
        "id_counters": {"crm": first_id, "books": first_id},
        "sequences": {"invoice": 0, "estimate": 0, "payment": 0, "adjustment": 0},
        "token_counter": 0,
        "crm": {"Contacts": {}, "Leads": {}},
        "books": {name: {} for service, name in RECORD_KINDS.values() if service == "books"},
        "access_tokens": {},  # token -> {"refresh_token", "issued_at", "expires_at"}
        "token_mints": {},    # refresh token -> times it minted an access token
    }


class SandboxState:
    """The sandbox's memory. Hold ``lock`` while reading or changing ``data``."""

    def __init__(self, config: SandboxConfig | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.config = config or SandboxConfig()
        self.clock = clock
        self.lock = threading.RLock()
        self.state_file = Path(self.config.state_file) if self.config.state_file else None
        self.reset(persist=False)
        if self.state_file and self.state_file.exists():
            self._load(self.state_file)

    def reset(self, *, persist: bool = True) -> None:
        """Forget records, tokens, counters and faults, as if freshly started."""
        with self.lock:
            config = self.config
            self.data = _empty_data(config.seed)
            self.stats = Stats()
            self.faults = Faults()
            self.fault_rng = random.Random(config.seed)
            self.crm_limiter = RequestLimiter(concurrency=config.crm_concurrency)
            self.crm_credits = None if config.crm_credits is None else CreditLedger(
                config.crm_credits, config.crm_credit_window)
            self.books_limiter = RequestLimiter(
                concurrency=config.books_concurrency,
                per_minute=config.rate_limit_per_minute, minute_seconds=config.minute_seconds,
                daily=config.daily_limit, day_seconds=config.day_seconds)
            if persist:
                self.save()

    # --- ids, numbers, time -------------------------------------------------------------

    def new_id(self, service: str) -> str:
        """A fresh record id in the style of the service ("crm" or "books")."""
        with self.lock:
            counters = self.data["id_counters"]
            counters[service] += 1
            return f"{_ID_PREFIXES[service]}{counters[service]:0{_ID_DIGITS[service]}d}"

    def next_sequence(self, name: str) -> int:
        """The next number of a document series (invoice, estimate, payment, adjustment)."""
        with self.lock:
            sequences = self.data["sequences"]  # a new kind (credit notes) starts at 0
            sequences[name] = sequences.get(name, 0) + 1
            return sequences[name]

    def now(self) -> float:
        return self.clock()

    def local_now(self) -> datetime:
        """Now in India Standard Time, the organization's time zone."""
        return datetime.fromtimestamp(self.clock(), IST)

    def crm_timestamp(self) -> str:
        """CRM's time format, e.g. 2024-05-01T10:00:00+05:30."""
        return self.local_now().isoformat(timespec="seconds")

    def books_timestamp(self) -> str:
        """Books' time format, e.g. 2024-05-01T10:00:00+0530."""
        return self.local_now().strftime("%Y-%m-%dT%H:%M:%S%z")

    def today(self) -> str:
        return self.local_now().date().isoformat()

    # --- records ------------------------------------------------------------------------

    def collection(self, service: str, name: str) -> dict[str, dict[str, Any]]:
        """The live id -> record mapping of one kind of record."""
        return self.data[service][name]

    def records(self, kind: str) -> list[dict[str, Any]]:
        """A copy of every record of an admin kind (see RECORD_KINDS), oldest first."""
        service, name = RECORD_KINDS[kind]
        with self.lock:
            return json.loads(json.dumps(list(self.collection(service, name).values())))

    # --- faults -------------------------------------------------------------------------

    def draw_faults(self, method: str = "GET") -> FaultPlan:
        """Decide, from the seeded RNG, how the next CRM/Books call misbehaves."""
        with self.lock:
            faults, rng = self.faults, self.fault_rng

            def happens(rate: float) -> bool:
                return rate > 0 and rng.random() < rate

            plan = FaultPlan(
                latency_seconds=faults.latency_ms / 1000,
                hang_seconds=faults.timeout_seconds if happens(faults.timeout_rate) else None,
                fail=happens(faults.error_rate)
                or (method != "GET" and happens(faults.write_error_rate)),
                lose_response=happens(faults.lost_response_rate),
            )
            if plan.hang_seconds is not None or plan.fail or plan.lose_response:
                self.stats.faults_injected += 1
            return plan

    # --- persistence --------------------------------------------------------------------

    def save(self) -> None:
        """Write ``data`` to state_file (atomically), if there is one."""
        if self.state_file is None:
            return
        with self.lock:
            text = json.dumps(self.data, indent=1, sort_keys=True)
            self.state_file.parent.mkdir(parents=True, exist_ok=True)
            handle, temporary = tempfile.mkstemp(dir=self.state_file.parent,
                                                 prefix=self.state_file.name, suffix=".tmp")
            with os.fdopen(handle, "w") as out:
                out.write(text)
            os.replace(temporary, self.state_file)

    def _load(self, path: Path) -> None:
        loaded = json.loads(path.read_text())
        if loaded.get("version") != DATA_VERSION:
            raise ValueError(f"{path}: not a sandbox state file of version {DATA_VERSION}")
        for service, name in RECORD_KINDS.values():  # a kind added since the file was saved
            loaded[service].setdefault(name, {})
        self.data = loaded


def sandbox_state(connection: HTTPConnection) -> SandboxState:
    """The state of the sandbox app serving this request."""
    return connection.app.state.sandbox
