"""`fiscus serve`'s worker child: one `fiscus worker` process, started, watched and stopped.

The job worker runs in a process of its own so that its work (relay, fan-out, deliveries)
does not compete with requests for the API process's event loop. `serve` starts it with
its own settings (through the environment), restarts it after a delay when it dies (the
delay doubles up to `max_delay_s` while it keeps dying, and starts again from
`first_delay_s` once a child has run for `STEADY_S`), and stops it when `serve` stops.

The child runs in a session of its own: a Ctrl-C in a terminal reaches `serve` only, which
forwards it once (the worker would take a second signal as "stop at once"). A watcher
thread waits for the child; signals are sent from the caller's thread and never block.
"""

from __future__ import annotations

import signal
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence

from fiscus.core.logging import get_logger

log = get_logger("fiscus.supervisor")

# A child that ran this long is not "crashing in a loop": its next restart is quick again.
STEADY_S = 60.0
# After a second stop signal, how long the child has to abort its jobs before it is killed;
# after a first, the same margin beyond FISCUS_SHUTDOWN_TIMEOUT_S (its jobs' own limit) for
# recording the jobs it aborted and closing its connections.
FORCED_GRACE_S = 5.0


class WorkerChild:
    """Runs `command` as a child process until `stop`, restarting it when it exits."""

    def __init__(
        self,
        command: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        first_delay_s: float = 1.0,
        max_delay_s: float = 30.0,
    ) -> None:
        self.command = list(command)
        self.env = dict(env) if env is not None else None
        self.first_delay_s = first_delay_s
        self.max_delay_s = max_delay_s
        self.starts = 0
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._process: subprocess.Popen[bytes] | None = None
        self._stop_requested_at: float | None = None
        self._thread = threading.Thread(target=self._supervise, name="worker-child", daemon=True)

    @property
    def pid(self) -> int | None:
        """The running child's process id (None between restarts or once stopped)."""
        process = self._process
        return process.pid if process is not None and process.poll() is None else None

    def start(self) -> None:
        """Start the child and its watcher."""
        self._thread.start()

    def request_stop(self) -> None:
        """Ask the child to stop (SIGTERM) and not to restart it; returns at once.

        Called once per stop signal `serve` receives: the first lets the worker finish its
        running jobs (FISCUS_SHUTDOWN_TIMEOUT_S), a second makes it abort them.
        """
        with self._lock:
            self._stopping.set()
            process = self._process
            self._stop_requested_at = time.monotonic()
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGTERM)

    def stop(self, timeout_s: float) -> int | None:
        """Stop the child and wait for it; its exit code.

        Asks it to stop unless `request_stop` did already (the wait then counts from the
        latest request), and kills it once `timeout_s` have passed since.
        """
        if not self._stopping.is_set():
            self.request_stop()
        asked = self._stop_requested_at or time.monotonic()
        if self._thread.is_alive():
            self._thread.join(max(0.0, asked + timeout_s - time.monotonic()))
        process = self._process
        if process is None:
            return None
        if process.poll() is None:
            log.error("worker_child_killed", pid=process.pid, after_s=timeout_s)
            process.kill()
            process.wait()
            self._thread.join()
        return process.returncode

    def _spawn(self) -> subprocess.Popen[bytes] | None:
        with self._lock:
            if self._stopping.is_set():
                return None
            self._process = subprocess.Popen(  # noqa: S603 (our own command line)
                self.command, env=self.env, start_new_session=True
            )
            self.starts += 1
        log.info("worker_child_started", pid=self._process.pid, start=self.starts)
        return self._process

    def _supervise(self) -> None:
        delay = self.first_delay_s
        while True:
            process = self._spawn()
            if process is None:
                return
            began = time.monotonic()
            code = process.wait()
            if self._stopping.is_set():
                log.info("worker_child_stopped", pid=process.pid, exit_code=code)
                return
            if time.monotonic() - began >= STEADY_S:
                delay = self.first_delay_s
            log.error("worker_child_exited", pid=process.pid, exit_code=code, restart_in_s=delay)
            if self._stopping.wait(delay):
                return
            delay = min(delay * 2, self.max_delay_s)
