"""ZohoHttp: retries and backoff, error classification, the 401 refresh, counting, redaction."""

from __future__ import annotations

import logging

import pytest
import requests
import responses
import sqlalchemy as sa

from kn_zoho.zoho.auth import TokenStore
from kn_zoho.zoho.errors import (
    ZohoAuthError,
    ZohoNotFoundError,
    ZohoPermanentError,
    ZohoRateLimitError,
    ZohoTokenThrottledError,
    ZohoTransientError,
)
from kn_zoho.zoho.http import ZohoHttp
from kn_zoho.zoho.redaction import install_log_redaction
from kn_zoho_tests.zoho.fakes import (
    API_DOMAIN,
    CLIENT_SECRET,
    ORGANIZATION_ID,
    REFRESH_TOKEN,
    Accounts,
    access_token,
)

CONTACTS = API_DOMAIN + "/crm/v8/Contacts"
INVOICES = API_DOMAIN + "/books/v3/invoices"
ORG = {"organization_id": ORGANIZATION_ID}
OK = {"code": 0, "message": "success", "invoices": []}


def books_get(http: ZohoHttp) -> dict:
    return http.request("GET", "/books/v3/invoices", params=ORG)


def books_post(http: ZohoHttp) -> dict:
    return http.request("POST", "/books/v3/invoices", params=ORG, json={"customer_id": "1"})


def api_requests(mock: responses.RequestsMock) -> list[requests.PreparedRequest]:
    return [call.request for call in mock.calls if call.request.url.startswith(API_DOMAIN)]


# -- transient failures: retried with backoff ----------------------------------------------------


def test_429_is_retried_after_backoff(http: ZohoHttp, mock: responses.RequestsMock,
                                      accounts: Accounts, sleeps: list[float]) -> None:
    mock.get(INVOICES, status=429, json={"code": 44, "message": "too many requests"})
    mock.get(INVOICES, json=OK)
    assert books_get(http) == OK
    assert len(api_requests(mock)) == 2
    assert len(sleeps) == 1 and 0 <= sleeps[0] <= 0.01
    assert http.rate_limited == 1


def test_retry_after_is_honoured(http: ZohoHttp, mock: responses.RequestsMock,
                                 accounts: Accounts, sleeps: list[float]) -> None:
    mock.get(INVOICES, status=429, headers={"Retry-After": "7"},
             json={"code": 44, "message": "slow down"})
    mock.get(INVOICES, json=OK)
    books_get(http)
    assert sleeps == [pytest.approx(7.0, abs=0.1)]


def test_a_retry_after_longer_than_the_cap_is_left_to_the_queue(
    http: ZohoHttp, mock: responses.RequestsMock, accounts: Accounts
) -> None:
    mock.get(INVOICES, status=429, headers={"Retry-After": "3600"},
             json={"code": 44, "message": "slow down"})
    with pytest.raises(ZohoRateLimitError) as caught:
        books_get(http)
    assert caught.value.retry_after == 3600
    assert len(api_requests(mock)) == 1


def test_daily_limit_is_not_retried_in_the_call(http: ZohoHttp, mock: responses.RequestsMock,
                                                accounts: Accounts) -> None:
    mock.get(INVOICES, status=429, json={"code": 45, "message": "daily limit exceeded"})
    with pytest.raises(ZohoRateLimitError) as caught:
        books_get(http)
    assert caught.value.daily and caught.value.transient
    assert len(api_requests(mock)) == 1


def test_5xx_on_a_read_is_retried_up_to_max_attempts(
    http: ZohoHttp, mock: responses.RequestsMock, accounts: Accounts, sleeps: list[float]
) -> None:
    mock.get(INVOICES, status=503, body="Service Unavailable")
    with pytest.raises(ZohoTransientError) as caught:
        books_get(http)
    assert caught.value.http_status == 503
    assert len(api_requests(mock)) == http.settings.max_attempts == 4
    assert len(sleeps) == 3


def test_books_internal_error_is_transient(http: ZohoHttp, mock: responses.RequestsMock,
                                           accounts: Accounts) -> None:
    mock.get(INVOICES, status=500, json={"code": 1000, "message": "Internal error"})
    mock.get(INVOICES, json=OK)
    assert books_get(http) == OK


@pytest.mark.parametrize("failure", [requests.ReadTimeout("read timed out"),
                                     requests.ConnectionError("connection reset")])
def test_timeouts_and_connection_errors_on_a_read_are_retried(
    http: ZohoHttp, mock: responses.RequestsMock, accounts: Accounts, failure: Exception
) -> None:
    mock.get(INVOICES, body=failure)
    mock.get(INVOICES, json=OK)
    assert books_get(http) == OK


