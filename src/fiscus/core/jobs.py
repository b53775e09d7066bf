"""Background jobs that `core` owns: housekeeping of its own tables."""

from __future__ import annotations

import contextlib

from procrastinate import App, Blueprint, JobContext
from procrastinate.exceptions import AlreadyEnqueued

from fiscus.core.config import Settings
from fiscus.core.db import Database
from fiscus.core.idempotency import IdempotencyStore
from fiscus.core.keyring import KeyRing
from fiscus.core.logging import get_logger

blueprint = Blueprint()
log = get_logger("fiscus.jobs")


def job_database(context: JobContext) -> Database:
    """The worker's Database, handed to every job through procrastinate's context."""
    db = context.additional_context.get("db")
    assert isinstance(db, Database), "the worker runs jobs with a Database in its context"
    return db


def job_settings(context: JobContext) -> Settings:
    """The worker's Settings, handed to jobs through procrastinate's context."""
    settings = context.additional_context.get("settings")
    assert isinstance(settings, Settings), "the worker runs jobs with Settings in its context"
    return settings


def job_keyring(context: JobContext) -> KeyRing:
    """The worker's key ring, handed to every job through procrastinate's context."""
    ring = context.additional_context.get("keyring")
    assert isinstance(ring, KeyRing), "the worker runs jobs with the key ring in its context"
    return ring


@blueprint.periodic(cron="*/15 * * * *", periodic_id="purge-idempotency-keys")
@blueprint.task(name="purge_idempotency_keys", queue="maintenance", pass_context=True)
async def purge_idempotency_keys(context: JobContext, timestamp: int) -> int:
    """Every 15 minutes: delete idempotency keys past their 24-hour lifetime."""
    deleted = await IdempotencyStore(job_database(context)).purge_expired()
    log.info("idempotency_keys_purged", deleted=deleted, scheduled_at=timestamp)
    return deleted


async def defer_once(app: App, task_name: str) -> None:
    """Queue `task_name` unless a run of it is already waiting (a queueing lock of its name).

    Waking a worker this way is idempotent: a burst of wake-ups leaves one queued job,
    and a wake-up while the task runs queues exactly one follow-up run.
    """
    with contextlib.suppress(AlreadyEnqueued):
        await app.configure_task(task_name, queueing_lock=task_name).defer_async()
