"""Which run a queue sensor last launched for each record (``integration.sensor_launches``).

The sensor tags each run it requests with a launch id and records the id per record here, so
its cursor stays small whatever the backlog; the next tick asks Dagster about those runs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa


@dataclass(frozen=True)
class Launch:
    record_key: str
    launch_id: str
    launched_at: datetime


def launches_for(engine: sa.Engine, entity: str, keys: Sequence[str]) -> dict[str, Launch]:
    """The last launch of each of ``keys`` that has one."""
    if not keys:
        return {}
    with engine.connect() as conn:
        rows = conn.execute(sa.text(
            "SELECT record_key, launch_id, launched_at FROM integration.sensor_launches "
            "WHERE entity = :entity AND record_key = ANY(:keys)"),
            {"entity": entity, "keys": list(keys)})
        return {r.record_key: Launch(r.record_key, r.launch_id, r.launched_at) for r in rows}


def record_launch(engine: sa.Engine, entity: str, keys: Sequence[str], launch_id: str) -> None:
    """Remember that ``keys`` were handed to the run tagged ``launch_id``."""
    if not keys:
        return
    with engine.begin() as conn:
        conn.execute(sa.text(
            "INSERT INTO integration.sensor_launches (entity, record_key, launch_id) "
            "SELECT :entity, k, :launch_id FROM unnest(CAST(:keys AS text[])) AS k "
            "ON CONFLICT (entity, record_key) DO UPDATE "
            "SET launch_id = EXCLUDED.launch_id, launched_at = now()"),
            {"entity": entity, "keys": list(keys), "launch_id": launch_id})


def forget_launches(engine: sa.Engine, launch_ids: Sequence[str]) -> None:
    """Drop the rows of runs that have ended: they hold nothing back any more."""
    if not launch_ids:
        return
    with engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM integration.sensor_launches "
                             "WHERE launch_id = ANY(:ids)"), {"ids": list(launch_ids)})
