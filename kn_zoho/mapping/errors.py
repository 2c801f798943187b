"""The one error mapping raises: storefront data that cannot become a valid Zoho record.

Invalid data is a permanent failure: the sync layer records the message against the record and
never sends it to Zoho nor retries it on its own. The message is for an admin: it names the
record, the storefront column, the bad value as a person would write it, and what to do. An
edit that fixes the data re-enqueues the record (migration 20261121000400), so the default
advice is to correct the column.
"""

from __future__ import annotations


class MappingError(ValueError):
    """A storefront record that cannot be mapped: the column at fault, why, and what to do."""

    def __init__(self, record: str, field: str, reason: str, action: str | None = None) -> None:
        self.record = record
        self.field = field
        self.reason = reason
        self.action = action or (
            f"Correct {field} of {record} in the storefront; saving the change syncs it again")
        super().__init__(f"{record}: field '{field}': {reason}. {self.action}.")

    def __reduce__(self) -> tuple[type[MappingError], tuple[str, str, str, str]]:
        # Keeps the error picklable (Dagster and multiprocessing pickle exceptions).
        return (type(self), (self.record, self.field, self.reason, self.action))
