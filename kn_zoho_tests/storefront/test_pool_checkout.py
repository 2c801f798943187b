"""A pooled connection the server closed while it was idle is replaced at check-out, without
a ping per check-out (kn_zoho.storefront.db.check_at_checkout)."""

from __future__ import annotations

import time

import pytest
import sqlalchemy as sa

from kn_zoho.storefront import db


def _backend_pid(engine: sa.Engine) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.text("SELECT pg_backend_pid()")).scalar_one()


def _pings(engine: sa.Engine, monkeypatch: pytest.MonkeyPatch) -> list[object]:
    pinged: list[object] = []
    real = engine.dialect.do_ping

    def counting(dbapi_connection: object) -> bool:
        pinged.append(dbapi_connection)
        return real(dbapi_connection)

    monkeypatch.setattr(engine.dialect, "do_ping", counting)
    return pinged


def test_a_connection_killed_while_idle_in_the_pool_is_replaced_before_use(
        engine: sa.Engine, admin_engine: sa.Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    pinged = _pings(engine, monkeypatch)
    first = _backend_pid(engine)
    assert _backend_pid(engine) == first and pinged == []  # reused as is, no ping
    with admin_engine.connect() as admin:  # waits until the backend is gone
        admin.execute(sa.text("SELECT pg_terminate_backend(:pid, 5000)"), {"pid": first})
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and not db._socket_readable(
            engine.pool._pool.queue[0].dbapi_connection.fileno()):
        time.sleep(0.01)  # the server's goodbye reaches our socket
    second = _backend_pid(engine)  # no error: the dead connection was never handed out
    assert second != first
    assert len(pinged) == 1


def test_a_connection_idle_for_long_is_pinged_and_a_busy_one_is_not(
        engine: sa.Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    pinged = _pings(engine, monkeypatch)
    first = _backend_pid(engine)
    for _ in range(5):
        assert _backend_pid(engine) == first
    assert pinged == []
    monkeypatch.setattr(db, "PING_AFTER_IDLE_SECONDS", 0.0)
    assert _backend_pid(engine) == first  # pinged, alive, kept
    assert len(pinged) == 1
