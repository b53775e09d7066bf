"""The relay runs in the worker, woken by the commit's NOTIFY rather than the minute sweep.

The test waits for the worker's own signal that it is listening (its start-up relay job,
deferred right after LISTEN, has finished), not for a guessed number of seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid

from sqlalchemy import text

from fiscus.core.config import Settings
from fiscus.core.db import Database
from fiscus.core.events import emit, event_get
from fiscus.events.jobs import RELAY_TASK
from fiscus.worker import build_job_app, run_worker
from tests.factories import keyring_for


async def test_committed_event_is_relayed_within_seconds(
    db: Database, settings: Settings, clean_database: str
) -> None:
    tenant = uuid.uuid4()
    job_app = build_job_app(clean_database)
    async with job_app.open_async():
        worker = asyncio.create_task(
            run_worker(
                job_app,
                db=db,
                settings=settings,
                keyring=await keyring_for(db, settings),
                install_signal_handlers=False,
            )
        )
        try:
            assert await _listening(db), "the worker never finished its start-up relay"
            async with db.uow(tenant_id=tenant) as uow:
                event_id = await emit(
                    uow, tenant_id=tenant, type="card.frozen", subject="card/1", payload={}
                )
            started = time.monotonic()
            position = None
            while position is None and time.monotonic() - started < 20:
                await asyncio.sleep(0.1)
                async with db.uow(tenant_id=tenant) as uow:
                    event = await event_get(uow, tenant_id=tenant, event_id=event_id)
                    position = event.position if event else None
        finally:
            worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await worker
    assert position == 1


async def _relay_jobs_done(db: Database) -> int:
    async with db.uow() as uow:
        done = await uow.session.scalar(
            text(
                "SELECT count(*) FROM procrastinate_jobs"
                " WHERE task_name = :task AND status = 'succeeded'"
            ),
            {"task": RELAY_TASK},
        )
    return int(done or 0)


async def _listening(db: Database, timeout_s: float = 60.0) -> bool:
    """True once the listener's start-up relay job succeeded: it is deferred after LISTEN,
    so from then on a commit's NOTIFY reaches the worker."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if await _relay_jobs_done(db) > 0:
            return True
        await asyncio.sleep(0.05)
    return False
