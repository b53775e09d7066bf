"""Race: two real job workers on one database run each tick of a scheduled job once.

Every worker runs procrastinate's periodic deferrer, so with two workers (or two hosts)
both defer every tick of every periodic task. procrastinate stores a deferral as a row
unique on (task, periodic id, tick timestamp) inserted in the same statement as the job,
so the second deferrer's insert is a no-op. Proven with two workers, each on its own
procrastinate App and connection pool (as two processes would be), started together:
a test task scheduled every 5 seconds is deferred by both workers for the same ticks
(seen in procrastinate's own log of each attempt), yet each tick has exactly one job in
`procrastinate_jobs` and its side effect happened exactly once; the production periodic
tasks both workers deferred meanwhile (the audit seal at least) likewise got one job per tick.

The 5-second cron (croniter's sixth field is the seconds) keeps the test short: the first
raced tick is usually the one each worker catches up on at start, the next a live tick. It also
stays far from the one case procrastinate does not cover: it keeps only the newest
deferral row per task, so a deferrer lagging more than a whole tick behind the other
could defer an old tick again. Two deferrers woken together on one loop are never 5 s
apart; in production the ticks are a minute or more apart.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter, defaultdict

import pytest
from procrastinate import App, JobContext
from sqlalchemy import text

from fiscus.core.config import Settings
from fiscus.core.db import Database
from fiscus.worker import build_job_app, open_job_pool, run_worker
from tests.factories import keyring_for

# Bursts of concurrent requests (or two workers): one at a time, on one xdist worker.
pytestmark = pytest.mark.xdist_group("races")

TICK_TASK = "races_tick"
TICK_CRON = "* * * * * */5"  # croniter: the sixth field is the seconds
RACED_TICKS = 2
TIMEOUT_S = 90.0


class DeferAttempts(logging.Handler):
    """Collects procrastinate's log of each periodic deferral attempt and its outcome."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.outcomes: dict[int, list[str]] = defaultdict(list)

    def emit(self, record: logging.LogRecord) -> None:
        action = getattr(record, "action", None)
        if getattr(record, "task_name", None) == TICK_TASK and action in (
            "periodic_task_deferred",
            "periodic_task_already_deferred",
        ):
            self.outcomes[int(record.defer_timestamp)].append(str(action))  # type: ignore[attr-defined]

    def raced(self) -> list[int]:
        """Ticks both workers tried to defer."""
        return sorted(tick for tick, tries in self.outcomes.items() if len(tries) >= 2)


def worker_app(database_url: str, runs: list[tuple[int, str]]) -> App:
    """The production job app plus the test's scheduled task, which records each run."""
    job_app = build_job_app(database_url)

    @job_app.periodic(cron=TICK_CRON, periodic_id="races-tick")
    @job_app.task(name=TICK_TASK, queue="maintenance", pass_context=True)
    async def tick(context: JobContext, timestamp: int) -> None:
        runs.append((timestamp, context.worker_name or ""))

    return job_app


async def _succeeded_ticks(db: Database) -> set[int]:
    async with db.uow() as uow:
        rows = await uow.session.execute(
            text(
                "SELECT (args->>'timestamp')::bigint FROM procrastinate_jobs"
                " WHERE task_name = :task AND status = 'succeeded'"
            ),
            {"task": TICK_TASK},
        )
    return {row[0] for row in rows}


async def test_two_workers_run_each_tick_of_a_scheduled_job_once(
    db: Database, settings: Settings
) -> None:
    url = settings.database_url or ""
    runs: list[tuple[int, str]] = []
    attempts = DeferAttempts()
    periodic_log = logging.getLogger("procrastinate.periodic")
    previous_level = periodic_log.level
    periodic_log.setLevel(logging.DEBUG)
    periodic_log.addHandler(attempts)
    apps = [worker_app(url, runs) for _ in range(2)]
    pools = [await open_job_pool(url) for _ in apps]
    try:
        async with contextlib.AsyncExitStack() as stack:
            for job_app, pool in zip(apps, pools, strict=True):
                await stack.enter_async_context(job_app.open_async(pool=pool))
            workers = [
                asyncio.create_task(
                    run_worker(
                        job_app,
                        db=db,
                        settings=settings,
                        keyring=await keyring_for(db, settings),
                        install_signal_handlers=False,
                        name=f"worker-{index}",
                    )
                )
                for index, job_app in enumerate(apps)
            ]
            try:
                async with asyncio.timeout(TIMEOUT_S):
                    while len(attempts.raced()) < RACED_TICKS or not set(
                        attempts.raced()
                    ) <= await _succeeded_ticks(db):
                        assert not any(w.done() for w in workers), [w for w in workers if w.done()]
                        await asyncio.sleep(0.2)
            finally:
                for worker in workers:
                    worker.cancel()
                for worker in workers:
                    with contextlib.suppress(asyncio.CancelledError):
                        await worker
    finally:
        periodic_log.removeHandler(attempts)
        periodic_log.setLevel(previous_level)
        for pool in pools:
            await pool.close()

    raced = attempts.raced()
    assert len(raced) >= RACED_TICKS
    # Each raced tick: one deferral went in, the other worker's was a no-op ...
    for tick in raced:
        assert sorted(attempts.outcomes[tick]) == [
            "periodic_task_already_deferred",
            "periodic_task_deferred",
        ], (tick, attempts.outcomes[tick])
    # ... so every tick has one job, and its side effect happened once.
    async with db.uow() as uow:
        jobs = (
            await uow.session.execute(
                text(
                    "SELECT task_name, (args->>'timestamp')::bigint, count(*)"
                    " FROM procrastinate_jobs WHERE args ? 'timestamp'"
                    " GROUP BY 1, 2"
                )
            )
        ).all()
    assert jobs, "the workers deferred no periodic job"
    assert [job for job in jobs if job[2] != 1] == []
    assert {job[0] for job in jobs} >= {TICK_TASK, "audit:audit.seal"}, jobs
    ran = Counter(timestamp for timestamp, _ in runs)
    assert [tick for tick, count in ran.items() if count != 1] == []
    assert set(raced) <= set(ran)
