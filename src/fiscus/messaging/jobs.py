"""The messaging dispatch job: send queued email and SMS."""

from __future__ import annotations

from procrastinate import Blueprint, JobContext

from fiscus.core.config import Settings
from fiscus.core.jobs import job_database, job_keyring
from fiscus.core.logging import get_logger
from fiscus.messaging.dispatch import messages_dispatch

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
