"""The HTTP session every Zoho call goes through."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import requests
from requests.auth import AuthBase


class _HeadersOnly(AuthBase):
    """Authentication is the request's own ``Authorization`` header (``Zoho-oauthtoken``), or
    none (the token refresh, whose secrets are in its form). As a session's auth it keeps
    requests from reading ``~/.netrc``, whose entry for a Zoho host would replace that header
    with Basic credentials (requests documents that netrc overrides headers): every call
    refused, and the netrc password sent to Zoho."""

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        return request


class ZohoSession(requests.Session):
    """A ``requests`` session that reads its proxy and CA bundle settings from the
    environment once per host, not on every request.

    ``requests`` scans the whole of ``os.environ`` twice a request for proxy variables
    (``get_environ_proxies``): a tenth of a fast Books sync's time. The environment of a
    process does not change under it, so the result for a host is kept; a call that passes
    its own proxies, stream, verify or cert still gets requests' own merge. A netrc file is
    never read (:class:`_HeadersOnly`).
    """

    def __init__(self) -> None:
        super().__init__()
        self.auth = _HeadersOnly()
        self._environment: dict[tuple[str, str], dict[str, Any]] = {}

    def merge_environment_settings(self, url: str, proxies: Any, stream: Any, verify: Any,
                                   cert: Any) -> dict[str, Any]:
        if proxies or stream is not None or verify is not None or cert is not None:
            return super().merge_environment_settings(url, proxies, stream, verify, cert)
        host = urlsplit(url)[:2]
        settings = self._environment.get(host)
        if settings is None:
            settings = super().merge_environment_settings(url, {}, None, None, None)
            self._environment[host] = settings
        return {**settings, "proxies": dict(settings["proxies"])}
