"""Numbers from the environment: defaults, checks, and errors naming the variable."""

from __future__ import annotations

import pytest

from kn_zoho.env import env_number
from kn_zoho.sync.heartbeat import LeaseSettings
from kn_zoho.sync.retirement import RetirementPolicy
from kn_zoho.sync.runner import retry_base_seconds


def test_unset_or_blank_gives_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KN_ZOHO_X", raising=False)
    assert env_number("KN_ZOHO_X", 2.5) == 2.5
    monkeypatch.setenv("KN_ZOHO_X", "  ")
    assert env_number("KN_ZOHO_X", 2.5) == 2.5
    monkeypatch.setenv("KN_ZOHO_X", "0.25")
    assert env_number("KN_ZOHO_X", 2.5) == 0.25


@pytest.mark.parametrize(("value", "options", "says"), [
    ("ten", {}, "must be a number, got 'ten'"),
    ("-1", {}, "must be zero or more"),
    ("0", {"positive": True}, "must be positive"),
    ("2.5", {"integer": True}, "must be a whole number"),
])
def test_a_bad_value_names_the_variable(monkeypatch: pytest.MonkeyPatch, value: str,
                                        options: dict, says: str) -> None:
    monkeypatch.setenv("KN_ZOHO_X", value)
    with pytest.raises(ValueError, match="KN_ZOHO_X " + says):
        env_number("KN_ZOHO_X", 1.0, **options)


def test_the_settings_that_use_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KN_ZOHO_RETRY_BASE_SECONDS", "0")
    assert retry_base_seconds() == 0
    monkeypatch.setenv("KN_ZOHO_LEASE_SECONDS", "0")
    with pytest.raises(ValueError, match="KN_ZOHO_LEASE_SECONDS must be positive"):
        LeaseSettings.from_env()
    monkeypatch.setenv("KN_ZOHO_MAX_PARTITIONS_PER_ASSET", "500")
    assert RetirementPolicy.from_env().max_partitions == 500
