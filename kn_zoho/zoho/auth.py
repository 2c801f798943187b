"""One shared Zoho OAuth access token per account, encrypted in Postgres.

Zoho lets a refresh token mint only about ten access tokens per ten minutes, and every
Dagster run is its own process, so processes must not refresh on their own: the token lives in
``integration.zoho_oauth_tokens`` (Fernet-encrypted with ``KN_ZOHO_SECRET_KEY``), every
process reuses it until shortly before expiry, and a refresh happens under a PostgreSQL
advisory lock. Whoever waited on the lock re-reads the row and reuses the new token.
Expiry is measured on the database clock, so machines with skewed clocks agree.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import requests
import sqlalchemy as sa
from cryptography.fernet import Fernet, InvalidToken

from kn_zoho.storefront.db import data_dir
from kn_zoho.zoho.config import ZohoConfig, ZohoConfigError
from kn_zoho.zoho.errors import (
    ZohoAuthError,
    ZohoTokenThrottledError,
    ZohoTransientError,
)
from kn_zoho.zoho.redaction import register_secret
from kn_zoho.zoho.session import ZohoSession

log = logging.getLogger(__name__)

SECRET_KEY_ENV = "KN_ZOHO_SECRET_KEY"  # noqa: S105 - names, not secrets
SECRET_KEY_FILE = "secret.key"  # noqa: S105
TOKEN_PATH = "/oauth/v2/token"  # noqa: S105 - a URL path

DEFAULT_REFRESH_MARGIN = 300.0  # refresh five minutes before Zoho's one-hour expiry
DEFAULT_THROTTLE_PAUSE = 120.0  # after "Access Denied", ask the accounts server again no sooner
DEFAULT_LOCK_TIMEOUT = 120.0  # longest wait for another process's refresh


# --------------------------------------------------------------------------- encryption key


def load_secret_key(embedded_default: bool) -> bytes:
    """The Fernet key that encrypts tokens at rest.

    From ``KN_ZOHO_SECRET_KEY``; on the embedded demo database only, a key generated once into
    ``<KN_ZOHO_DATA_DIR>/secret.key`` (mode 0600) so a newcomer needs no setup. A real
    deployment must set the variable: a key on a container's disk would be lost on restart.
    """
    value = os.environ.get(SECRET_KEY_ENV, "").strip()
    if value:
        return _validated_key(value.encode(), SECRET_KEY_ENV)
    if not embedded_default:
        raise ZohoConfigError(
            f"environment variable {SECRET_KEY_ENV} is not set: it encrypts the Zoho access "
            f"token stored in the database. Generate one with: python -c \"from "
            f"cryptography.fernet import Fernet; print(Fernet.generate_key().decode())\""
        )
    return _load_or_create_key_file(data_dir() / SECRET_KEY_FILE)


def _validated_key(key: bytes, source: str) -> bytes:
    try:
        Fernet(key)
    except ValueError:
        raise ZohoConfigError(
            f"{source} is not a valid Fernet key (32 url-safe base64-encoded bytes)"
        ) from None
    return key


def _load_or_create_key_file(path: Path) -> bytes:
    """Read the key file, creating it atomically if absent (two processes may race here)."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            with os.fdopen(descriptor, "wb") as handle:
                handle.write(Fernet.generate_key())
                handle.flush()
                os.fsync(handle.fileno())
            with contextlib.suppress(FileExistsError):  # another process created it first
                os.link(temporary, path)
        finally:
            temporary.unlink(missing_ok=True)
    return _validated_key(path.read_bytes().strip(), str(path))


# --------------------------------------------------------------------------- token store


def account_key(config: ZohoConfig) -> str:
    """Row key for the account: a digest, so the refresh token itself is never stored."""
    material = "\n".join((config.accounts_url, config.client_id, config.refresh_token))
    return hashlib.sha256(material.encode()).hexdigest()


@dataclass(frozen=True)
class AccessToken:
    """A usable access token and the API base URL it belongs to."""

    value: str = field(repr=False)
    api_domain: str
    expires_at: datetime


@dataclass
class _Cached:
    token: AccessToken
    usable_until: float  # time.monotonic() deadline, margin already subtracted


