"""Background work: the procrastinate app, its tasks from every module, and the worker loop."""

from __future__ import annotations

import asyncio
import copy
import functools
import signal
from typing import Any

import psycopg_pool
from procrastinate import App, Blueprint, PsycopgConnector

from fiscus.audit import jobs as audit_jobs
from fiscus.banking import jobs as banking_jobs
from fiscus.banking.cob import jobs as cob_jobs
from fiscus.banking.fx import jobs as fx_jobs
from fiscus.core import events
from fiscus.core import jobs as core_jobs
from fiscus.core.config import Settings
from fiscus.core.db import Database, libpq_url
from fiscus.core.keyring import KeyRing
from fiscus.core.logging import get_logger
from fiscus.events import jobs as events_jobs
from fiscus.identity.service import (
    EMAIL_CHANGE_EVENT,
    EMAIL_CODE_EVENT,
    EMAIL_REQUESTED_EVENT,
    MFA_RESET_EVENT,
    RESET_EVENT,
    SMS_CODE_EVENT,
    email_change_token_unseal,
    factor_code_unseal,
    reset_token_unseal,
)
from fiscus.ledger import jobs as ledger_jobs
from fiscus.messaging import jobs as messaging_jobs
from fiscus.messaging._directory import (
    IdentityDirectory,
    email_change_recipient,
    factor_code_recipient,
)
from fiscus.messaging._recipients import (
    directory,
    install_builtin_resolvers,
    install_directory,
    payload_user,
    register_resolver,
)
from fiscus.messaging._secrets import register_secret
from fiscus.messaging.service import RenderLimits, messages_fan_out
from fiscus.webhooks import jobs as webhooks_jobs
from fiscus.webhooks.service import deliveries_fan_out

log = get_logger("fiscus.worker")

QUEUES = ("default", "maintenance", "events", "webhooks", "messaging")


def install_event_subscribers(template_limits: RenderLimits | None = None) -> None:
    """Tell the outbox relay which modules fan committed events out, and how to wake them;
    messages render their templates within `template_limits` (the defaults if None)."""
    limits = template_limits or RenderLimits()
    events.subscribe(
        events.Subscriber(
            name="webhooks", fan_out=deliveries_fan_out, wake_task=webhooks_jobs.DISPATCH_TASK
        )
    )
    events.subscribe(
        events.Subscriber(
            name="messaging",
            fan_out=functools.partial(messages_fan_out, limits=limits),
            wake_task=messaging_jobs.DISPATCH_TASK,
        )
    )
    install_builtin_resolvers()
    # The reset email carries the token that identity sealed into the event payload.
    register_secret(
        RESET_EVENT,
        "reset_token",
        lambda keyring, _tenant, payload: reset_token_unseal(keyring, payload),
    )
    # An email change: the token to the new address; a notice to an address in use.
    register_resolver(EMAIL_CHANGE_EVENT, email_change_recipient)
    register_secret(
        EMAIL_CHANGE_EVENT,
        "email_change_token",
        lambda keyring, _tenant, payload: email_change_token_unseal(keyring, payload),
    )
    register_resolver(EMAIL_REQUESTED_EVENT, payload_user)
    register_resolver(MFA_RESET_EVENT, payload_user)
    # Second-factor codes: to the factor's own address or number, sealed until sent.
    for code_event in (EMAIL_CODE_EVENT, SMS_CODE_EVENT):
        register_resolver(code_event, factor_code_recipient)
        register_secret(
            code_event,
            "code",
            functools.partial(_factor_code, code_event),
        )


def _factor_code(event: str, keyring: KeyRing, _tenant: object, payload: dict[str, Any]) -> str:
    return factor_code_unseal(keyring, event, payload)


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


def build_job_app(database_url: str, *, template_limits: RenderLimits | None = None) -> App:
    """The procrastinate app on the same PostgreSQL as everything else."""
    app = App(connector=PsycopgConnector(conninfo=libpq_url(database_url), min_size=1, max_size=4))
    for namespace, blueprint in (
        ("core", core_jobs.blueprint),
        ("audit", audit_jobs.blueprint),
        ("events", events_jobs.blueprint),
        ("webhooks", webhooks_jobs.blueprint),
        ("messaging", messaging_jobs.blueprint),
        ("ledger", ledger_jobs.blueprint),
        ("banking.fx", fx_jobs.blueprint),
        ("banking", banking_jobs.blueprint),
        ("banking.cob", cob_jobs.blueprint),
    ):
        app.add_tasks_from(_copy_of(blueprint), namespace=namespace)
    install_event_subscribers(template_limits)
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


RESTART_DELAY_S = 2.0
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


async def run_worker(
    job_app: App,
    *,
    db: Database,
    settings: Settings,
    keyring: KeyRing,
    concurrency: int = 4,
    wait: bool = True,
    install_signal_handlers: bool = True,
    restart_delay_s: float = RESTART_DELAY_S,
    **options: Any,
) -> None:
    """Run jobs until stopped (or, with wait=False, until the queue is empty).

    A waiting worker also listens for committed events and relays them at once, itself.
    procrastinate stops its worker (or raises) when one of its side tasks (its LISTEN
    connection, the heartbeat) or its job fetch loses the database, as on every PostgreSQL
    restart. Nothing asked this worker to stop, so it starts procrastinate's again after
    `restart_delay_s`, until
    it is cancelled or (with `install_signal_handlers`) gets SIGINT or SIGTERM.
    """
    previous_directory = directory()
    install_directory(IdentityDirectory(db, keyring))
    run = functools.partial(
        job_app.run_worker_async,
        concurrency=concurrency,
        wait=wait,
        install_signal_handlers=False,
        # On a stop, running jobs get this long to finish, then are aborted (and retried).
        shutdown_graceful_timeout=settings.shutdown_timeout_s,
        additional_context={"db": db, "settings": settings, "keyring": keyring},
        **options,
    )
    if not wait:
        try:
            await run()
        finally:
            install_directory(previous_directory)
        return
    listener = asyncio.create_task(
        events_jobs.listen_for_events(job_app, libpq_url(db.url), db=db, keyring=keyring)
    )
    stopping = _stop_on_signals() if install_signal_handlers else None
    try:
        while True:
            try:
                await run()
                cause = "stopped"
            except Exception as error:  # jobs' own errors never get here: these are outages
                cause = type(error).__name__
            log.error("job_worker_stopped", cause=cause, restart_in_s=restart_delay_s)
            await asyncio.sleep(restart_delay_s)
    except asyncio.CancelledError:
        if stopping is None or not stopping.is_set():
            raise
        current = asyncio.current_task()
        if current is not None:
            current.uncancel()  # our own signal handler asked for this stop: it is not an error
    finally:
        if install_signal_handlers:
            for number in STOP_SIGNALS:
                asyncio.get_running_loop().remove_signal_handler(number)
        install_directory(previous_directory)
        listener.cancel()
        await asyncio.wait([listener], timeout=10)


def _stop_on_signals() -> asyncio.Event:
    """Cancel the running task on SIGINT/SIGTERM; procrastinate's worker then stops gracefully."""
    stopping = asyncio.Event()
    task = asyncio.current_task()
    assert task is not None

    def stop() -> None:
        stopping.set()
        task.cancel()

    for number in STOP_SIGNALS:
        asyncio.get_running_loop().add_signal_handler(number, stop)
    return stopping
