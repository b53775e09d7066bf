"""`fiscus serve`'s HTTP server: SIGTERM stops it exactly as SIGINT (Ctrl-C) does.

uvicorn drains in-flight requests on either signal, but a second SIGTERM does not cut the
drain short (only a second SIGINT does), and after draining it raises the signal again:
SIGTERM's default action then kills the process before `fiscus serve` releases the embedded
PostgreSQL, which kept running (issue 22). Here both signals mean the same: the first
stops accepting and drains for `timeout_graceful_shutdown`, a second stops at once (exit
code 1), and `run` returns (or raises SystemExit) so that the caller's clean-up (stopping
the embedded server) runs.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

import uvicorn

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class StoppingServer(uvicorn.Server):
    """A uvicorn server for which SIGTERM and SIGINT are the same request to stop."""

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if not self.should_exit:
            self.should_exit = True
            return
        # The second signal: stop waiting for anything, also for the lifespan's shutdown
        # (running jobs), which uvicorn would still wait for. The exception leaves the
        # event loop (its tasks are cancelled) and the caller's clean-up still runs.
        self.force_exit = True
        raise SystemExit(1)

    @contextmanager
    def capture_signals(self) -> Iterator[None]:
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        previous = {number: signal.signal(number, self.handle_exit) for number in STOP_SIGNALS}
        try:
            yield
        finally:
            for number, handler in previous.items():
                signal.signal(number, handler)
