"""A faithful local Zoho: accounts server, CRM v8 and Books v3 with fault injection.

Start one with :func:`start_sandbox` (tests, demo) or ``kn-zoho sandbox`` (foreground), then
point the Zoho client at it with :func:`export_lines`.
"""

from kn_zoho.sandbox.app import create_app
from kn_zoho.sandbox.config import SandboxConfig
from kn_zoho.sandbox.credentials import (
    DEMO_CLIENT_ID,
    DEMO_CLIENT_SECRET,
    DEMO_ORGANIZATION_ID,
    DEMO_REFRESH_TOKEN,
    export_lines,
)
from kn_zoho.sandbox.server import RunningSandbox, serve, start_sandbox
from kn_zoho.sandbox.state import SandboxState

__all__ = [
    "DEMO_CLIENT_ID",
    "DEMO_CLIENT_SECRET",
    "DEMO_ORGANIZATION_ID",
    "DEMO_REFRESH_TOKEN",
    "RunningSandbox",
    "SandboxConfig",
    "SandboxState",
    "create_app",
    "export_lines",
    "serve",
    "start_sandbox",
]
