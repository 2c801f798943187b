"""Errors that stop a whole flow rather than fail one record."""

from __future__ import annotations


class SetupError(RuntimeError):
    """The Zoho org or our configuration does not allow the flow to run at all: nothing was
    claimed or sent, every record stays as it was, and retrying before a fix cannot help."""
