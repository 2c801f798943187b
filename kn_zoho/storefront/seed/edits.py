"""Edits after the first sync, as shoppers and admins make them (``kn-zoho seed --profile-edits
N --deactivations N --reactivations N --rejected-quotes N --expired-quotes N``).

Run after a seed (and usually after a first sync): users already linked to a Books contact
change their GSTIN (a move to another state: new GSTIN, billing and shipping state), their
phone, or their billing state; products are taken off sale or put back; approved quotes are
rejected or expire. Targets are picked deterministically: records in natural-key order (linked
users first, since only their edits reach Books), one RNG seeded with ``seed`` for the new
values, so the same database state and seed give the same edits. Each edit is an ordinary
UPDATE: the storefront triggers enqueue the Zoho work exactly as for a real edit.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from kn_zoho.mapping.states import BY_CODE
from kn_zoho.storefront.seed.identity import make_gstin, random_mobile, random_pan

# States a customer moves to (GST registrations there), cycled through.
MOVE_TO = ("MH", "TN", "TS", "GJ", "DL", "KA")


@dataclass(frozen=True)
class EditsSummary:
    """What was changed, by kind (fewer than asked when the storefront has fewer records)."""

    gstin_changes: int = 0
    phone_changes: int = 0
    billing_state_changes: int = 0
    deactivations: int = 0
    reactivations: int = 0
    rejected_quotes: int = 0
    expired_quotes: int = 0

    @property
    def profile_edits(self) -> int:
        return self.gstin_changes + self.phone_changes + self.billing_state_changes


def apply_edits(engine: sa.Engine, *, profile_edits: int = 0, deactivations: int = 0,
                reactivations: int = 0, rejected_quotes: int = 0, expired_quotes: int = 0,
                seed: int = 42) -> EditsSummary:
    """Make the edits in one transaction; returns how many of each were made."""
    rng = random.Random(seed)
    with engine.begin() as conn:
        kinds = _profile_edits(conn, rng, profile_edits)
        reactivated = _set_active(conn, reactivations, active=True)
        deactivated = _set_active(conn, deactivations, active=False)
        rejected = _end_quotes(conn, rejected_quotes, "rejected")
        expired = _end_quotes(conn, expired_quotes, "expired")
    return EditsSummary(gstin_changes=kinds.count("gstin"), phone_changes=kinds.count("phone"),
                        billing_state_changes=kinds.count("billing_state"),
                        deactivations=deactivated, reactivations=reactivated,
                        rejected_quotes=rejected, expired_quotes=expired)


def _profile_edits(conn: sa.Connection, rng: random.Random, count: int) -> list[str]:
    """GSTIN moves for registered businesses, else phone and billing state in turn."""
    users = conn.execute(sa.text(
        "SELECT id, email, full_name, gstin, billing_state FROM public.users "
        "ORDER BY zoho_books_id IS NULL, email LIMIT :n"), {"n": count}).mappings().all()
    kinds = []
    for index, user in enumerate(users):
        changes: dict[str, Any]
        if user["gstin"]:
            state = BY_CODE[MOVE_TO[index % len(MOVE_TO)]]
            if state.code == user["billing_state"]:
                state = BY_CODE[MOVE_TO[(index + 1) % len(MOVE_TO)]]
            gstin = make_gstin(state.gst_number, random_pan(rng, "C", user["full_name"] or ""))
            changes, kind = {"gstin": gstin, "billing_state": state.code,
                             "shipping_state": state.code}, "gstin"
        elif index % 2 == 0:
            changes, kind = {"phone": random_mobile(rng)}, "phone"
        else:
            options = [code for code in MOVE_TO if code != user["billing_state"]]
            changes, kind = {"billing_state": rng.choice(options)}, "billing_state"
        assignments = ", ".join(f"{column} = :{column}" for column in changes)
        conn.execute(sa.text(f"UPDATE public.users SET {assignments}, "  # noqa: S608
                             "updated_at = now() WHERE id = :id"), {**changes, "id": user["id"]})
        kinds.append(kind)
    return kinds


def _set_active(conn: sa.Connection, count: int, *, active: bool) -> int:
    return len(conn.execute(sa.text(
        "UPDATE public.products SET is_active = :active, updated_at = now() WHERE id IN ("
        " SELECT id FROM public.products WHERE is_active = :was ORDER BY sku LIMIT :n) "
        "RETURNING id"), {"active": active, "was": not active, "n": count}).all())


def _end_quotes(conn: sa.Connection, count: int, status: str) -> int:
    """Approved quotes, oldest number first, become rejected or expired (an expired quote's
    validity ends yesterday at the latest)."""
    validity = ", valid_until = least(valid_until, current_date - 1)" if status == "expired" \
        else ""
    return len(conn.execute(sa.text(
        f"UPDATE public.b2b_quotes SET status = :status{validity}, "  # noqa: S608
        "updated_at = now() WHERE id IN (SELECT id FROM public.b2b_quotes "
        "WHERE status = 'approved' ORDER BY quote_number LIMIT :n) RETURNING id"),
        {"status": status, "n": count}).all())
