"""How the runner calls a flow's optional parts: its batch read, its call-less records, its
attempt (a bug in the flow becomes failed records, not a failed run), and the writes some
flows keep across attempts (the invoice flow's stock lock)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from contextlib import AbstractContextManager, nullcontext

import sqlalchemy as sa

from kn_zoho.storefront.claims import Claim
from kn_zoho.storefront.outcomes import Outcome
from kn_zoho.sync.reports import Flow, is_infrastructure_error
from kn_zoho.zoho.redaction import redact

log = logging.getLogger("kn_zoho.sync.runner")


def settle(flow: Flow) -> None:
    """Before outcomes are recorded: what the flow keeps across attempts is written and let
    go (the invoice flow's 'sent' rows and the stock lock), so the record follows it."""
    hook = getattr(flow, "settle", None)
    if hook is not None:
        hook()


def recorded(flow: Flow) -> None:
    """After the recording committed: what the flow's write-back wrote is stored, so the
    flow may forget it (a recording rolled back and tried again writes it again)."""
    hook = getattr(flow, "recorded", None)
    if hook is not None:
        hook()


def grouped(flow: Flow) -> AbstractContextManager[object]:
    """The pass, for a flow that keeps writes across attempts until :func:`settle`: it
    lets them go when the pass ends, however it ends (never leaving the stock lock held)."""
    hook = getattr(flow, "grouped", None)
    return hook() if hook is not None else nullcontext()


def prepare(engine: sa.Engine, flow: Flow, claims: Sequence[Claim]) -> None:
    """The flow's read of the whole batch, if it has one. Should it fail (a bug), the flow
    reads each record when attempting it, so the failure shows on the records, not here."""
    hook = getattr(flow, "prepare", None)
    if hook is None or not claims:
        return
    try:
        hook(engine, claims)
    except Exception as exc:
        if is_infrastructure_error(exc):
            raise
        log.exception("%s flow could not read its batch of %d", flow.entity, len(claims))


def callless(flow: Flow, claims: Sequence[Claim], per_attempt: int, *, force: bool
             ) -> set[str]:
    """The keys the flow says need no Zoho call (only where it attempts records alone)."""
    hook = getattr(flow, "callless", None)
    if hook is None or per_attempt >= len(claims):
        return set()
    try:
        return set(hook(claims, force=force))
    except Exception as exc:
        if is_infrastructure_error(exc):
            raise
        log.exception("%s flow could not sort its batch of %d", flow.entity, len(claims))
        return set()


def attempt(engine: sa.Engine, flow: Flow, claims: Sequence[Claim], *, force: bool
            ) -> dict[str, Outcome]:
    """The flow's outcomes; a bug in the flow becomes a logged transient failure per record,
    so the batch is recorded, retried and, if it keeps failing, dead-lettered and alerted.
    A lost database connection is not a bug in the flow: it ends the run."""
    try:
        outcomes = flow.attempt(engine, claims, force=force)
    except Exception as exc:
        if is_infrastructure_error(exc):
            raise
        log.exception("%s flow failed on a batch of %d", flow.entity, len(claims))
        message = redact(f"{type(exc).__name__}: {exc}")
        return {c.record_key: Outcome.failure("attempt", "INTERNAL_ERROR", message,
                                              transient=True) for c in claims}
    missing = [c.record_key for c in claims if c.record_key not in outcomes]
    for key in missing:
        outcomes[key] = Outcome.failure("attempt", "INTERNAL_ERROR",
                                        "flow returned no outcome for this record",
                                        transient=True)
    return outcomes
