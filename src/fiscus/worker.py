"""Background work: the procrastinate app, its tasks from every module, and the worker loop."""

from __future__ import annotations

import asyncio
import contextlib
import copy
from typing import Any

import psycopg_pool
from procrastinate import App, Blueprint, PsycopgConnector

from fiscus.audit import jobs as audit_jobs
from fiscus.core import events
from fiscus.core import jobs as core_jobs
from fiscus.core.config import Settings
from fiscus.core.db import Database, libpq_url
from fiscus.events import jobs as events_jobs
from fiscus.identity.service import RESET_EVENT, reset_token_unseal
from fiscus.ledger import jobs as ledger_jobs
from fiscus.messaging import jobs as messaging_jobs
from fiscus.messaging._directory import IdentityDirectory
from fiscus.messaging._recipients import (
    directory,
    install_builtin_resolvers,
    install_directory,
)
from fiscus.messaging._secrets import register_secret
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
    # The reset email carries the token that identity sealed into the event payload.
    register_secret(
        RESET_EVENT,
        "reset_token",
        lambda settings, _tenant, payload: reset_token_unseal(
            settings.resolved_secret_key, payload
        ),
    )


def _copy_of(blueprint: Blueprint) -> Blueprint:
    """A fresh copy of a module's blueprint, for one App.

    procrastinate's `add_tasks_from` renames the blueprint's tasks in place (adds the
    namespace), so a second App built in the same process (tests, `serve --reload`) would
    get `core:core:...` names; copying first keeps every App's task names right.
    """
    fresh = Blueprint()
    copies = {id(task): copy.copy(task) for task in blueprint.tasks.values()}
    for task in copies.values():
        task.blueprint = fresh
    fresh.tasks = {name: copies[id(task)] for name, task in blueprint.tasks.items()}
    for periodic in blueprint.periodic_registry.periodic_tasks.values():
        fresh.periodic_registry.register_task(
            task=copies[id(periodic.task)],
            cron=periodic.cron,
            periodic_id=periodic.periodic_id,
            configure_kwargs=periodic.configure_kwargs,
        )
    return fresh


def build_job_app(database_url: str) -> App:
    """The procrastinate app on the same PostgreSQL as everything else."""
    app = App(connector=PsycopgConnector(conninfo=libpq_url(database_url), min_size=1, max_size=4))
    for namespace, blueprint in (
        ("core", core_jobs.blueprint),
        ("audit", audit_jobs.blueprint),
        ("events", events_jobs.blueprint),
        ("webhooks", webhooks_jobs.blueprint),
        ("messaging", messaging_jobs.blueprint),
        ("ledger", ledger_jobs.blueprint),
    ):
        app.add_tasks_from(_copy_of(blueprint), namespace=namespace)
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
    previous_directory = directory()
    install_directory(IdentityDirectory(db))
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
        install_directory(previous_directory)
        if listener is not None:
            listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await listener
