"""The shared token store: encrypted at rest, one refresh for everyone, clear failures."""

from __future__ import annotations

import os
import stat
import threading
from pathlib import Path

import pytest
import sqlalchemy as sa
from cryptography.fernet import Fernet

from kn_zoho.zoho.auth import (
    SECRET_KEY_ENV,
    TokenStore,
    account_key,
    load_secret_key,
)
from kn_zoho.zoho.config import ZohoConfig, ZohoConfigError
from kn_zoho.zoho.errors import ZohoAuthError, ZohoTokenThrottledError, ZohoTransientError
from kn_zoho_tests.zoho.fakes import (
    API_DOMAIN,
    CLIENT_SECRET,
    REFRESH_TOKEN,
    Accounts,
    access_token,
    database_text,
)

# -- encryption key ----------------------------------------------------------------------------


def test_secret_key_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    key = Fernet.generate_key()
    monkeypatch.setenv(SECRET_KEY_ENV, key.decode())
    assert load_secret_key(embedded_default=False) == key


def test_invalid_secret_key_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(SECRET_KEY_ENV, "not-a-key")
    with pytest.raises(ZohoConfigError, match=SECRET_KEY_ENV):
        load_secret_key(embedded_default=False)


def test_missing_secret_key_outside_the_embedded_default_is_an_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv(SECRET_KEY_ENV, raising=False)
    monkeypatch.setenv("KN_ZOHO_DATA_DIR", str(tmp_path))
    with pytest.raises(ZohoConfigError, match=SECRET_KEY_ENV):
        load_secret_key(embedded_default=False)
    assert not (tmp_path / "secret.key").exists()


def test_embedded_default_generates_a_private_key_file_once(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv(SECRET_KEY_ENV, raising=False)
    monkeypatch.setenv("KN_ZOHO_DATA_DIR", str(tmp_path / "data"))
    first = load_secret_key(embedded_default=True)
    second = load_secret_key(embedded_default=True)
    assert first == second
    Fernet(first)
    key_file = tmp_path / "data" / "secret.key"
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600
    assert [p.name for p in key_file.parent.iterdir()] == ["secret.key"]


# -- token store ---------------------------------------------------------------------------------


def test_account_key_is_a_digest_not_the_secret(config: ZohoConfig) -> None:
    key = account_key(config)
    assert len(key) == 64
    assert REFRESH_TOKEN not in key and CLIENT_SECRET not in key
    other = ZohoConfig(config.client_id, config.client_secret, "another-refresh-token",
                       config.books_organization_id, config.accounts_url)
    assert account_key(other) != key


def test_token_is_encrypted_at_rest(engine: sa.Engine, tokens: TokenStore,
                                    accounts: Accounts) -> None:
    token = tokens.get()
    assert token.value == access_token(1)
    assert token.api_domain == API_DOMAIN
    stored = database_text(engine)
    assert tokens.account_key in stored  # the row is there ...
    for secret in (token.value, REFRESH_TOKEN, CLIENT_SECRET):
        assert secret not in stored  # ... and no secret in any column of any table


def test_refresh_sends_credentials_in_the_body_not_the_url(
    tokens: TokenStore, accounts: Accounts, mock: object
) -> None:
    tokens.get()
    request = mock.calls[0].request  # type: ignore[attr-defined]
    assert REFRESH_TOKEN not in request.url and CLIENT_SECRET not in request.url
    assert "grant_type=refresh_token" in request.body


def test_token_is_reused_by_other_processes(engine: sa.Engine, config: ZohoConfig,
                                            secret_key: bytes, accounts: Accounts) -> None:
    first = TokenStore(engine, config, secret_key).get()
    second = TokenStore(engine, config, secret_key).get()  # a fresh process: reads the row
    assert second.value == first.value
    assert accounts.refreshes == 1


def test_token_close_to_expiry_is_refreshed(engine: sa.Engine, config: ZohoConfig,
                                            secret_key: bytes, accounts: Accounts) -> None:
    TokenStore(engine, config, secret_key).get()
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE integration.zoho_oauth_tokens"
                             " SET expires_at = now() + interval '2 minutes'"))
    token = TokenStore(engine, config, secret_key).get()
    assert token.value == access_token(2)
    with engine.connect() as conn:
        assert conn.execute(sa.text(
            "SELECT refresh_count FROM integration.zoho_oauth_tokens")).scalar_one() == 2


