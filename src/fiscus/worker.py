"""Background work: the procrastinate app, its tasks from every module, and the worker loop."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import psycopg_pool
from procrastinate import App, PsycopgConnector

from fiscus.core import events
from fiscus.core import jobs as core_jobs
from fiscus.core.config import Settings
from fiscus.core.db import Database, libpq_url
from fiscus.events import jobs as events_jobs
from fiscus.messaging import jobs as messaging_jobs
from fiscus.messaging._recipients import install_builtin_resolvers
from fiscus.messaging.service import messages_fan_out
from fiscus.webhooks import jobs as webhooks_jobs
from fiscus.webhooks.service import deliveries_fan_out

QUEUES = ("default", "maintenance", "events", "webhooks", "messaging")


def install_event_subscribers() -> None:
    """Tell the outbox relay which modules fan committed events out, and how to wake them."""
    events.subscribe(
        events.Subscriber(
            name="webhooks", fan_out=deliveries_fan_out, wake_task=webhooks_jobs.DISPATCH_TASK
        )
    )
    events.subscribe(
        events.Subscriber(
            name="messaging", fan_out=messages_fan_out, wake_task=messaging_jobs.DISPATCH_TASK
        )
    )
    install_builtin_resolvers()


def build_job_app(database_url: str) -> App:
    """The procrastinate app on the same PostgreSQL as everything else."""
    app = App(connector=PsycopgConnector(conninfo=libpq_url(database_url), min_size=1, max_size=4))
    app.add_tasks_from(core_jobs.blueprint, namespace="core")
    app.add_tasks_from(events_jobs.blueprint, namespace="events")
    app.add_tasks_from(webhooks_jobs.blueprint, namespace="webhooks")
    app.add_tasks_from(messaging_jobs.blueprint, namespace="messaging")
    install_event_subscribers()
    return app


async def open_job_pool(
    database_url: str, *, max_size: int = 4
) -> psycopg_pool.AsyncConnectionPool:
    """A connection pool for the job app that opens without waiting for the database.

    procrastinate's own pool waits for a first connection, which would keep the API from
    starting (and /readyz from reporting the outage) while PostgreSQL is down.
    """
    pool = psycopg_pool.AsyncConnectionPool(
        libpq_url(database_url),
        min_size=1,
        max_size=max_size,
        open=False,
        check=psycopg_pool.AsyncConnectionPool.check_connection,
        kwargs={"connect_timeout": 5, "application_name": "fiscus-jobs"},
    )
    await pool.open(wait=False)
    return pool


async def run_worker(
    job_app: App,
    *,
    db: Database,
    settings: Settings,
    concurrency: int = 4,
    wait: bool = True,
    install_signal_handlers: bool = True,
    **options: Any,
) -> None:
    """Run jobs until stopped (or, with wait=False, until the queue is empty).

    A waiting worker also listens for committed events and wakes the relay at once.
    """
    listener: asyncio.Task[None] | None = None
    if wait:
        listener = asyncio.create_task(events_jobs.listen_for_events(job_app, libpq_url(db.url)))
    try:
        await job_app.run_worker_async(
            concurrency=concurrency,
            wait=wait,
            install_signal_handlers=install_signal_handlers,
            additional_context={"db": db, "settings": settings},
            **options,
        )
    finally:
        if listener is not None:
            listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await listener
