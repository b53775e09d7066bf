"""The dispatch job: send every due delivery, then arrange to wake for the next short retry."""

from __future__ import annotations

import contextlib
from datetime import timedelta

from procrastinate import Blueprint, JobContext
from procrastinate.exceptions import AlreadyEnqueued

from fiscus.core import clock
from fiscus.core.config import Settings
from fiscus.core.jobs import job_database, job_keyring
from fiscus.core.logging import get_logger
from fiscus.webhooks.delivery import deliveries_dispatch, next_due_at

blueprint = Blueprint()
log = get_logger("fiscus.webhooks")

DISPATCH_TASK = "webhooks:dispatch"
# Retries due later than this are left to the relay's one-minute sweep.
SHORT_WAIT = timedelta(seconds=60)


def job_settings(context: JobContext) -> Settings:
    """The worker's Settings, handed to jobs through procrastinate's context."""
    settings = context.additional_context.get("settings")
    assert isinstance(settings, Settings), "the worker runs jobs with Settings in its context"
    return settings


@blueprint.task(name="dispatch", queue="webhooks", pass_context=True)
async def dispatch(context: JobContext) -> int:
    """Send due webhook deliveries; schedule a follow-up run for a retry due within a minute."""
    db = job_database(context)
    attempts = await deliveries_dispatch(
        db, settings=job_settings(context), keyring=job_keyring(context)
    )
    due = await next_due_at(db)
    if due is not None and due - clock.now() <= SHORT_WAIT:
        # One scheduled run per second of due time, whatever number of runs asks for it.
        lock = f"{DISPATCH_TASK}@{int(due.timestamp())}"
        with contextlib.suppress(AlreadyEnqueued):
            await context.app.configure_task(
                DISPATCH_TASK, schedule_at=due, queueing_lock=lock
            ).defer_async()
    log.debug("webhooks_dispatched", attempts=attempts)
    return attempts
