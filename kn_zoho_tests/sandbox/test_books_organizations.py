"""Books organizations: the list needs no organization_id; one organization has its address."""

from __future__ import annotations

from kn_zoho_tests.sandbox.conftest import Sandbox


def test_list_needs_no_organization_and_get_has_the_state(sandbox: Sandbox) -> None:
    listed = sandbox.client.get("/books/v3/organizations", headers={
        "Authorization": f"Zoho-oauthtoken {sandbox.default_token}"})
    assert listed.status_code == 200
    [org] = listed.json()["organizations"]
    assert org["organization_id"] == "60012345678" and "address" not in org
    one = sandbox.books("GET", "organizations/60012345678").json()
    assert (one["code"], one["organization"]["address"]["state"]) == (0, "Karnataka")
    other = sandbox.books("GET", "organizations/60099999999")
    assert (other.status_code, other.json()["code"]) == (404, 1002)
    no_token = sandbox.client.get("/books/v3/organizations")
    assert no_token.status_code == 401
