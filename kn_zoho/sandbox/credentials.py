"""Fixed demo credentials the sandbox accepts, and the shell lines that point a client at it.

They are public on purpose: the sandbox only ever listens on a local address.
"""

from __future__ import annotations

import shlex

DEMO_CLIENT_ID = "1000.KNBIOSANDBOX"
DEMO_CLIENT_SECRET = "kn-sandbox-client-secret"  # noqa: S105 - a published demo value
DEMO_REFRESH_TOKEN = "1000.kn-sandbox-refresh-token"  # noqa: S105 - a published demo value
DEMO_ORGANIZATION_ID = "60012345678"

# client id -> client secret, and refresh token -> the client it was issued to
CLIENT_SECRETS = {DEMO_CLIENT_ID: DEMO_CLIENT_SECRET}
REFRESH_TOKEN_CLIENTS = {DEMO_REFRESH_TOKEN: DEMO_CLIENT_ID}


def export_lines(base_url: str) -> list[str]:
    """``export`` lines that make the project's Zoho client talk to the sandbox at base_url."""
    values = {
        "ZOHO_ACCOUNTS_URL": base_url.rstrip("/"),
        "ZOHO_CLIENT_ID": DEMO_CLIENT_ID,
        "ZOHO_CLIENT_SECRET": DEMO_CLIENT_SECRET,
        "ZOHO_REFRESH_TOKEN": DEMO_REFRESH_TOKEN,
        "ZOHO_BOOKS_ORGANIZATION_ID": DEMO_ORGANIZATION_ID,
    }
    return [f"export {name}={shlex.quote(value)}" for name, value in values.items()]
