"""The relay: run directly by the worker's LISTEN loop on commit, by its minute sweep, and
by the relay job that a worker defers once at start (and that a long sweep hands over to).

The LISTEN loop relays in the worker process itself, one relay at a time per process,
draining the outbox in batches (the advisory lock still serialises processes): a wake-up
costs the relay's own statements and nothing else, no job to defer, fetch and finish.
Notifications arriving while a relay runs fold into one follow-up relay, at most one per
KICK_INTERVAL_S, so under load each relay takes the many events committed meanwhile.
"""

from __future__ import annotations

import asyncio

import psycopg
from procrastinate import App, Blueprint, JobContext

from fiscus.core.db import Database, database_cause
from fiscus.core.events import (
    NOTIFY_CHANNEL,
    RELAY_BATCH,
    events_purge,
    events_relay,
    subscribers,
)
from fiscus.core.jobs import defer_once, job_database, job_keyring, job_settings
from fiscus.core.keyring import KeyRing
from fiscus.core.logging import get_logger

blueprint = Blueprint()
log = get_logger("fiscus.events")

RELAY_TASK = "events:relay"
# One relay run handles at most this many batches, then hands over to a fresh job so
# that one busy tenant cannot keep a worker slot forever.
MAX_BATCHES_PER_RUN = 40
# The listener relays at most this often, however many commits notify.
KICK_INTERVAL_S = 0.05
RECONNECT_S = 2.0


async def relay_drain(
    app: App, db: Database, keyring: KeyRing, *, max_batches: int | None = None
) -> tuple[int, bool]:
    """Relay batches until the outbox is drained (or `max_batches` ran); after each
    batch's commit, wake the subscribers whose fan-out created work. Returns the number
    of events relayed and whether the outbox was drained."""
    total, batches = 0, 0
    while max_batches is None or batches < max_batches:
        batch = await events_relay(db, keyring=keyring)
        batches += 1
        total += len(batch.events)
        for task in batch.wake_tasks():
            await defer_once(app, task)
        if len(batch.events) < RELAY_BATCH:
            return total, True
    return total, False


async def relay_run(context: JobContext) -> int:
    """Relay a bounded number of batches; hand the rest over to a fresh relay job."""
    total, drained = await relay_drain(
        context.app,
        job_database(context),
        job_keyring(context),
        max_batches=MAX_BATCHES_PER_RUN,
    )
    if not drained:
        await defer_once(context.app, RELAY_TASK)
    return total


@blueprint.task(name="relay", queue="events", pass_context=True)
async def relay(context: JobContext) -> int:
    """Number committed events and fan them out to webhooks and messaging."""
    relayed = await relay_run(context)
    log.debug("events_relayed", count=relayed)
    return relayed


@blueprint.periodic(cron="* * * * *", periodic_id="events-sweep")
@blueprint.task(name="sweep", queue="events", pass_context=True)
async def sweep(context: JobContext, timestamp: int) -> int:
    """Every minute, in case a notification was missed: relay and wake every subscriber."""
    relayed = await relay_run(context)
    for subscriber in subscribers():
        if subscriber.wake_task is not None:
            await defer_once(context.app, subscriber.wake_task)
    log.debug("events_swept", count=relayed, scheduled_at=timestamp)
    return relayed


async def listen_for_events(app: App, conninfo: str, *, db: Database, keyring: KeyRing) -> None:
    """Relay whenever an emitting transaction commits (runs until cancelled).

    Notifications only say "something committed"; the relay reads the table, so a missed
    notification costs latency (the sweep catches it), never an event. On start and after
    every reconnect a relay job is deferred and the subscribers are woken once, which is
    how a worker restarted after a crash finishes what the previous one left.
    """
    wanted = asyncio.Event()
    relayer = asyncio.create_task(_relay_loop(app, db, keyring, wanted))
    try:
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(
                    conninfo, autocommit=True
                ) as connection:
                    await connection.execute(f"LISTEN {NOTIFY_CHANNEL}")
                    await _wake_all(app)
                    async for _ in connection.notifies():
                        wanted.set()
            except psycopg.OperationalError as error:
                log.warning("events_listener_disconnected", error=str(error))
                await asyncio.sleep(RECONNECT_S)
    finally:
        relayer.cancel()
        await asyncio.wait([relayer], timeout=5)


async def _wake_all(app: App) -> None:
    await defer_once(app, RELAY_TASK)
    for subscriber in subscribers():
        if subscriber.wake_task is not None:
            await defer_once(app, subscriber.wake_task)


async def _relay_loop(app: App, db: Database, keyring: KeyRing, wanted: asyncio.Event) -> None:
    """One relay at a time: drain the outbox when woken, then let wake-ups gather briefly."""
    while True:
        await wanted.wait()
        wanted.clear()
        try:
            relayed, _ = await relay_drain(app, db, keyring)
            log.debug("events_relayed", count=relayed)
        except Exception as error:  # an outage, or a subscriber's bug: nothing committed
            # The events stay in the outbox; try again after a pause (the sweep, too).
            log.warning("events_relay_failed", error=str(database_cause(error)))
            wanted.set()
            await asyncio.sleep(RECONNECT_S)
        await asyncio.sleep(KICK_INTERVAL_S)


@blueprint.periodic(cron="7 * * * *", periodic_id="purge-events")
@blueprint.task(name="purge", queue="maintenance", pass_context=True)
async def purge(context: JobContext, timestamp: int) -> int:
    """Every hour: delete relayed events past FISCUS_RETENTION_EVENTS_DAYS."""
    days = job_settings(context).retention_events_days
    deleted = await events_purge(job_database(context), days=days)
    log.info("events_purged", deleted=deleted, scheduled_at=timestamp)
    return deleted
