"""Ledger background jobs: voiding pending transfers whose timeout has passed."""

from __future__ import annotations

from procrastinate import Blueprint, JobContext

from fiscus.core.jobs import job_database
from fiscus.core.logging import get_logger
from fiscus.ledger import service

blueprint = Blueprint()
log = get_logger("fiscus.ledger.jobs")


@blueprint.periodic(cron="* * * * *", periodic_id="expire-pending-transfers")
@blueprint.task(name="ledger.expire_pending_transfers", queue="maintenance", pass_context=True)
async def expire_pending_transfers(context: JobContext, timestamp: int) -> int:
    """Every minute: void pending transfers past their timeout (1,000 at most per run)."""
    voided = await service.pending_expire(db=job_database(context))
    log.info("pending_transfers_expired", voided=voided, scheduled_at=timestamp)
    return voided