@pytest.mark.parametrize(
    "failure",
    [
        {"status": 500, "json": {"code": 1000, "message": "Internal error"}},
        {"body": requests.ReadTimeout("read timed out")},
    ],
)
def test_a_write_that_may_have_been_stored_is_not_repeated(
    http: ZohoHttp, mock: responses.RequestsMock, accounts: Accounts, failure: dict
) -> None:
    mock.post(INVOICES, **failure)
    with pytest.raises(ZohoTransientError) as caught:
        books_post(http)
    assert caught.value.outcome_unknown
    assert len(api_requests(mock)) == 1


def test_a_write_refused_by_the_rate_limit_is_retried(
    http: ZohoHttp, mock: responses.RequestsMock, accounts: Accounts
) -> None:
    mock.post(INVOICES, status=429, json={"code": 44, "message": "too many"})
    mock.post(INVOICES, status=201, json={"code": 0, "message": "created", "invoice": {}})
    assert books_post(http)["code"] == 0
    assert len(api_requests(mock)) == 2


def test_a_write_that_never_connected_is_retried(
    http: ZohoHttp, mock: responses.RequestsMock, accounts: Accounts
) -> None:
    mock.post(INVOICES, body=requests.ConnectTimeout("connect timed out"))
    mock.post(INVOICES, status=201, json={"code": 0, "message": "created", "invoice": {}})
    assert books_post(http)["code"] == 0


# -- permanent failures: raised at once ------------------------------------------------------------


def test_validation_error_is_permanent(http: ZohoHttp, mock: responses.RequestsMock,
                                       accounts: Accounts) -> None:
    mock.post(INVOICES, status=400,
              json={"code": 1001, "message": "Invoice number INV-1 already exists."})
    with pytest.raises(ZohoPermanentError) as caught:
        books_post(http)
    assert not caught.value.transient
    assert caught.value.code == 1001 and caught.value.http_status == 400
    assert "INV-1 already exists" in str(caught.value)
    assert len(api_requests(mock)) == 1


def test_books_error_inside_http_200_is_raised(http: ZohoHttp, mock: responses.RequestsMock,
                                               accounts: Accounts) -> None:
    mock.get(INVOICES, json={"code": 2, "message": "Invalid value passed for page"})
    with pytest.raises(ZohoPermanentError, match="Invalid value"):
        books_get(http)


def test_books_missing_record(http: ZohoHttp, mock: responses.RequestsMock,
                              accounts: Accounts) -> None:
    mock.get(INVOICES + "/42", status=404,
             json={"code": 1002, "message": "Invoice does not exist."})
    with pytest.raises(ZohoNotFoundError):
        http.request("GET", "/books/v3/invoices/{id}", path_params={"id": 42}, params=ORG)


def test_crm_validation_error_names_the_field(http: ZohoHttp, mock: responses.RequestsMock,
                                              accounts: Accounts) -> None:
    mock.get(CONTACTS, status=400, json={
        "code": "INVALID_DATA", "details": {"api_name": "Email"},
        "message": "invalid data", "status": "error"})
    with pytest.raises(ZohoPermanentError) as caught:
        http.request("GET", "/crm/v8/Contacts")
    assert caught.value.field == "Email" and caught.value.code == "INVALID_DATA"


@pytest.mark.parametrize(
    ("status", "code", "hint"),
    [(401, "OAUTH_SCOPE_MISMATCH", "ZohoCRM.modules.ALL"), (403, "NO_PERMISSION", "permission")],
)
def test_crm_scope_and_permission_errors_need_the_operator(
    http: ZohoHttp, mock: responses.RequestsMock, accounts: Accounts,
    status: int, code: str, hint: str,
) -> None:
    mock.get(CONTACTS, status=status, json={"code": code, "details": {},
                                            "message": "no", "status": "error"})
    with pytest.raises(ZohoAuthError, match=hint):
        http.request("GET", "/crm/v8/Contacts")
    assert accounts.refreshes == 1  # the first token only: no refresh for a scope problem


def test_crm_rate_limit(http: ZohoHttp, mock: responses.RequestsMock, accounts: Accounts) -> None:
    mock.get(CONTACTS, status=429, json={"code": "TOO_MANY_REQUESTS", "details": {},
                                         "message": "too many", "status": "error"})
    with pytest.raises(ZohoRateLimitError):
        http.request("GET", "/crm/v8/Contacts")
    assert http.rate_limited == 4


# -- expired token: one refresh, one retry --------------------------------------------------------


