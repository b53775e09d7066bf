"""The scheduled close of business: every tenant's business date, late each day (UTC)."""

from __future__ import annotations

from procrastinate import Blueprint, JobContext

from fiscus.banking.cob import service
from fiscus.core.jobs import job_database
from fiscus.core.logging import get_logger

blueprint = Blueprint()
log = get_logger("fiscus.banking.cob.jobs")


@blueprint.periodic(cron="55 23 * * *", periodic_id="banking-cob-run")
@blueprint.task(name="banking.cob_run", queue="maintenance", pass_context=True, lock="banking-cob")
async def cob_run(context: JobContext, timestamp: int) -> int:
    """At 23:55 UTC: close each tenant's business date (not one already ahead of today).
    Safe to rerun: a completed date is not closed twice and a failed one resumes."""
    completed = await service.cob_run_all(job_database(context))
    log.info("cob_run", completed=completed, scheduled_at=timestamp)
    return completed
