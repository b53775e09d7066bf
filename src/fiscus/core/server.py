"""`fiscus serve`'s HTTP server: SIGTERM stops it exactly as SIGINT (Ctrl-C) does.

uvicorn drains in-flight requests on either signal, but a second SIGTERM does not cut the
drain short (only a second SIGINT does), and after draining it raises the signal again:
SIGTERM's default action then kills the process before `fiscus serve` releases the embedded
PostgreSQL, which kept running (issue 22). Here both signals mean the same: the first
stops accepting and drains for `timeout_graceful_shutdown`, a second stops at once
(`forced`; `fiscus serve` then exits with code 1), and `run` returns so that the caller's
clean-up (stopping the embedded server) runs.

The signals are handled by the event loop (`loop.add_signal_handler`), so a handler runs
as a loop callback between tasks, never in the middle of one: an exception raised from a
`signal.signal` handler lands in whatever code happens to run, and uvicorn's lifespan task
swallows every exception (it logs it), which once turned a forced stop into exit code 0.
"""

from __future__ import annotations

import asyncio
import signal
import socket
import threading
from collections.abc import Callable
from types import FrameType

import uvicorn

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class StoppingServer(uvicorn.Server):
    """A uvicorn server for which SIGTERM and SIGINT are the same request to stop."""

    forced = False

    def __init__(
        self, config: uvicorn.Config, *, on_signal: Callable[[bool], None] | None = None
    ) -> None:
        super().__init__(config)
        # Told of each stop signal (with True for the second, the forced one) as it
        # arrives, so that a companion (serve's worker child) stops alongside the drain.
        self.on_signal = on_signal

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if self.on_signal is not None:
            self.on_signal(self.should_exit)
        if not self.should_exit:
            self.should_exit = True
            return
        # The second signal: stop waiting for anything, also for the lifespan's shutdown
        # (running jobs), which uvicorn would still wait for. Every task is cancelled:
        # the lifespan's clean-up runs without waiting for jobs, and `serve` returns.
        self.forced = True
        self.force_exit = True
        for task in asyncio.all_tasks():
            task.cancel()

    async def serve(self, sockets: list[socket.socket] | None = None) -> None:
        in_main_thread = threading.current_thread() is threading.main_thread()
        loop = asyncio.get_running_loop()
        previous = {number: signal.getsignal(number) for number in STOP_SIGNALS}
        if in_main_thread:
            for number in STOP_SIGNALS:
                loop.add_signal_handler(number, self.handle_exit, number, None)
        try:
            await self._serve(sockets)
        except asyncio.CancelledError:
            if not self.forced:
                raise
            current = asyncio.current_task()
            if current is not None:
                current.uncancel()  # our own second-signal stop, not an error
        finally:
            if in_main_thread:
                for number in STOP_SIGNALS:
                    loop.remove_signal_handler(number)
                    signal.signal(number, previous[number])
