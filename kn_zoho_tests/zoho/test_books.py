"""BooksClient: organization on every call, paging, exact finders, creates."""

from __future__ import annotations

import json

import pytest
import responses

from kn_zoho.zoho.books import INVENTORY_ADJUSTMENTS_ENV, BooksClient
from kn_zoho.zoho.http import ZohoHttp
from kn_zoho_tests.zoho.fakes import API_DOMAIN, ORGANIZATION_ID, Accounts

BOOKS = API_DOMAIN + "/books/v3"


@pytest.fixture
def books(http: ZohoHttp, accounts: Accounts) -> BooksClient:
    return BooksClient(http, ORGANIZATION_ID)


def paged_items(request: object) -> tuple[int, dict, str]:
    """Five items, two per page; SKU filter ignored, as a loose server might."""
    params = request.params  # type: ignore[attr-defined]
    page, per_page = int(params["page"]), int(params["per_page"])
    items = [{"item_id": str(i), "sku": f"SKU-{i}", "name": f"Item {i}"} for i in range(5)]
    chunk = items[(page - 1) * per_page : page * per_page]
    more = page * per_page < len(items)
    return 200, {}, json.dumps({"code": 0, "message": "success", "items": chunk,
                                "page_context": {"page": page, "per_page": per_page,
                                                 "has_more_page": more}})


def test_every_call_carries_the_organization(books: BooksClient,
                                             mock: responses.RequestsMock) -> None:
    mock.get(BOOKS + "/settings/taxes", json={"code": 0, "taxes": [
        {"tax_id": "1", "tax_name": "GST18", "tax_percentage": 18}]})
    mock.post(BOOKS + "/contacts", json={"code": 0, "contact": {"contact_id": "9"}})
    mock.get(BOOKS + "/contacts/9", json={"code": 0, "contact": {"contact_id": "9"}})
    assert books.list_taxes()[0]["tax_name"] == "GST18"
    assert books.create_contact({"contact_name": "Asha"})["contact_id"] == "9"
    assert books.get_contact("9") == {"contact_id": "9"}
    api_calls = [c.request for c in mock.calls if c.request.url.startswith(BOOKS)]
    assert len(api_calls) == 3
    assert all(r.params["organization_id"] == ORGANIZATION_ID for r in api_calls)


def test_paging_follows_has_more_page(books: BooksClient, mock: responses.RequestsMock) -> None:
    mock.add_callback(responses.GET, BOOKS + "/items", callback=paged_items)
    items = list(books.paged("/items", "items", per_page=2))
    assert [item["item_id"] for item in items] == ["0", "1", "2", "3", "4"]
    assert books.http.api_calls == {"GET /books/v3/items": 3}


def test_finder_matches_exactly_across_pages(books: BooksClient,
                                             mock: responses.RequestsMock) -> None:
    mock.add_callback(responses.GET, BOOKS + "/items", callback=paged_items)
    assert books.find_item_by_sku("SKU-4")["item_id"] == "4"  # type: ignore[index]
    assert books.find_item_by_sku("sku-3 ")["item_id"] == "3"  # type: ignore[index]
    assert books.find_item_by_sku("SKU-40") is None
    # no undocumented sku filter; inactive items too (Books lists active ones by default)
    assert "sku" not in mock.calls[-1].request.params
    assert mock.calls[-1].request.params["filter_by"] == "Status.All"


def test_invoice_status_and_item_activation_calls(books: BooksClient,
                                                  mock: responses.RequestsMock) -> None:
    for path in ("/invoices/5/status/sent", "/invoices/5/status/void", "/items/7/active",
                 "/items/7/inactive"):
        mock.post(BOOKS + path, json={"code": 0, "message": "done"})
    books.mark_invoice_sent("5")
    books.void_invoice("5")
    books.mark_item_active("7")
    books.mark_item_inactive("7")
    calls = [call.request for call in mock.calls if "/books/" in call.request.url]
    assert [request.url.split("?")[0].split("/books/v3")[1] for request in calls] == [
        "/invoices/5/status/sent", "/invoices/5/status/void", "/items/7/active",
        "/items/7/inactive"]
    assert all(request.params["organization_id"] == ORGANIZATION_ID for request in calls)


