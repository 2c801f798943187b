"""The one error mapping raises: storefront data that cannot become a valid Zoho record.

Invalid data is a permanent failure: the sync layer records the message against the record and
never sends it to Zoho nor retries it (a manual retry after the data is fixed re-maps it). The
message names the storefront column so an admin knows what to fix.
"""

from __future__ import annotations


class MappingError(ValueError):
    """A storefront record that cannot be mapped, with the column at fault and why."""

    def __init__(self, record: str, field: str, reason: str) -> None:
        self.record = record
        self.field = field
        self.reason = reason
        super().__init__(f"{record}: field '{field}': {reason}")

    def __reduce__(self) -> tuple[type[MappingError], tuple[str, str, str]]:
        # Keeps the error picklable (Dagster and multiprocessing pickle exceptions).
        return (type(self), (self.record, self.field, self.reason))
