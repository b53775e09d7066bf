"""The messaging dispatch job: send queued email and SMS."""

from __future__ import annotations

from procrastinate import Blueprint, JobContext

from fiscus.core.config import Settings
from fiscus.core.jobs import job_database, job_keyring, job_settings
from fiscus.core.logging import get_logger
from fiscus.messaging.dispatch import messages_dispatch
from fiscus.messaging.service import messages_purge

blueprint = Blueprint()
log = get_logger("fiscus.messaging")

DISPATCH_TASK = "messaging:dispatch"


@blueprint.task(name="dispatch", queue="messaging", pass_context=True)
async def dispatch(context: JobContext) -> int:
    """Send due messages; the relay wakes this task and its one-minute sweep retries."""
    settings = context.additional_context.get("settings")
    assert isinstance(settings, Settings)
    handled = await messages_dispatch(
        job_database(context), settings=settings, keyring=job_keyring(context)
    )
    log.debug("messages_dispatched", handled=handled)
    return handled


@blueprint.periodic(cron="27 * * * *", periodic_id="purge-messages")
@blueprint.task(name="purge", queue="maintenance", pass_context=True)
async def purge(context: JobContext, timestamp: int) -> int:
    """Every hour: delete messages past FISCUS_RETENTION_MESSAGES_DAYS (never queued ones)."""
    days = job_settings(context).retention_messages_days
    deleted = await messages_purge(job_database(context), days=days)
    log.info("messages_purged", deleted=deleted, scheduled_at=timestamp)
    return deleted
