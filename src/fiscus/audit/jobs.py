"""Background jobs of the audit trail: sealing new rows into each tenant's chain."""

from __future__ import annotations

from procrastinate import Blueprint, JobContext

from fiscus.audit.chain import audit_seal
from fiscus.core.jobs import job_database
from fiscus.core.logging import get_logger

blueprint = Blueprint()
log = get_logger("fiscus.audit.jobs")


@blueprint.periodic(cron="* * * * *", periodic_id="seal-audit-chain")
@blueprint.task(name="audit.seal", queue="maintenance", pass_context=True)
async def seal(context: JobContext, timestamp: int) -> int:
    """Every minute: link new audit rows into their tenant's hash chain."""
    sealed = await audit_seal(job_database(context))
    log.info("audit_sealed", sealed=sealed, scheduled_at=timestamp)
    return sealed
