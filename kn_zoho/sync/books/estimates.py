"""B2B quotes -> Books estimates: created when approved, then kept in step with the quote.

* approved: the estimate is created under the quote number (exactly once, as invoices are);
  an edit of the approved quote (lines, quantities, prices, notes, validity) is sent with
  ``PUT /estimates/{id}`` ("Update an Estimate", https://www.zoho.com/books/api/v3/estimates/)
  while Books lets it be edited; an estimate the customer accepted, or that was invoiced or
  declined, is refused with what to do.
* rejected: the estimate is marked declined (``POST /estimates/{id}/status/declined``);
  Books declines only sent estimates, so a draft is marked sent first (no email).
* expired: Books has no call that marks an estimate expired; it shows a sent estimate as
  expired once its ``expiry_date`` has passed. So the estimate's expiry_date becomes the day
  the quote stopped being valid (its valid_until if that has passed, else yesterday in India,
  never before the estimate's date) and a draft is marked sent.

Calls: none when the quote's mapped estimate (or its target status) did not change, since the
last sync's hash is kept; an edit is a GET (the estimate's status) and a PUT; a rejection a
GET and one or two marks; an expiry a GET, a PUT of the date and perhaps a mark.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from kn_zoho.mapping import validation as v
from kn_zoho.mapping.books import TaxTable, sku_placeholders
from kn_zoho.mapping.books_edits import FINAL_ESTIMATE_STATUSES
from kn_zoho.mapping.books_estimates import estimate_from_quote
from kn_zoho.mapping.crm import payload_hash
from kn_zoho.storefront.claims import Claim
from kn_zoho.storefront.outcomes import Outcome
from kn_zoho.sync.books.common import (
    Refused,
    Row,
    _amount,
    _Progress,
    document_metadata,
    refused_for_good,
)
from kn_zoho.sync.books.documents import _DocumentFlow, refuse_document_of_another
from kn_zoho.zoho.errors import ZohoError


class EstimatesFlow(_DocumentFlow):
    """B2B quotes -> Books estimates numbered with the quote number, then their edits and
    their end (declined, expired)."""

    entity = "books_estimate"
    label, table, line_table, line_key = "quote", "b2b_quotes", "b2b_quote_items", "quote_id"
    number_column = "quote_number"

    def _payload(self, quote: Row, lines: Sequence[Row], user: Row, customer_id: str,
                 item_ids: Mapping[str, str], taxes: TaxTable) -> Row:
        payload = estimate_from_quote(quote, lines, customer_id=customer_id, item_ids=item_ids,
                                      taxes=taxes, seller_state=self.seller_state, user=user)
        return {**payload, "estimate_number": quote["quote_number"]}

    def _sync(self, engine: sa.Engine, claim: Claim, quote: Row, lines: Sequence[Row],
              user: Row, products: Mapping[Any, Row], taxes: TaxTable,
              progress: _Progress) -> Outcome:
        status = quote.get("status")
        if status in ("rejected", "expired"):
            return self._close(claim, quote, progress)
        if status != "approved":
            raise Refused("NOT_APPROVED", f"field 'status': is {status!r}, only approved "
                          "quotes become estimates")
        # mapped before any call (bad data fails before anything is created in Books), its
        # Books ids set once they are known
        mapped = self._payload(quote, lines, user, "", sku_placeholders(lines), taxes)
        stored_id = claim.zoho_id or quote.get("zoho_books_id")
        if stored_id and not self._force and claim.payload_hash == self._linked_digest(
                quote, lines, user, products, taxes):
            progress.zoho_id = stored_id
            progress.steps.append("unchanged")
            return progress.success(claim.payload_hash)
        estimate = self.books.get_estimate(stored_id) if stored_id else None
        if estimate is not None:
            refuse_document_of_another(estimate, "estimate", "quote", quote["quote_number"])
            progress.zoho_id = str(estimate["estimate_id"])
            estimate = self._update(engine, quote, lines, user, products, taxes, estimate,
                                    progress)
        else:
            estimate, _ = self._find_or_create(
                engine, claim, quote, lines, user, products, taxes, progress, kind="estimate",
                get=self.books.get_estimate,
                find_by_number=self.books.find_estimate_by_estimate_number,
                create=self.books.create_estimate, mapped=mapped)
        self._check_total(estimate, "estimate", quote["quote_number"],
                          _amount(quote["grand_total"]))
        progress.metadata.update({**document_metadata(estimate),
                                  "status": str(estimate.get("status") or "")})
        return progress.success(self._digest(engine, quote, lines, user, products, taxes,
                                             progress))

    # -- approved ----------------------------------------------------------------------------

    def _digest(self, engine: sa.Engine, quote: Row, lines: Sequence[Row], user: Row,
                products: Mapping[Any, Row], taxes: TaxTable, progress: _Progress) -> str:
        """Hash of the estimate the quote maps to, with the Books ids it has now."""
        customer_id, item_ids = self._ensure_parties(engine, user, lines, products, progress)
        return payload_hash(self._payload(quote, lines, user, customer_id, item_ids, taxes))

    def _linked_digest(self, quote: Row, lines: Sequence[Row], user: Row,
                       products: Mapping[Any, Row], taxes: TaxTable) -> str | None:
        """``_digest`` from the Books ids already stored, without any call (None when the
        customer or an item has none yet: then something changed)."""
        item_ids = {line["sku"]: products[line["product_id"]].get("zoho_books_id")
                    for line in lines}
        if not user.get("zoho_books_id") or not all(item_ids.values()):
            return None
        return payload_hash(self._payload(quote, lines, user, str(user["zoho_books_id"]),
                                          item_ids, taxes))

    def _update(self, engine: sa.Engine, quote: Row, lines: Sequence[Row], user: Row,
                products: Mapping[Any, Row], taxes: TaxTable, estimate: Row,
                progress: _Progress) -> Row:
        number = quote["quote_number"]
        if estimate.get("status") in FINAL_ESTIMATE_STATUSES | {"declined"}:
            raise Refused("ESTIMATE_FINAL", (
                f"field 'status': quote {number} is approved and was edited, but its Books "
                f"estimate {estimate.get('estimate_number')} is {estimate.get('status')}: Books "
                "does not let it be edited. Make a new quote for the changes"))
        customer_id, item_ids = self._ensure_parties(engine, user, lines, products, progress)
        payload = self._payload(quote, lines, user, customer_id, item_ids, taxes)
        payload.pop("estimate_number")
        progress.steps.append("estimate:update")
        return self.books.update_estimate(str(estimate["estimate_id"]), payload)

    # -- rejected, expired --------------------------------------------------------------------

    def _close(self, claim: Claim, quote: Row, progress: _Progress) -> Outcome:
        number = quote["quote_number"]
        expiry = _expiry_day(quote) if quote["status"] == "expired" else None
        digest = f"expired:{expiry}" if expiry else "declined"
        stored_id = claim.zoho_id or quote.get("zoho_books_id")
        if not self._force and claim.payload_hash == digest:
            progress.zoho_id = stored_id
            progress.steps.append("unchanged")
            return progress.success(digest)
        # without a stored id the estimate may still exist (a reply lost): look it up
        estimate = (self.books.get_estimate(stored_id) if stored_id else None) or \
            self.books.find_estimate_by_estimate_number(number)
        if estimate is None:
            progress.steps.append(f"{quote['status']}:no-estimate")
            return progress.success(digest)
        refuse_document_of_another(estimate, "estimate", "quote", number)
        estimate_id = str(estimate["estimate_id"])
        progress.zoho_id = estimate_id
        status = estimate.get("status")
        if status in FINAL_ESTIMATE_STATUSES:
            raise Refused("ESTIMATE_FINAL", (
                f"field 'status': quote {number} is {quote['status']} but its Books estimate "
                f"{estimate.get('estimate_number')} is {status}: the customer's acceptance "
                "stands in Books. Settle it there (or approve the quote again)"))
        if expiry is None:
            if status == "draft":  # Books declines sent estimates only
                self._mark(estimate_id, "sent", progress)
                status = "sent"
            if status == "sent":
                # a sent estimate past its expiry_date is expired, which Books does not decline
                self._mark(estimate_id, "declined", progress, settled=("declined", "expired"))
            else:  # declined already, or expired
                progress.steps.append(f"already:{status}")
        elif status not in ("expired", "declined"):
            if estimate.get("expiry_date") != expiry:
                self.books.update_estimate(estimate_id, {"expiry_date": expiry})
                progress.steps.append("expiry_date")
            if status == "draft":
                self._mark(estimate_id, "sent", progress)
        else:
            progress.steps.append(f"already:{status}")
        progress.metadata.update({"status": quote["status"], **(
            {"expiry_date": expiry} if expiry else {})})
        return progress.success(digest)

    def _mark(self, estimate_id: str, status: str, progress: _Progress,
              settled: Sequence[str] = ()) -> None:
        """Mark the estimate; after a refusal or a lost reply the estimate is read back, and
        one already ``status`` (or in a ``settled`` status) is fine."""
        try:
            self.books.mark_estimate(estimate_id, status)
        except ZohoError as error:
            if not (refused_for_good(error) or error.outcome_unknown):
                raise
            found = str((self.books.get_estimate(estimate_id) or {}).get("status") or "")
            if found not in (status, *settled):
                raise
            if found != status:
                progress.steps.append(f"already:{found}")
                return
        progress.steps.append(status)

    # -- plumbing ----------------------------------------------------------------------------

    _force = False  # this attempt is an admin's manual retry: send even an unchanged quote

    def attempt(self, engine: sa.Engine, claims: Sequence[Claim], *, force: bool
                ) -> dict[str, Outcome]:
        self._force = force
        return super().attempt(engine, claims, force=force)


def _expiry_day(quote: Row) -> str:
    """The last day the quote was valid: valid_until if passed, else yesterday in India; not
    before the estimate's date (Books refuses an expiry before it)."""
    yesterday = v.to_ist(datetime.now(UTC)).date() - timedelta(days=1)
    record = f"quote {quote['quote_number']}"
    day = yesterday
    if quote.get("valid_until"):
        day = min(date.fromisoformat(v.calendar_date(quote["valid_until"], record,
                                                     "valid_until")), yesterday)
    if quote.get("approved_at"):
        day = max(day, date.fromisoformat(v.ist_date(quote["approved_at"], record,
                                                     "approved_at")))
    return day.isoformat()
