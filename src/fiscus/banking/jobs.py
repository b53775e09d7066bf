"""Banking background jobs: pay the standing orders due by each tenant's business date; close
the previous month's statements."""

from __future__ import annotations

from procrastinate import Blueprint, JobContext

from fiscus.banking import service
from fiscus.banking.statements._monthly import statements_month_close_all
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


@blueprint.periodic(cron="30 2 * * *", periodic_id="statements-month-close")
@blueprint.task(
    name="banking.statements_month_close",
    queue="maintenance",
    pass_context=True,
    lock="statements-month-close",
)
async def statements_month_close(context: JobContext, timestamp: int) -> int:
    """Daily at 02:30 UTC: the previous month's statement for every account of every
    tenant (by its business date), each once; the customers' users are told."""
    report = await statements_month_close_all(job_database(context))
    log.info(
        "statements_month_close",
        accounts=report.accounts,
        created=report.created,
        scheduled_at=timestamp,
    )
    return report.created
