"""Running the sandbox: in a background thread for tests and the demo, or in the foreground.

The listening socket is bound before uvicorn starts, so port 0 yields a free port whose
number is known at once, and the export lines can be printed before serving.
"""

from __future__ import annotations

import socket
import threading
import time
from types import TracebackType

import uvicorn
from starlette.applications import Starlette

from kn_zoho.sandbox.app import create_app
from kn_zoho.sandbox.config import SandboxConfig
from kn_zoho.sandbox.credentials import export_lines
from kn_zoho.sandbox.state import SandboxState

STARTUP_TIMEOUT_SECONDS = 10.0


def _bind(host: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(128)
    return sock


def _server(app: Starlette) -> uvicorn.Server:
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off",
                            timeout_graceful_shutdown=1)
    return uvicorn.Server(config)


class RunningSandbox:
    """A sandbox serving on a daemon thread; stop() (or leaving the with-block) ends it."""

    def __init__(self, app: Starlette, host: str, port: int) -> None:
        self.app = app
        self._socket = _bind(host, port)
        self.host = host
        self.port: int = self._socket.getsockname()[1]
        self.base_url = f"http://{host}:{self.port}"
        self._server = _server(app)
        self._thread = threading.Thread(target=self._server.run,
                                        kwargs={"sockets": [self._socket]},
                                        name=f"zoho-sandbox-{self.port}", daemon=True)

    @property
    def state(self) -> SandboxState:
        return self.app.state.sandbox

    def start(self) -> RunningSandbox:
        """Start serving and return once the server accepts connections."""
        self._thread.start()
        deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the Zoho sandbox did not start on {self.base_url}")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        if self._thread.is_alive():
            self._thread.join(timeout=STARTUP_TIMEOUT_SECONDS)
        self._socket.close()

    def __enter__(self) -> RunningSandbox:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.stop()


def start_sandbox(config: SandboxConfig | None = None, host: str = "127.0.0.1",
                  port: int = 0) -> RunningSandbox:
    """Serve a fresh sandbox in the background; port 0 picks a free port (see .base_url)."""
    return RunningSandbox(create_app(config), host, port).start()


def serve(config: SandboxConfig | None = None, host: str = "127.0.0.1",
          port: int = 8765) -> None:
    """Serve in the foreground until interrupted, after printing the client's export lines."""
    sock = _bind(host, port)
    for line in export_lines(f"http://{host}:{sock.getsockname()[1]}"):
        print(line, flush=True)
    try:
        _server(create_app(config)).run(sockets=[sock])
    finally:
        sock.close()
