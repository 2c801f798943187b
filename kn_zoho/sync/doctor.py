"""`kn-zoho doctor`: is this Zoho org set up for what we send? Checked before any record is.

Each check reads only (no record is written): the token works (a refresh, then
``GET /crm/v8/users?type=CurrentUser``); every CRM field our payloads carry exists with a type
that takes our value, and the two key fields are unique (:mod:`.crm_fields`); the Books
organization id is one the token can see; the organization's state is
``KN_ZOHO_BOOKS_ORGANIZATION_STATE``; Books has the intra-state GST group and the IGST tax
for every GST rate the storefront's products use; and refunds have a bank account to be paid
from (``KN_ZOHO_BOOKS_REFUND_ACCOUNT_ID`` names an active one, or the organization has exactly
one), so the first refund does not fail on it.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal

import sqlalchemy as sa

from kn_zoho.mapping.books import tax_table_from_zoho
from kn_zoho.mapping.crm import CrmFieldConfig
from kn_zoho.mapping.states import state_for_code
from kn_zoho.sync.books.credit_notes import REFUND_ACCOUNT_ENV
from kn_zoho.sync.crm_fields import MODULES, check_fields, requirements
from kn_zoho.zoho.errors import ZohoError
from kn_zoho.zoho.factory import ZohoClients
from kn_zoho.zoho.redaction import redact


@dataclass(frozen=True)
class Check:
    """One line of the doctor's table."""

    area: str
    subject: str
    ok: bool
    detail: str


def _guarded(area: str, subject: str, check: Callable[[], list[Check]]) -> list[Check]:
    """Run one check; a Zoho or setup error becomes a failed line saying what it was."""
    try:
        return check()
    except (ZohoError, ValueError) as error:
        return [Check(area, subject, False, redact(f"{type(error).__name__}: {error}"))]


def check_token(clients: ZohoClients) -> list[Check]:
    clients.tokens.get()
    user = clients.crm.current_user()
    if not user:
        return [Check("token", "CRM current user", False, "Zoho CRM answered no current user")]
    return [Check("token", "CRM current user", True,
                  f"works for {user.get('full_name') or user.get('email')}")]


def check_crm_fields(clients: ZohoClients, config: CrmFieldConfig) -> list[Check]:
    result = []
    for module in MODULES:
        findings = check_fields(clients.crm, config, (module,))
        result += [Check("crm fields", f"{f.module}.{f.api_name}", False,
                         f.problem + (f" (set by {f.setting})" if f.setting else ""))
                   for f in findings]
        if not findings:
            custom = [r for r in requirements(config) if r.module == module and r.custom]
            names = ", ".join(f"{r.api_name}{' (unique)' if r.unique else ''}" for r in custom)
            result.append(Check("crm fields", module, True, f"all fields present; {names}"))
    return result


def check_books_organization(clients: ZohoClients, state_code: str) -> list[Check]:
    wanted = clients.books.organization_id
    seen = [str(org.get("organization_id")) for org in clients.books.list_organizations()]
    if wanted not in seen:
        return [Check("books", "organization", False,
                      f"ZOHO_BOOKS_ORGANIZATION_ID {wanted!r} is not one of this token's "
                      f"organizations ({', '.join(seen) or 'none'})")]
    org = clients.books.get_organization()
    lines = [Check("books", "organization", True, f"{wanted} ({org.get('name')})")]
    address = org.get("address") or {}
    state = state_for_code(state_code)
    actual = str(address.get("state") or "").strip()
    actual_code = str(address.get("state_code") or "").strip().upper()
    if state is None:
        lines.append(Check("books", "organization state", False,
                           f"KN_ZOHO_BOOKS_ORGANIZATION_STATE {state_code!r} is not a state code"))
    elif actual_code == state.code or actual.casefold() in {state.name.casefold(),
                                                            state.code.casefold()}:
        lines.append(Check("books", "organization state", True, f"{state.name} ({state.code})"))
    else:
        lines.append(Check("books", "organization state", False,
                           f"the organization is in {actual or 'no state'!r} but "
                           f"KN_ZOHO_BOOKS_ORGANIZATION_STATE is {state.code} ({state.name}): "
                           "intra/inter-state GST would be wrong"))
    return lines


def product_gst_rates(engine: sa.Engine) -> list[Decimal]:
    """The GST rates the storefront's products use."""
    with engine.connect() as conn:
        return [Decimal(row[0]) for row in conn.execute(sa.text(
            "SELECT DISTINCT gst_rate FROM public.products ORDER BY 1"))]


def check_taxes(clients: ZohoClients, rates: Iterable[Decimal]) -> list[Check]:
    table = tax_table_from_zoho(clients.books.list_taxes(fresh=True))
    lines = []
    for rate in rates:
        label = f"GST {rate.normalize():f}%"
        missing = [kind for kind, present in (
            ("intra-state tax group (CGST + SGST)", rate in table.intra),
            ("inter-state IGST tax", rate in table.inter)) if not present]
        lines.append(Check("books taxes", label, not missing,
                           "missing " + " and ".join(missing) + " (Settings > Taxes)" if missing
                           else "intra-state group and IGST present"))
    return lines or [Check("books taxes", "GST", True, "no products yet: nothing to check")]


def check_refund_account(clients: ZohoClients, configured: str | None) -> list[Check]:
    """The bank account credit-note refunds are paid from, as the refund flow will pick it."""
    accounts = [a for a in clients.books.list_bank_accounts() if a.get("is_active", True)]
    names = ", ".join(f"{a.get('account_name')} ({a.get('account_id')})" for a in accounts)
    if configured:
        [account] = [a for a in accounts if str(a.get("account_id")) == configured] or [None]
        if account is None:
            return [Check("books refunds", "bank account", False,
                          f"{REFUND_ACCOUNT_ENV}={configured!r} is not an active bank account "
                          f"of the organization ({names or 'none'})")]
        return [Check("books refunds", "bank account", True,
                      f"refunds paid from {account.get('account_name')} ({configured})")]
    if len(accounts) != 1:
        return [Check("books refunds", "bank account", False,
                      f"the organization has {len(accounts)} active bank accounts "
                      f"({names or 'none'}): set {REFUND_ACCOUNT_ENV} to the one gateway "
                      "refunds are paid from")]
    return [Check("books refunds", "bank account", True,
                  f"refunds paid from the only bank account, {names}")]


def run_doctor(engine: sa.Engine, clients: ZohoClients, config: CrmFieldConfig,
               organization_state: str) -> list[Check]:
    """Every check, in order; each failure is its own line."""
    return [
        *_guarded("token", "Zoho token", lambda: check_token(clients)),
        *_guarded("crm fields", "settings/fields", lambda: check_crm_fields(clients, config)),
        *_guarded("books", "organization",
                  lambda: check_books_organization(clients, organization_state)),
        *_guarded("books taxes", "settings/taxes",
                  lambda: check_taxes(clients, product_gst_rates(engine))),
        *_guarded("books refunds", "bankaccounts",
                  lambda: check_refund_account(
                      clients, os.environ.get(REFUND_ACCOUNT_ENV, "").strip() or None)),
    ]


def format_table(checks: Iterable[Check]) -> str:
    """A plain text table: status, area, subject, what was found."""
    rows = [("", "area", "checked", "found")] + [
        ("ok" if c.ok else "FAIL", c.area, c.subject, c.detail) for c in checks]
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    return "\n".join(
        "  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row[:3])) + "  " + row[3]
        for row in rows)
