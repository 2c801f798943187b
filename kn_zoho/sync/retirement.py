"""Retire the Dagster partitions of records synced long ago.

Every storefront record is a dynamic partition of its asset, and Dagster advises at most about
100,000 partitions per asset before its UI slows down. A record that synced and has not changed
for ``retention_days`` no longer needs its partition: its history stays in
``integration.zoho_sync_logs`` (and in Dagster's event log, which reappears if the key is added
again). A later change to the record makes it due, and the asset's sensor adds its key back.
Records that are pending, retrying, failed or dead are never retired, whatever their age.

This module is plain Python over a small partition-store interface, so the Dagster job and the
tests drive the same code.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Protocol

import sqlalchemy as sa

from kn_zoho.env import env_number

RETENTION_DAYS_ENV = "KN_ZOHO_PARTITION_RETENTION_DAYS"
MAX_PARTITIONS_ENV = "KN_ZOHO_MAX_PARTITIONS_PER_ASSET"
DEFAULT_RETENTION_DAYS = 30.0
# Below Dagster's advice of about 100,000, leaving room for a day of new records.
DEFAULT_MAX_PARTITIONS = 90_000
RECHECK_CHUNK = 1000


class PartitionStore(Protocol):
    """What retirement needs of a Dagster instance."""

    def get_dynamic_partitions(self, partitions_def_name: str) -> Sequence[str]: ...

    def delete_dynamic_partition(self, partitions_def_name: str, partition_key: str) -> None: ...


@dataclass(frozen=True)
class RetirementPolicy:
    retention_days: float = DEFAULT_RETENTION_DAYS
    max_partitions: int = DEFAULT_MAX_PARTITIONS

    @classmethod
    def from_env(cls) -> RetirementPolicy:
        """``KN_ZOHO_PARTITION_RETENTION_DAYS`` and ``KN_ZOHO_MAX_PARTITIONS_PER_ASSET``."""
        return cls(retention_days=env_number(RETENTION_DAYS_ENV, DEFAULT_RETENTION_DAYS),
                   max_partitions=int(env_number(MAX_PARTITIONS_ENV, DEFAULT_MAX_PARTITIONS,
                                                 integer=True)))


@dataclass(frozen=True)
class RetirementResult:
    partitions_def_name: str
    retired: int          # partitions removed this time
    expired: int          # of which: synced and unchanged for longer than the retention
    over_cap: int         # of which: the oldest synced ones, to stay under the cap
    remaining: int        # partitions left


def keys_to_retire(engine: sa.Engine, entity: str, existing: Collection[str],
                   policy: RetirementPolicy) -> tuple[list[str], list[str]]:
    """(expired, over_cap): partition keys of synced records to remove.

    Expired: synced, unchanged for longer than the retention. Over cap: if the asset would
    still hold more than ``max_partitions``, the least recently synced of the other synced
    records, oldest first. Everything not synced stays.
    """
    with engine.connect() as conn:
        rows = conn.execute(sa.text(
            "SELECT record_key, updated_at < now() - make_interval(secs => :secs) AS expired "
            "FROM integration.zoho_sync_queue WHERE entity = :entity AND status = 'synced' "
            "ORDER BY updated_at, record_key"),
            {"entity": entity, "secs": policy.retention_days * 86400}).all()
    present = set(existing)
    synced = [row for row in rows if row.record_key in present]
    expired = [row.record_key for row in synced if row.expired]
    excess = len(present) - len(expired) - policy.max_partitions
    over_cap = [row.record_key for row in synced if not row.expired][:max(excess, 0)]
    return expired, over_cap


def retire_partitions(engine: sa.Engine, store: PartitionStore, partitions_def_name: str,
                      entity: str, policy: RetirementPolicy) -> RetirementResult:
    """Remove the partitions :func:`keys_to_retire` names, re-checking each is still synced."""
    existing = store.get_dynamic_partitions(partitions_def_name)
    expired, over_cap = keys_to_retire(engine, entity, existing, policy)
    candidates = [*expired, *over_cap]
    retired = 0
    for start in range(0, len(candidates), RECHECK_CHUNK):
        chunk = candidates[start:start + RECHECK_CHUNK]
        # A record may have changed since the listing: only a still-synced one goes.
        with engine.connect() as conn:
            still_synced = set(conn.execute(sa.text(
                "SELECT record_key FROM integration.zoho_sync_queue WHERE entity = :entity "
                "AND record_key = ANY(:keys) AND status = 'synced'"),
                {"entity": entity, "keys": chunk}).scalars())
        for key in chunk:
            if key in still_synced:
                store.delete_dynamic_partition(partitions_def_name, key)
                retired += 1
    return RetirementResult(partitions_def_name, retired, len(expired), len(over_cap),
                            len(existing) - retired)