def test_find_invoice_by_reference_number(books: BooksClient,
                                          mock: responses.RequestsMock) -> None:
    mock.get(BOOKS + "/invoices", json={"code": 0, "invoices": [
        {"invoice_id": "1", "reference_number": "KN-10001"},
        {"invoice_id": "2", "reference_number": "KN-1000"}],
        "page_context": {"has_more_page": False}})
    assert books.find_invoice_by_reference_number("KN-1000")["invoice_id"] == "2"  # type: ignore[index]
    assert mock.calls[-1].request.params["reference_number"] == "KN-1000"


def test_create_invoice_with_our_own_number(books: BooksClient,
                                            mock: responses.RequestsMock) -> None:
    mock.post(BOOKS + "/invoices", status=201,
              json={"code": 0, "message": "created", "invoice": {"invoice_id": "5"}})
    invoice = books.create_invoice({"customer_id": "9", "invoice_number": "KN-1"},
                                   ignore_auto_number_generation=True)
    assert invoice == {"invoice_id": "5"}
    request = mock.calls[-1].request
    assert request.params["ignore_auto_number_generation"] == "true"
    assert json.loads(request.body)["invoice_number"] == "KN-1"


def test_get_missing_record_is_none(books: BooksClient, mock: responses.RequestsMock) -> None:
    mock.get(BOOKS + "/invoices/404", status=404,
             json={"code": 1002, "message": "Invoice does not exist."})
    assert books.get_invoice("404") is None


@pytest.mark.parametrize(("api", "path"), [
    (None, "/inventory/v1/inventoryadjustments"),  # Zoho Inventory's documented endpoint
    ("inventory", "/inventory/v1/inventoryadjustments"),
    ("books", "/books/v3/inventoryadjustments"),
])
def test_update_item_and_inventory_adjustment(http: ZohoHttp, accounts: Accounts,
                                              mock: responses.RequestsMock,
                                              monkeypatch: pytest.MonkeyPatch,
                                              api: str | None, path: str) -> None:
    if api is None:
        monkeypatch.delenv(INVENTORY_ADJUSTMENTS_ENV, raising=False)
    else:
        monkeypatch.setenv(INVENTORY_ADJUSTMENTS_ENV, api)
    books = BooksClient(http, ORGANIZATION_ID)
    mock.put(BOOKS + "/items/7", json={"code": 0, "item": {"item_id": "7", "rate": 120.0}})
    mock.post(API_DOMAIN + path, status=201, json={
        "code": 0, "inventory_adjustment": {"inventory_adjustment_id": "3"}})
    assert books.update_item("7", {"rate": 120.0})["rate"] == 120.0
    adjustment = books.create_inventory_adjustment({
        "date": "2026-11-20", "reason": "storefront sale", "adjustment_type": "quantity",
        "line_items": [{"item_id": "7", "quantity_adjusted": -2}]})
    assert adjustment == {"inventory_adjustment_id": "3"}


def test_adjustment_found_by_reference_exactly_without_an_undocumented_filter(
        books: BooksClient, mock: responses.RequestsMock) -> None:
    mock.get(API_DOMAIN + "/inventory/v1/inventoryadjustments", json={
        "code": 0, "inventory_adjustments": [
            {"inventory_adjustment_id": "1", "reference_number": "kn-stock-10"},
            {"inventory_adjustment_id": "2", "reference_number": "kn-stock-1"}],
        "page_context": {"has_more_page": False}})
    found = books.find_inventory_adjustment_by_reference_number("kn-stock-1")
    assert found == {"inventory_adjustment_id": "2", "reference_number": "kn-stock-1"}
    assert "reference_number" not in mock.calls[-1].request.params
    assert books.find_inventory_adjustment_by_reference_number("kn-stock-2") is None


def test_unknown_adjustments_api_is_refused_at_construction(
        http: ZohoHttp, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(INVENTORY_ADJUSTMENTS_ENV, "warehouse")
    with pytest.raises(ValueError, match="KN_ZOHO_INVENTORY_ADJUSTMENTS_API='warehouse'"):
        BooksClient(http, ORGANIZATION_ID)
