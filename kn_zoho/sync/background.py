"""One daemon thread running a caller's database work in order, while the caller waits on
Zoho: the stock lock's 'sending' during the invoice's create, the next order's start during
this one's calls. A daemon, so a process stopping never waits for it (a connection it holds
goes with the process, and with it any advisory lock)."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, TypeVar

T = TypeVar("T")


class BackgroundThread:
    """Runs the work handed to :meth:`run` one item at a time, in order; :meth:`stop` ends
    the thread after the work already handed over."""

    def __init__(self, name: str) -> None:
        self._work: queue.SimpleQueue[tuple[Callable[[], Any], Future[Any]] | None] = (
            queue.SimpleQueue())
        threading.Thread(target=self._serve, name=name, daemon=True).start()

    def run(self, work: Callable[[], T]) -> Future[T]:
        future: Future[T] = Future()
        self._work.put((work, future))
        return future

    def stop(self) -> None:
        self._work.put(None)

    def _serve(self) -> None:
        while (item := self._work.get()) is not None:
            work, future = item
            if future.set_running_or_notify_cancel():
                try:
                    future.set_result(work())
                except BaseException as error:  # handed to the owner through the future
                    future.set_exception(error)
