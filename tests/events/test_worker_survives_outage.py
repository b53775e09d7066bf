"""The job worker keeps working after it loses its database connections.

procrastinate stops its worker when a side task (its LISTEN connection, the heartbeat)
fails, as it does when PostgreSQL restarts. The 15-minute chaos run found fiscus' worker
then idle for good: alive, holding no worker row, running nothing. `run_worker` now starts
procrastinate's worker again until it is told to stop. Here every connection of the worker
is terminated by PostgreSQL itself (what a restart does to them), and an event committed
afterwards must still be relayed.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid

import psycopg
import psycopg.conninfo
import psycopg.sql

from fiscus.core.config import Settings
from fiscus.core.db import Database
from fiscus.core.events import emit, event_get
from fiscus.worker import build_job_app, run_worker
from tests.factories import keyring_for


async def _relayed(db: Database, tenant: uuid.UUID, timeout_s: float = 60) -> int | None:
    async with db.uow(tenant_id=tenant) as uow:
        event_id = await emit(
            uow, tenant_id=tenant, type="card.frozen", subject="card/1", payload={}
        )
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        await asyncio.sleep(0.2)
        async with db.uow(tenant_id=tenant) as uow:
            event = await event_get(uow, tenant_id=tenant, event_id=event_id)
        if event is not None and event.position is not None:
            return event.position
    return None


async def _outage(url: str, seconds: float) -> int:
    """What a PostgreSQL restart does to the worker: its sessions end, and for a few
    seconds no new one can start. Returns how many sessions were ended."""
    target = psycopg.conninfo.conninfo_to_dict(url)["dbname"]
    admin_url = psycopg.conninfo.make_conninfo(url, dbname="postgres")
    name = psycopg.sql.Identifier(str(target))
    async with await psycopg.AsyncConnection.connect(admin_url, autocommit=True) as admin:
        await admin.execute(
            psycopg.sql.SQL("ALTER DATABASE {} ALLOW_CONNECTIONS false").format(name)
        )
        try:
            cursor = await admin.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                " WHERE datname = %s AND application_name <> 'fiscus'",
                (target,),
            )
            row = await cursor.fetchone()
            await asyncio.sleep(seconds)
        finally:
            await admin.execute(
                psycopg.sql.SQL("ALTER DATABASE {} ALLOW_CONNECTIONS true").format(name)
            )
    return int(row[0]) if row else 0


async def test_worker_restarts_after_losing_its_listen_connections(
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
                restart_delay_s=0.5,
            )
        )
        try:
            assert await _relayed(db, tenant) == 1
            # procrastinate's pool and LISTEN connection (a side task: its loss stops the
            # worker), and our own LISTEN connection.
            assert await _outage(clean_database, seconds=3.0) >= 2
            assert await _relayed(db, tenant) == 2
            assert not worker.done()
        finally:
            worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait_for(worker, timeout=30)
    assert worker.cancelled() or worker.exception() is None