def test_token_unreadable_with_a_new_key_is_replaced(engine: sa.Engine, config: ZohoConfig,
                                                     accounts: Accounts) -> None:
    TokenStore(engine, config, Fernet.generate_key()).get()
    token = TokenStore(engine, config, Fernet.generate_key()).get()
    assert token.value == access_token(2)


def test_concurrent_processes_cause_one_refresh(engine: sa.Engine, config: ZohoConfig,
                                                secret_key: bytes, accounts: Accounts) -> None:
    accounts.delay = 0.3  # every waiter is queued on the advisory lock meanwhile
    stores = [TokenStore(engine, config, secret_key) for _ in range(8)]  # one per "process"
    values: list[str] = []
    barrier = threading.Barrier(len(stores))

    def work(store: TokenStore) -> None:
        barrier.wait()
        values.append(store.get().value)

    threads = [threading.Thread(target=work, args=(store,)) for store in stores]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert accounts.refreshes == 1
    assert values == [access_token(1)] * len(stores)


def test_threads_of_one_process_cause_one_refresh(tokens: TokenStore, accounts: Accounts) -> None:
    accounts.delay = 0.2
    threads = [threading.Thread(target=tokens.get) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert accounts.refreshes == 1


def test_invalidate_refreshes_once_across_processes(engine: sa.Engine, config: ZohoConfig,
                                                    secret_key: bytes, accounts: Accounts) -> None:
    one, two = TokenStore(engine, config, secret_key), TokenStore(engine, config, secret_key)
    old = one.get().value
    assert two.get().value == old
    assert one.invalidate(old).value == access_token(2)
    # the other process sees the same 401 a moment later: it must reuse, not refresh again
    assert two.invalidate(old).value == access_token(2)
    assert accounts.refreshes == 2


def test_refresh_throttle_is_not_retried(engine: sa.Engine, config: ZohoConfig,
                                         secret_key: bytes, tokens: TokenStore,
                                         accounts: Accounts) -> None:
    accounts.reply = {
        "error": "Access Denied",
        "error_description": "You have made too many requests continuously. "
                             "Please try again after some time.",
    }
    with pytest.raises(ZohoTokenThrottledError) as caught:
        tokens.get()
    assert caught.value.transient and not caught.value.retry_in_call
    assert caught.value.retry_after and caught.value.retry_after > 0
    with pytest.raises(ZohoTokenThrottledError):
        tokens.get()  # same process: no second request
    with pytest.raises(ZohoTokenThrottledError):
        TokenStore(engine, config, secret_key).get()  # another process: told by the database
    assert accounts.refreshes == 1


@pytest.mark.parametrize(
    ("error", "hint"),
    [("invalid_code", "ZOHO_REFRESH_TOKEN"), ("invalid_client", "ZOHO_CLIENT_ID")],
)
def test_bad_credentials_give_a_clear_permanent_error(
    tokens: TokenStore, accounts: Accounts, error: str, hint: str
) -> None:
    accounts.reply = {"error": error}
    with pytest.raises(ZohoAuthError) as caught:
        tokens.get()
    assert not caught.value.transient
    assert caught.value.code == error
    assert hint in str(caught.value)
    for secret in (REFRESH_TOKEN, CLIENT_SECRET):
        assert secret not in str(caught.value)
    with pytest.raises(ZohoAuthError):
        tokens.get()
    assert accounts.refreshes == 1  # no loop on the accounts server


def test_a_hung_refresh_elsewhere_is_a_transient_error(engine: sa.Engine, config: ZohoConfig,
                                                       secret_key: bytes,
                                                       accounts: Accounts) -> None:
    store = TokenStore(engine, config, secret_key, lock_timeout=0.2)
    with engine.connect() as other_process:
        other_process.execute(sa.text("SELECT pg_advisory_xact_lock(:id)"),
                              {"id": store._lock_id})
        with pytest.raises(ZohoTransientError, match="another process"):
            store.get()
    assert accounts.refreshes == 0
