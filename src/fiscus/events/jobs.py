"""The relay job, its periodic sweep, and the LISTEN loop that wakes it on commit."""

from __future__ import annotations

import asyncio

import psycopg
from procrastinate import App, Blueprint, JobContext

from fiscus.core.events import (
    NOTIFY_CHANNEL,
    RELAY_BATCH,
    events_purge,
    events_relay_batch,
    subscribers,
)
from fiscus.core.jobs import defer_once, job_database, job_keyring, job_settings
from fiscus.core.logging import get_logger

blueprint = Blueprint()
log = get_logger("fiscus.events")

RELAY_TASK = "events:relay"
# One relay run handles at most this many batches, then hands over to a fresh job so
# that one busy tenant cannot keep a worker slot forever.
MAX_BATCHES_PER_RUN = 40
# The listener defers the relay at most this often, however many commits notify.
KICK_INTERVAL_S = 0.05
RECONNECT_S = 2.0


async def relay_run(context: JobContext) -> int:
    """Relay batches until the outbox is drained (bounded); wake the subscribers."""
    app, db, keyring = context.app, job_database(context), job_keyring(context)
    total = 0
    for _ in range(MAX_BATCHES_PER_RUN):
        batch = await events_relay_batch(db, keyring=keyring)
        total += len(batch)
        if batch:
            for subscriber in subscribers():
                if subscriber.wake_task is not None:
                    await defer_once(app, subscriber.wake_task)
        if len(batch) < RELAY_BATCH:
            return total
    await defer_once(app, RELAY_TASK)
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


async def listen_for_events(app: App, conninfo: str) -> None:
    """Wake the relay whenever an emitting transaction commits (runs until cancelled).

    Notifications only say "something committed"; the relay reads the table, so a missed
    notification costs latency (the sweep catches it), never an event. On start and after
    every reconnect the relay and the subscribers are woken once, which is how a worker
    restarted after a crash finishes what the previous one left.
    """
    wanted = asyncio.Event()
    kicker = asyncio.create_task(_kick_loop(app, wanted))
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
        kicker.cancel()
        await asyncio.wait([kicker], timeout=5)


async def _wake_all(app: App) -> None:
    await defer_once(app, RELAY_TASK)
    for subscriber in subscribers():
        if subscriber.wake_task is not None:
            await defer_once(app, subscriber.wake_task)


async def _kick_loop(app: App, wanted: asyncio.Event) -> None:
    while True:
        await wanted.wait()
        wanted.clear()
        try:
            await defer_once(app, RELAY_TASK)
        except psycopg.Error as error:
            log.warning("events_relay_defer_failed", error=str(error))
            wanted.set()
        await asyncio.sleep(KICK_INTERVAL_S)


@blueprint.periodic(cron="7 * * * *", periodic_id="purge-events")
@blueprint.task(name="purge", queue="maintenance", pass_context=True)
async def purge(context: JobContext, timestamp: int) -> int:
    """Every hour: delete relayed events past FISCUS_RETENTION_EVENTS_DAYS."""
    days = job_settings(context).retention_events_days
    deleted = await events_purge(job_database(context), days=days)
    log.info("events_purged", deleted=deleted, scheduled_at=timestamp)
    return deleted
