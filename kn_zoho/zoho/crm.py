"""Zoho CRM v8: records (upsert, update and insert in batches; search by email; get by id), the
modules' field layout and the current user."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from kn_zoho.zoho.errors import ZohoNotFoundError, ZohoTransientError
from kn_zoho.zoho.http import ZohoHttp

CRM_BASE = "/crm/v8"
MAX_BATCH = 100  # Zoho CRM accepts 1 to 100 records per insert/upsert call


@dataclasses.dataclass(frozen=True)
class CrmRecordResult:
    """Zoho's verdict on one record of a batch, in the order the records were sent."""

    ok: bool
    action: str | None  # "insert" | "update" on success
    zoho_id: str | None
    code: str
    message: str
    field: str | None = None  # api_name of the offending field, on a validation error
    details: dict[str, Any] = dataclasses.field(default_factory=dict, repr=False)


class CrmClient:
    """Records in Zoho CRM modules (Contacts, Leads, ...)."""

    def __init__(self, http: ZohoHttp) -> None:
        self.http = http

    def upsert(
        self,
        module: str,
        records: Sequence[Mapping[str, Any]],
        duplicate_check_fields: Sequence[str] = ("Email",),
    ) -> list[CrmRecordResult]:
        """Insert or update by ``duplicate_check_fields``; safe to repeat, so it is retried."""
        return self._write("POST", "/upsert", module, records, idempotent=True,
                           duplicate_check_fields=list(duplicate_check_fields))

    def update(self, module: str, records: Sequence[Mapping[str, Any]]) -> list[CrmRecordResult]:
        """Update records by their ``id`` field; repeating an update is harmless, so retried."""
        return self._write("PUT", "", module, records)

    def insert(self, module: str, records: Sequence[Mapping[str, Any]]) -> list[CrmRecordResult]:
        """Create records; a timeout or 5xx is raised with ``outcome_unknown``, not retried."""
        return self._write("POST", "", module, records)

    def _write(self, method: str, suffix: str, module: str,
               records: Sequence[Mapping[str, Any]], *, idempotent: bool | None = None,
               **extra: Any) -> list[CrmRecordResult]:
        """One request per batch of up to 100 records; one result per record, in order."""
        results: list[CrmRecordResult] = []
        for batch in _batches(records):
            body = self.http.request(
                method,
                CRM_BASE + "/{module}" + suffix,
                path_params={"module": module},
                json={"data": batch, **extra},
                idempotent=idempotent,
                record_errors=True,
            )
            results.extend(_results(body, len(batch)))
        return results

    def search_by_email(self, module: str, email: str) -> list[dict[str, Any]]:
        """Records whose Email field equals ``email`` (case-insensitive); [] when none."""
        body = self.http.request(
            "GET",
            CRM_BASE + "/{module}/search",
            path_params={"module": module},
            params={"email": email},
        )
        wanted = email.strip().casefold()
        return [
            record for record in body.get("data") or []
            if str(record.get("Email") or "").strip().casefold() == wanted
        ]

    def get(self, module: str, record_id: str) -> dict[str, Any] | None:
        """One record by id, or None if it does not exist (any more)."""
        try:
            body = self.http.request(
                "GET",
                CRM_BASE + "/{module}/{record_id}",
                path_params={"module": module, "record_id": record_id},
            )
        except ZohoNotFoundError:
            return None
        data = body.get("data") or []
        return data[0] if data else None

    def fields(self, module: str) -> list[dict[str, Any]]:
        """The module's fields (``GET /settings/fields?module=``): api_name, data_type, length,
        ``unique`` (an object when "Do not allow duplicate values" is on, else null)...
        https://www.zoho.com/crm/developer/docs/api/v8/field-meta.html"""
        body = self.http.request("GET", CRM_BASE + "/settings/fields",
                                 params={"module": module})
        return list(body.get("fields") or [])

    def current_user(self) -> dict[str, Any] | None:
        """The user the token belongs to (``GET /users?type=CurrentUser``): proves the token
        works for CRM. https://www.zoho.com/crm/developer/docs/api/v8/get-users.html"""
        body = self.http.request("GET", CRM_BASE + "/users", params={"type": "CurrentUser"})
        users = body.get("users") or []
        return users[0] if users else None


def _batches(records: Sequence[Mapping[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    for start in range(0, len(records), MAX_BATCH):
        yield [dict(record) for record in records[start : start + MAX_BATCH]]


def _results(body: dict[str, Any], expected: int) -> list[CrmRecordResult]:
    items = body.get("data")
    if not isinstance(items, list) or len(items) != expected:
        got = len(items) if isinstance(items, list) else "no"
        raise ZohoTransientError(
            f"Zoho CRM answered a batch of {expected} records with {got} results",
            code="BAD_BATCH_REPLY", outcome_unknown=True, reply=body,
        )
    return [_result(item) for item in items]


def _result(item: dict[str, Any]) -> CrmRecordResult:
    details = item.get("details") if isinstance(item.get("details"), dict) else {}
    ok = item.get("status") == "success"
    return CrmRecordResult(
        ok=ok,
        action=item.get("action") if ok else None,
        zoho_id=str(details["id"]) if ok and details.get("id") else None,
        code=str(item.get("code") or ""),
        message=str(item.get("message") or ""),
        field=None if ok else details.get("api_name"),
        details=details,
    )
