"""Numbers read from the environment, checked once, with an error that names the variable."""

from __future__ import annotations

import os


def env_number(name: str, default: float, *, integer: bool = False,
               positive: bool = False) -> float:
    """``name`` as a number (``default`` when unset or blank); never negative, and not zero
    either when ``positive``. A bad value raises ValueError naming the variable."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    kind = "a whole number" if integer else "a number"
    try:
        value = int(raw) if integer else float(raw)
    except ValueError:
        raise ValueError(f"{name} must be {kind}, got {raw!r}") from None
    if value < 0 or (positive and value == 0):
        raise ValueError(f"{name} must be {'positive' if positive else 'zero or more'}, "
                         f"got {raw!r}")
    return value
