"""Banking background job: pay the standing orders due by each tenant's business date."""

from __future__ import annotations

from procrastinate import Blueprint, JobContext

from fiscus.banking import service
from fiscus.core.jobs import job_database
from fiscus.core.logging import get_logger

blueprint = Blueprint()
log = get_logger("fiscus.banking.jobs")


@blueprint.periodic(cron="*/5 * * * *", periodic_id="standing-orders-run")
@blueprint.task(
    name="banking.standing_orders_run",
    queue="maintenance",
    pass_context=True,
    lock="standing-orders",
)
async def standing_orders_run(context: JobContext, timestamp: int) -> int:
    """Every five minutes: pay what is due (and retries whose time has come) in every
    tenant, up to its business date. Safe to overlap or rerun: each occurrence pays once."""
    report = await service.standing_orders_run_all(job_database(context))
    log.info(
        "standing_orders_run",
        orders=report.orders,
        paid=report.paid,
        retrying=report.retrying,
        failed=report.failed,
        scheduled_at=timestamp,
    )
    return report.paid
