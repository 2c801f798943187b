"""`kn-zoho webhooks serve` as a real server: a Books adjustment, its webhook, and the
storefront follows within seconds (no schedule involved)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
import sqlalchemy as sa
from cryptography.fernet import Fernet

from kn_zoho.sandbox import export_lines
from kn_zoho.storefront.seed import seed
from kn_zoho_tests.sync.books_fixtures import *  # noqa: F403 - pytest fixtures
from kn_zoho_tests.sync.books_fixtures import BooksSandbox, make_clients
from kn_zoho_tests.sync.stock_helpers import cycle, store_stock, sync_books

SECRET = "webhook-secret-for-tests"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.slow
def test_webhook_brings_a_books_adjustment_to_the_storefront(
        engine: sa.Engine, database_url: str, books_sandbox: BooksSandbox) -> None:
    seed(engine, users=2, products=2, orders=0, inquiries=0, quote_requests=0)
    clients = make_clients(engine, books_sandbox)
    sync_books(engine, clients)
    cycle(engine, clients)
    clients.close()
    env = {**os.environ, "KN_ZOHO_WEBHOOK_SECRET": SECRET,
           "KN_ZOHO_SECRET_KEY": Fernet.generate_key().decode()}
    for line in export_lines(books_sandbox.base_url):
        name, value = line.removeprefix("export ").split("=", 1)
        env[name] = value.strip("'")
    port = _free_port()
    server = subprocess.Popen(  # noqa: S603 - our own CLI
        [str(Path(sys.executable).with_name("kn-zoho")), "webhooks", "serve",
         "--database-url", database_url, "--port", str(port), "--debounce-seconds", "0.5"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        url = f"http://127.0.0.1:{port}/webhooks/books/inventoryadjustment"
        for _ in range(100):
            try:
                requests.post(url, json={}, timeout=1)
                break
            except requests.ConnectionError:
                time.sleep(0.1)
        sku = sorted(store_stock(engine))[0]
        expected = store_stock(engine)[sku] - 7
        books_sandbox._post("/__sandbox/books/adjust-stock",
                            {"sku": sku, "quantity_adjusted": -7})
        started = time.monotonic()
        assert requests.post(url, headers={"X-KN-Webhook-Secret": SECRET},
                             json={"inventory_adjustment": {"reason": "count"}},
                             timeout=5).status_code == 202
        while store_stock(engine)[sku] != expected and time.monotonic() - started < 20:
            time.sleep(0.1)
        assert store_stock(engine)[sku] == expected

        # the sandbox sends Books' webhooks itself, each one twice: the storefront follows once
        books_sandbox._post("/__sandbox/webhooks", {
            "url": f"http://127.0.0.1:{port}/webhooks/books", "secret": SECRET,
            "duplicate_rate": 1.0})
        books_sandbox._post("/__sandbox/books/credit-note", {"sku": sku, "quantity": 4})
        expected += 4
        started = time.monotonic()
        while store_stock(engine)[sku] != expected and time.monotonic() - started < 20:
            time.sleep(0.1)
        assert store_stock(engine)[sku] == expected
    finally:
        server.terminate()
        server.wait(10)
