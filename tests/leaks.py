"""Finding the processes a test run left running (issue 22's leak check).

The run's first process puts RUN_MARK=<id> in its environment; every process started from
it inherits it, including the PostgreSQL servers that pg_ctl detaches from their parent,
so "still running and carrying this run's id" is exactly "started by this run and not
stopped", whoever else uses the machine at the same time.
"""

from __future__ import annotations

import os

import psutil

RUN_MARK = "FISCUS_TEST_RUN"
# Servers asked to stop in a teardown may take a moment to exit: they are not leaks.
GRACE_S = 15.0


def _marked(run_id: str) -> list[psutil.Process]:
    found = []
    own = os.getpid()
    for process in psutil.process_iter():
        if process.pid == own:
            continue
        try:
            if process.environ().get(RUN_MARK) == run_id:
                found.append(process)
        except (psutil.AccessDenied, psutil.NoSuchProcess, psutil.ZombieProcess, OSError):
            continue
    return found


def leaked_processes(run_id: str) -> list[tuple[int, str]]:
    """(pid, command line) of each process of this run still alive after a short grace."""
    _, alive = psutil.wait_procs(_marked(run_id), timeout=GRACE_S)
    leaked = []
    for process in alive:
        try:
            if process.status() == psutil.STATUS_ZOMBIE:
                continue
            leaked.append((process.pid, " ".join(process.cmdline())[:300]))
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return leaked
