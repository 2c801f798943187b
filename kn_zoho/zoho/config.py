"""Zoho credentials and data centre, read from the environment."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

DEFAULT_ACCOUNTS_URL = "https://accounts.zoho.in"  # KN Biosciences is on the India data centre

ENV_ACCOUNTS_URL = "ZOHO_ACCOUNTS_URL"
ENV_CLIENT_ID = "ZOHO_CLIENT_ID"
ENV_CLIENT_SECRET = "ZOHO_CLIENT_SECRET"  # noqa: S105 - the variable's name, not a secret
ENV_REFRESH_TOKEN = "ZOHO_REFRESH_TOKEN"  # noqa: S105
ENV_BOOKS_ORGANIZATION_ID = "ZOHO_BOOKS_ORGANIZATION_ID"


class ZohoConfigError(RuntimeError):
    """The Zoho settings are missing or unusable; the message names what to set."""


@dataclass(frozen=True)
class ZohoConfig:
    """One Zoho account (self client + refresh token) and the Books organization it syncs.

    The secrets are excluded from ``repr`` so a config can be logged or shown in a traceback.
    """

    client_id: str
    client_secret: str = field(repr=False)
    refresh_token: str = field(repr=False)
    books_organization_id: str
    accounts_url: str = DEFAULT_ACCOUNTS_URL

    def __post_init__(self) -> None:
        object.__setattr__(self, "accounts_url", self.accounts_url.rstrip("/"))

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> ZohoConfig:
        """Read ``ZOHO_*`` variables; a missing one raises an error naming it."""
        env = os.environ if environ is None else environ

        def required(name: str) -> str:
            value = env.get(name, "").strip()
            if not value:
                raise ZohoConfigError(
                    f"environment variable {name} is not set: it is needed to talk to Zoho "
                    f"(see the Zoho API console, Self Client, for the client id, secret and "
                    f"refresh token; Books > Settings > Organization for the organization id)"
                )
            return value

        return cls(
            client_id=required(ENV_CLIENT_ID),
            client_secret=required(ENV_CLIENT_SECRET),
            refresh_token=required(ENV_REFRESH_TOKEN),
            books_organization_id=required(ENV_BOOKS_ORGANIZATION_ID),
            accounts_url=env.get(ENV_ACCOUNTS_URL, "").strip() or DEFAULT_ACCOUNTS_URL,
        )

    def secrets(self) -> tuple[str, str]:
        """The values that must never reach logs or error messages."""
        return (self.client_secret, self.refresh_token)