class TokenStore:
    """Hands out the shared access token, refreshing it once for all processes."""

    def __init__(
        self,
        engine: sa.Engine,
        config: ZohoConfig,
        secret_key: bytes,
        *,
        session: requests.Session | None = None,
        timeout: tuple[float, float] = (10.0, 30.0),
        refresh_margin: float = DEFAULT_REFRESH_MARGIN,
        throttle_pause: float = DEFAULT_THROTTLE_PAUSE,
        lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
    ) -> None:
        self._engine = engine
        self._config = config
        self._fernet = Fernet(secret_key)
        self._session = session or ZohoSession()
        self._timeout = timeout
        self._margin = refresh_margin
        self._throttle_pause = throttle_pause
        self._lock_timeout = lock_timeout
        self.account_key = account_key(config)
        digest = hashlib.sha256(f"kn_zoho.oauth:{self.account_key}".encode()).digest()
        self._lock_id = int.from_bytes(digest[:8], "big", signed=True)
        self._throttle_bucket = f"oauth-throttle:{self.account_key[:16]}"
        self._thread_lock = threading.Lock()
        self._cached: _Cached | None = None
        self._blocked_until = 0.0  # monotonic; the accounts server throttles us until then
        self._fatal: ZohoAuthError | None = None
        self.refreshes = 0  # refreshes this store performed (for tests and summaries)
        for secret in config.secrets():
            register_secret(secret)

    def get(self) -> AccessToken:
        """A token valid for at least the refresh margin; refreshes only if nobody has."""
        cached = self._cached
        if cached and cached.usable_until > time.monotonic():
            return cached.token
        with self._thread_lock:
            cached = self._cached
            if cached and cached.usable_until > time.monotonic():
                return cached.token
            with self._engine.connect() as conn:
                stored = self._read(conn)
                conn.rollback()
            if stored:
                return self._remember(*stored)
            return self._refresh(rejected=None)

    def invalidate(self, rejected: str) -> AccessToken:
        """Zoho rejected ``rejected`` (401): get a different token, refreshing only if needed.

        If another thread or process already replaced it, that replacement is returned and
        no refresh happens.
        """
        with self._thread_lock:
            cached = self._cached
            if cached and cached.token.value != rejected and cached.usable_until > time.monotonic():
                return cached.token
            self._cached = None
            return self._refresh(rejected=rejected)

    # -- internals (called with the thread lock held) -------------------------------------

    def _refresh(self, rejected: str | None) -> AccessToken:
        if self._fatal is not None:
            raise self._fatal
        self._raise_if_blocked()
        with self._engine.connect() as conn:
            conn.execute(
                sa.text("SELECT set_config('lock_timeout', :timeout, true)"),
                {"timeout": f"{int(self._lock_timeout * 1000)}ms"},
            )
            try:
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(:id)"), {"id": self._lock_id})
            except sa.exc.OperationalError:  # lock_timeout: the refreshing process hangs
                raise ZohoTransientError(
                    f"waited {self._lock_timeout:g} s for another process to refresh the Zoho "
                    "access token", code="TOKEN_LOCK_TIMEOUT",
                ) from None
            stored = self._read(conn)
            if stored and stored[0] != rejected:
                conn.commit()
                return self._remember(*stored)
            blocked_for = conn.execute(
                sa.text(
                    "SELECT EXTRACT(EPOCH FROM theoretical_arrival - clock_timestamp())"
                    " FROM integration.zoho_rate_limits WHERE bucket = :bucket"
                ),
                {"bucket": self._throttle_bucket},
            ).scalar()
            if blocked_for is not None and blocked_for > 0:
                conn.commit()
                self._blocked_until = time.monotonic() + float(blocked_for)
                self._raise_if_blocked()
            try:
                value, api_domain, expires_in = self._request_token()
            except ZohoTokenThrottledError:
                self._record_throttle(conn)
                conn.commit()
                raise
            remaining = self._write(conn, value, api_domain, expires_in)
            conn.commit()
        self.refreshes += 1
        log.info(
            "refreshed the Zoho access token for account %s (api domain %s)",
            self.account_key[:12], api_domain,
        )
        return self._remember(value, api_domain, remaining)

    def _raise_if_blocked(self) -> None:
        wait = self._blocked_until - time.monotonic()
        if wait > 0:
            raise ZohoTokenThrottledError(
                "Zoho's accounts server is throttling token refreshes for this refresh token "
                f"(too many in a short time); not asking again for {wait:.0f} s",
                code="Access Denied",
                retry_after=wait,
            )

    def _record_throttle(self, conn: sa.Connection) -> None:
        """Tell every process to leave the accounts server alone for a while."""
        conn.execute(
            sa.text(
                "INSERT INTO integration.zoho_rate_limits AS r (bucket, theoretical_arrival)"
                " VALUES (:bucket, clock_timestamp() + make_interval(secs => :pause))"
                " ON CONFLICT (bucket) DO UPDATE SET theoretical_arrival ="
                "  GREATEST(r.theoretical_arrival, EXCLUDED.theoretical_arrival)"
            ),
            {"bucket": self._throttle_bucket, "pause": self._throttle_pause},
        )
        self._blocked_until = time.monotonic() + self._throttle_pause

    def _remember(self, value: str, api_domain: str, remaining: float) -> AccessToken:
        register_secret(value)
        token = AccessToken(
            value=value,
            api_domain=api_domain,
            expires_at=datetime.now(UTC) + timedelta(seconds=remaining),
        )
        self._cached = _Cached(token, time.monotonic() + remaining - self._margin)
        return token

    def _read(self, conn: sa.Connection) -> tuple[str, str, float] | None:
        """The stored token if it is still usable for longer than the margin."""
        row = conn.execute(
            sa.text(
                "SELECT access_token_encrypted, api_domain,"
                " EXTRACT(EPOCH FROM expires_at - clock_timestamp()) AS remaining"
                " FROM integration.zoho_oauth_tokens WHERE account_key = :key"
            ),
            {"key": self.account_key},
        ).one_or_none()
        if row is None or float(row.remaining) <= self._margin:
            return None
        try:
            value = self._fernet.decrypt(row.access_token_encrypted.encode()).decode()
        except InvalidToken:
            log.warning(
                "the stored Zoho access token cannot be decrypted with the current %s "
                "(key changed?); a new token will be fetched",
                SECRET_KEY_ENV,
            )
            return None
        return value, row.api_domain, float(row.remaining)

    def _write(self, conn: sa.Connection, value: str, api_domain: str, expires_in: float
               ) -> float:
        encrypted = self._fernet.encrypt(value.encode()).decode()
        return float(
            conn.execute(
                sa.text(
                    "INSERT INTO integration.zoho_oauth_tokens AS t"
                    " (account_key, access_token_encrypted, api_domain, expires_at)"
                    " VALUES (:key, :token, :domain,"
                    "         clock_timestamp() + make_interval(secs => :expires_in))"
                    " ON CONFLICT (account_key) DO UPDATE SET"
                    "  access_token_encrypted = EXCLUDED.access_token_encrypted,"
                    "  api_domain = EXCLUDED.api_domain, expires_at = EXCLUDED.expires_at,"
                    "  refreshed_at = now(), refresh_count = t.refresh_count + 1"
                    " RETURNING EXTRACT(EPOCH FROM expires_at - clock_timestamp())"
                ),
                {"key": self.account_key, "token": encrypted, "domain": api_domain,
                 "expires_in": expires_in},
            ).scalar_one()
        )

    def _request_token(self) -> tuple[str, str, float]:
        """Ask the accounts server for a new access token; classify every failure.

        The credentials go in the form body, not the URL, so no proxy or request log sees them.
        """
        url = self._config.accounts_url + TOKEN_PATH
        try:
            response = self._session.post(
                url,
                data={
                    "client_id": self._config.client_id,
                    "client_secret": self._config.client_secret,
                    "grant_type": "refresh_token",
                    "refresh_token": self._config.refresh_token,
                },
                timeout=self._timeout,
            )
        except requests.Timeout:
            raise ZohoTransientError(
                f"timed out asking {url} for an access token", code="TIMEOUT"
            ) from None
        except requests.RequestException as exc:
            raise ZohoTransientError(
                f"could not reach {url} for an access token ({type(exc).__name__})",
                code="CONNECTION_ERROR",
            ) from None
        try:
            body = response.json()
        except ValueError:
            body = None
        status = response.status_code
        if not isinstance(body, dict):
            raise ZohoTransientError(
                f"unexpected reply from {url} (HTTP {status}, not JSON)", http_status=status
            )
        error = body.get("error")
        if error or status >= 400 or not body.get("access_token"):
            raise self._token_error(str(error or ""), str(body.get("error_description", "")),
                                    status)
        api_domain = str(body.get("api_domain") or _default_api_domain(self._config.accounts_url))
        return str(body["access_token"]), api_domain.rstrip("/"), float(
            body.get("expires_in", 3600)
        )

    def _token_error(self, error: str, description: str, status: int) -> Exception:
        accounts = self._config.accounts_url
        if error == "Access Denied" or "too many requests" in description.lower():
            return ZohoTokenThrottledError(
                "Zoho's accounts server refused the token refresh: too many refreshes for this "
                "refresh token in a short time (it allows about 10 per 10 minutes). Waiting "
                "before asking again; check for another system using the same refresh token",
                code="Access Denied", http_status=status, retry_after=self._throttle_pause,
            )
        if status >= 500:
            return ZohoTransientError(
                f"Zoho's accounts server failed (HTTP {status}) refreshing the access token",
                code=error or None, http_status=status,
            )
        if error == "invalid_code":
            self._fatal = ZohoAuthError(
                f"Zoho rejected the refresh token (invalid_code) at {accounts}: it is wrong, "
                f"revoked, or from another data centre. Generate a new one (API console, Self "
                f"Client) for this data centre and set ZOHO_REFRESH_TOKEN",
                code=error, http_status=status,
            )
        elif error == "invalid_client":
            self._fatal = ZohoAuthError(
                f"Zoho does not know this client (invalid_client) at {accounts}: check "
                f"ZOHO_CLIENT_ID and ZOHO_CLIENT_SECRET, and that ZOHO_ACCOUNTS_URL is the data "
                f"centre where the client was registered (India: https://accounts.zoho.in)",
                code=error, http_status=status,
            )
        else:
            self._fatal = ZohoAuthError(
                f"Zoho refused to refresh the access token at {accounts}: "
                f"{error or 'no access_token in the reply'} {description}".strip(),
                code=error or None, http_status=status,
            )
        return self._fatal


def _default_api_domain(accounts_url: str) -> str:
    """``https://accounts.zoho.in`` -> ``https://www.zohoapis.in``, for replies without one."""
    parts = urlsplit(accounts_url)
    host = parts.hostname or ""
    return f"{parts.scheme}://{host.replace('accounts.zoho', 'www.zohoapis', 1)}"
