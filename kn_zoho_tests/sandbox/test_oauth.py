"""The accounts server and token checks, as the project's token store will meet them."""

from __future__ import annotations

from kn_zoho.sandbox import SandboxConfig
from kn_zoho_tests.sandbox.conftest import REFRESH_PARAMS, Sandbox, make_sandbox

THROTTLED = {"error": "Access Denied",
             "error_description": "You have made too many requests continuously. "
                                  "Please try again after some time."}


def test_refresh_reply_names_token_lifetime_and_api_domain(sandbox: Sandbox) -> None:
    reply = sandbox.refresh()
    assert reply.status_code == 200
    body = reply.json()
    assert set(body) == {"access_token", "expires_in", "api_domain", "token_type", "scope"}
    assert body["access_token"].startswith("1000.")
    assert body["expires_in"] == 3600
    assert body["api_domain"] == "http://testserver"
    assert body["token_type"] == "Bearer"


def test_refresh_parameters_may_come_as_a_form_body(sandbox: Sandbox) -> None:
    reply = sandbox.client.post("/oauth/v2/token", data=REFRESH_PARAMS)
    assert "access_token" in reply.json()


def test_wrong_client_and_unknown_refresh_token_answer_200_with_an_error(
        sandbox: Sandbox) -> None:
    wrong_secret = sandbox.refresh(client_secret="nope")
    assert (wrong_secret.status_code, wrong_secret.json()) == (200, {"error": "invalid_client"})
    wrong_client = sandbox.refresh(client_id="1000.OTHER")
    assert wrong_client.json() == {"error": "invalid_client"}
    unknown = sandbox.refresh(refresh_token="1000.unknown")
    assert (unknown.status_code, unknown.json()) == (200, {"error": "invalid_code"})
    assert sandbox.refresh(grant_type="authorization_code").json() == {
        "error": "unsupported_grant_type"}


def test_eleventh_refresh_in_ten_minutes_is_throttled_until_the_window_passes(
        sandbox: Sandbox) -> None:
    for _ in range(10):
        assert "access_token" in sandbox.refresh().json()
        sandbox.clock.advance(30)
    throttled = sandbox.refresh()
    assert (throttled.status_code, throttled.json()) == (400, THROTTLED)
    sandbox.clock.advance(600 - 10 * 30 + 1)  # the first refresh leaves the window
    assert "access_token" in sandbox.refresh().json()
    stats = sandbox.client.get("/__sandbox/stats").json()
    assert (stats["token_refreshes"], stats["token_refresh_denied"]) == (11, 1)


def test_a_sixteenth_live_token_retires_the_oldest() -> None:
    sandbox = make_sandbox(SandboxConfig(refresh_limit=100))
    tokens = [sandbox.token() for _ in range(16)]
    assert len(set(tokens)) == 16
    assert sandbox.crm("GET", "Contacts/1", token=tokens[0]).status_code == 401
    for token in tokens[1:]:
        assert sandbox.crm("GET", "Contacts/1", token=token).status_code == 204


def test_tokens_expire_after_their_lifetime(sandbox: Sandbox) -> None:
    token = sandbox.token()
    sandbox.clock.advance(3599)
    assert sandbox.crm("GET", "Contacts/1", token=token).status_code == 204
    sandbox.clock.advance(1)
    expired = sandbox.crm("GET", "Contacts/1", token=token)
    assert expired.status_code == 401
    assert expired.json()["code"] == "INVALID_TOKEN"


def test_crm_401_styles(sandbox: Sandbox) -> None:
    missing = sandbox.client.get("/crm/v8/Contacts/1")
    assert (missing.status_code, missing.json()) == (401, {
        "code": "AUTHENTICATION_FAILURE", "details": {}, "message": "Authentication failed",
        "status": "error"})
    bearer = sandbox.client.get("/crm/v8/Contacts/1", headers={"Authorization": "Bearer x"})
    assert bearer.json()["code"] == "AUTHENTICATION_FAILURE"
    invalid = sandbox.crm("GET", "Contacts/1", token="1000.not.issued")
    assert (invalid.status_code, invalid.json()) == (401, {
        "code": "INVALID_TOKEN", "details": {}, "message": "invalid oauth token",
        "status": "error"})


def test_books_401_styles(sandbox: Sandbox) -> None:
    missing = sandbox.client.get("/books/v3/items", params={"organization_id": "60012345678"})
    assert missing.status_code == 401
    assert missing.json()["code"] == 14
    invalid = sandbox.books("GET", "items", token="1000.not.issued")
    assert (invalid.status_code, invalid.json()) == (401, {
        "code": 57, "message": "You are not authorized to perform this operation"})


def test_expire_tokens_now_fault_expires_every_live_token(sandbox: Sandbox) -> None:
    token = sandbox.token()
    reply = sandbox.client.post("/__sandbox/faults", json={"expire_tokens_now": True})
    assert reply.json()["expired_tokens"] == 1
    assert sandbox.crm("GET", "Contacts/1", token=token).status_code == 401
    assert sandbox.crm("GET", "Contacts/1", token=sandbox.token()).status_code == 204


def test_token_ttl_is_configurable() -> None:
    sandbox = make_sandbox(SandboxConfig(token_ttl_seconds=5))
    assert sandbox.refresh().json()["expires_in"] == 5
