"""The relay runs in the worker, woken by the commit's NOTIFY rather than the minute sweep."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid

from fiscus.core.config import Settings
from fiscus.core.db import Database
from fiscus.core.events import emit, event_get
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
            await asyncio.sleep(1.0)  # the worker is up and listening
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
