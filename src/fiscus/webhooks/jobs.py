"""The dispatch job: send every due delivery, then arrange to wake for the next short retry."""

from __future__ import annotations

import contextlib
from datetime import timedelta

from procrastinate import Blueprint, JobContext
from procrastinate.exceptions import AlreadyEnqueued

from fiscus.core import clock
from fiscus.core.jobs import job_database, job_keyring, job_settings
from fiscus.core.logging import get_logger
from fiscus.webhooks.delivery import deliveries_dispatch, next_due_at
from fiscus.webhooks.service import deliveries_purge

blueprint = Blueprint()
log = get_logger("fiscus.webhooks")

DISPATCH_TASK = "webhooks:dispatch"
# Retries due later than this are left to the relay's one-minute sweep.
SHORT_WAIT = timedelta(seconds=60)


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


@blueprint.periodic(cron="17 * * * *", periodic_id="purge-webhook-deliveries")
@blueprint.task(name="purge", queue="maintenance", pass_context=True)
async def purge(context: JobContext, timestamp: int) -> int:
    """Every hour: delete finished deliveries past FISCUS_RETENTION_WEBHOOK_DELIVERIES_DAYS."""
    days = job_settings(context).retention_webhook_deliveries_days
    deleted = await deliveries_purge(job_database(context), days=days)
    log.info("webhook_deliveries_purged", deleted=deleted, scheduled_at=timestamp)
    return deleted
