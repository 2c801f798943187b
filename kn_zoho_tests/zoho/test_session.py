"""The Zoho session reads proxy and CA settings from the environment once per host (issue 12:
requests scanned os.environ twice a call), and still honours them."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests
import responses

from kn_zoho.zoho.session import ZohoSession


def test_environment_settings_are_read_once_per_host_and_honoured(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:3128")
    monkeypatch.setenv("NO_PROXY", "accounts.zoho.in")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/zoho-ca.pem")
    reads: list[str] = []
    original = requests.sessions.get_environ_proxies

    def counted(url: str, no_proxy: str | None = None) -> dict[str, str]:
        reads.append(url)
        return original(url, no_proxy=no_proxy)

    monkeypatch.setattr(requests.sessions, "get_environ_proxies", counted)
    session = ZohoSession()
    books = [session.merge_environment_settings(
        f"https://www.zohoapis.in/books/v3/invoices/{n}", {}, None, None, None)
        for n in range(3)]
    assert len(reads) == 1
    assert books[0]["proxies"]["https"] == "http://127.0.0.1:3128"
    assert books[0]["verify"] == "/etc/ssl/zoho-ca.pem"
    assert books[0] == books[2]
    accounts = session.merge_environment_settings("https://accounts.zoho.in/oauth/v2/token",
                                                  {}, None, None, None)
    assert len(reads) == 2
    assert "https" not in accounts["proxies"]  # NO_PROXY, as requests reads it
    # a call that names its own settings gets requests' own merge
    own = session.merge_environment_settings("https://www.zohoapis.in/x", {}, None, False, None)
    assert own["verify"] is False and len(reads) == 3


def test_a_session_that_does_not_trust_the_environment_ignores_it(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:3128")
    session = ZohoSession()
    session.trust_env = False
    settings = session.merge_environment_settings("https://www.zohoapis.in/crm/v8/Contacts",
                                                  {}, None, None, None)
    assert settings["proxies"] == {}


@responses.activate
def test_a_netrc_entry_for_a_zoho_host_never_replaces_the_oauth_header(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """requests lets a netrc entry override an Authorization header: with one for Zoho's hosts
    a plain session sends Basic credentials instead of the token."""
    netrc = tmp_path / "netrc"
    netrc.write_text("default login someone password secret\n")  # any host
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    url = "https://www.zohoapis.in/books/v3/items"
    responses.add(responses.GET, url, json={"code": 0})
    requests.Session().get(url, headers={"Authorization": "Zoho-oauthtoken abc"})
    ZohoSession().get(url, headers={"Authorization": "Zoho-oauthtoken abc"})
    plain, ours = (call.request.headers["Authorization"] for call in responses.calls)
    assert plain.startswith("Basic ")  # what the test guards against
    assert ours == "Zoho-oauthtoken abc"
    responses.add(responses.POST, "https://accounts.zoho.in/oauth/v2/token", json={})
    ZohoSession().post("https://accounts.zoho.in/oauth/v2/token", data={"grant_type": "x"})
    assert "Authorization" not in responses.calls[2].request.headers
