"""FX background job: load the provider's reference rates each working day."""

from __future__ import annotations

from procrastinate import Blueprint, JobContext

from fiscus.banking.fx.errors import ProviderUnavailable
from fiscus.banking.fx.service import provider_load
from fiscus.core.jobs import job_database, job_settings
from fiscus.core.logging import get_logger

blueprint = Blueprint()
log = get_logger("fiscus.banking.fx.jobs")


# The ECB publishes around 16:00 CET (15:00 UTC in winter, 14:00 in summer).
@blueprint.periodic(cron="30 15 * * 1-5", periodic_id="fx-rates-load")
@blueprint.task(name="banking.fx_rates_load", queue="maintenance", pass_context=True)
async def fx_rates_load(context: JobContext, timestamp: int) -> int:
    """Each working day: store the provider's rates in every tenant (none configured: 0)."""
    settings = job_settings(context)
    if settings.fx_rates_url is None:
        return 0
    try:
        stored = await provider_load(job_database(context), settings=settings)
    except ProviderUnavailable as error:
        log.warning("fx_rates_provider_unavailable", detail=error.detail)
        return 0
    log.info("fx_rates_loaded", stored=stored, scheduled_at=timestamp)
    return stored