def test_expired_token_gets_one_refresh_and_one_retry(
    http: ZohoHttp, mock: responses.RequestsMock, accounts: Accounts
) -> None:
    mock.get(CONTACTS, status=401, json={"code": "INVALID_TOKEN", "details": {},
                                         "message": "invalid oauth token", "status": "error"})
    mock.get(CONTACTS, json={"data": [{"id": "1"}]})
    assert http.request("GET", "/crm/v8/Contacts") == {"data": [{"id": "1"}]}
    sent = api_requests(mock)
    assert [r.headers["Authorization"] for r in sent] == [
        f"Zoho-oauthtoken {access_token(1)}", f"Zoho-oauthtoken {access_token(2)}"]
    assert accounts.refreshes == 2


def test_token_refused_again_after_the_refresh_is_an_auth_error(
    http: ZohoHttp, mock: responses.RequestsMock, accounts: Accounts
) -> None:
    mock.get(INVOICES, status=401, json={"code": 57, "message":
                                         "You are not authorized to perform this operation"})
    with pytest.raises(ZohoAuthError, match="scopes"):
        books_get(http)
    assert len(api_requests(mock)) == 2 and accounts.refreshes == 2
    with pytest.raises(ZohoAuthError):
        books_get(http)  # a fresh token was refused: no refresh storm on every record
    assert accounts.refreshes == 2


def test_refresh_throttle_during_a_call_is_not_looped(
    http: ZohoHttp, mock: responses.RequestsMock, accounts: Accounts
) -> None:
    mock.get(CONTACTS, status=401, json={"code": "INVALID_TOKEN", "details": {},
                                         "message": "expired", "status": "error"})
    http.tokens.get()
    accounts.reply = {"error": "Access Denied",
                      "error_description": "You have made too many requests continuously."}
    with pytest.raises(ZohoTokenThrottledError):
        http.request("GET", "/crm/v8/Contacts")
    assert len(api_requests(mock)) == 1 and accounts.refreshes == 2


def test_api_domain_from_the_token_reply_is_the_base_url(
    http: ZohoHttp, mock: responses.RequestsMock, accounts: Accounts
) -> None:
    mock.get(INVOICES, json=OK)
    books_get(http)
    assert api_requests(mock)[0].url.startswith(INVOICES + "?organization_id=" + ORGANIZATION_ID)


# -- bookkeeping ----------------------------------------------------------------------------


def test_calls_are_counted_by_path_template(http: ZohoHttp, mock: responses.RequestsMock,
                                            accounts: Accounts) -> None:
    mock.get(INVOICES + "/1", json={"code": 0, "invoice": {}})
    mock.get(INVOICES + "/2", status=503)
    mock.get(INVOICES + "/2", json={"code": 0, "invoice": {}})
    for invoice_id in (1, 2):
        http.request("GET", "/books/v3/invoices/{id}", path_params={"id": invoice_id}, params=ORG)
    assert http.api_calls == {"GET /books/v3/invoices/{id}": 3}


def test_books_calls_need_an_organization(http: ZohoHttp) -> None:
    with pytest.raises(ValueError, match="organization_id"):
        http.request("GET", "/books/v3/invoices")


def test_secrets_never_reach_logs_or_errors(
    http: ZohoHttp, mock: responses.RequestsMock, accounts: Accounts,
    caplog: pytest.LogCaptureFixture,
) -> None:
    install_log_redaction()
    token = http.tokens.get().value
    mock.get(INVOICES, status=503, json={
        "code": 1000, "message": f"echo Zoho-oauthtoken {token} refresh_token={REFRESH_TOKEN}"})
    caplog.set_level(logging.DEBUG)
    with pytest.raises(ZohoTransientError) as caught:
        books_get(http)
    logging.getLogger("test").warning("header was %s", f"Zoho-oauthtoken {token}")
    logging.getLogger("test").warning("secret %s", CLIENT_SECRET)
    texts = [caplog.text, str(caught.value), repr(caught.value), caught.value.message]
    for text in texts:
        for secret in (token, REFRESH_TOKEN, CLIENT_SECRET):
            assert secret not in text
    assert "Zoho-oauthtoken ***" in caplog.text


def test_rate_limiter_is_consulted_per_bucket(
    engine: sa.Engine, tokens: TokenStore, mock: responses.RequestsMock, accounts: Accounts
) -> None:
    reserved: list[str] = []

    class Recorder:
        def reserve(self, bucket: str, limit: object) -> float:
            reserved.append(bucket)
            return 0.25

        def penalize(self, bucket: str, seconds: float) -> None:
            raise AssertionError("no 429 here")

    sleeps: list[float] = []
    http = ZohoHttp(tokens, rate_limiter=Recorder(), sleep=sleeps.append)
    mock.get(INVOICES, json=OK)
    mock.get(CONTACTS, json={"data": []})
    books_get(http)
    http.request("GET", "/crm/v8/Contacts")
    assert reserved == [f"books:{ORGANIZATION_ID}", "crm"]
    assert sleeps == [0.25, 0.25]
