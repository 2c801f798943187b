"""Books workflow-rule webhooks, as the sandbox sends them after a Books user's change.

A Books webhook POSTs the record as JSON ("Default Payload") to a URL with the headers the
admin configured (https://zoho.com/books/kb/automation/create-webhook.html). Here one target
is configured through ``POST /__sandbox/webhooks`` (loopback URLs only: the sandbox never
reaches the internet) and the Books-user actions of the admin API (offline sale, adjustment,
credit note, void) notify it from a background thread. ``duplicate_rate`` sends a delivery
twice and ``drop_rate`` loses it, as real deliveries may.
"""

from __future__ import annotations

import random
import threading
import weakref
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import requests

from kn_zoho.sandbox.state import SandboxState

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


@dataclass
class WebhookTarget:
    url: str
    secret: str = ""
    duplicate_rate: float = 0.0
    drop_rate: float = 0.0
    rng: random.Random = field(default_factory=lambda: random.Random(0))
    delivered: int = 0


_TARGETS: weakref.WeakKeyDictionary[SandboxState, WebhookTarget] = weakref.WeakKeyDictionary()


def configure(state: SandboxState, body: dict[str, Any] | None) -> WebhookTarget | None:
    """Set (or with ``None``/no url, clear) the state's webhook target; ValueError if bad."""
    if not body or not body.get("url"):
        _TARGETS.pop(state, None)
        return None
    url = str(body["url"])
    parts = urlsplit(url)
    if parts.scheme != "http" or parts.hostname not in LOOPBACK_HOSTS:
        raise ValueError("url must be http:// on loopback (the sandbox reaches nothing else)")
    rates = {}
    for name in ("duplicate_rate", "drop_rate"):
        value = body.get(name, 0.0)
        if not isinstance(value, int | float) or isinstance(value, bool) or not 0 <= value <= 1:
            raise ValueError(f"{name} must be a number from 0 to 1")
        rates[name] = float(value)
    target = WebhookTarget(url=url, secret=str(body.get("secret") or ""),
                           rng=random.Random(state.config.seed), **rates)
    _TARGETS[state] = target
    return target


def notify(state: SandboxState, module: str, record: dict[str, Any]) -> None:
    """Deliver ``{module: record}`` to ``<url>/<module>`` (if configured), in the background."""
    target = _TARGETS.get(state)
    if target is None or target.rng.random() < target.drop_rate:
        return
    copies = 2 if target.rng.random() < target.duplicate_rate else 1
    headers = {"X-KN-Webhook-Secret": target.secret} if target.secret else {}

    def deliver() -> None:
        for _ in range(copies):
            try:
                requests.post(f"{target.url.rstrip('/')}/{module}", json={module: record},
                              headers=headers, timeout=5)
                target.delivered += 1
            except requests.RequestException:
                pass  # Books retries nothing either; polling is the guarantee

    threading.Thread(target=deliver, daemon=True).start()
