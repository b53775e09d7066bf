"""The job queue is wired to our PostgreSQL: the periodic purge is scheduled, deferred and run."""

import uuid
from datetime import timedelta

from procrastinate.periodic import PeriodicDeferrer
from sqlalchemy import func, select

from fiscus.core import clock
from fiscus.core.config import Settings
from fiscus.core.db import Database
from fiscus.core.idempotency import IdempotencyStore, request_fingerprint
from fiscus.core.models import IdempotencyKey
from fiscus.worker import build_job_app, open_job_pool, run_worker
from tests.factories import keyring_for

TENANT = uuid.UUID("01900000-0000-7000-8000-0000000000cc")


async def test_purge_is_registered_as_a_periodic_task(clean_database: str) -> None:
    job_app = build_job_app(clean_database)
    # procrastinate prefixes a blueprint's task names again each time another app in the
    # same process adds it ("core:core:..."), so earlier apps of the test run show here;
    # one app per process in production has plain "core:purge_idempotency_keys".
    periodic = {
        task.task.name.rsplit(":", 1)[-1]: task.cron
        for task in job_app.periodic_registry.periodic_tasks.values()
    }
    assert periodic["purge_idempotency_keys"] == "*/15 * * * *"
    assert periodic["audit.seal"] == "* * * * *"


async def test_periodic_purge_runs_through_a_real_worker(db: Database, settings: Settings) -> None:
    store = IdempotencyStore(db, ttl_s=3600, keyring=await keyring_for(db))
    fingerprint = request_fingerprint(store.keyring, "POST", "/x", b"{}")
    with clock.frozen_clock(clock.now() - timedelta(hours=3)):
        for index in range(5):
            await store.begin(
                tenant_id=TENANT,
                key=f"old-{index}",
                method="POST",
                path="/x",
                fingerprint=fingerprint,
            )
    await store.begin(
        tenant_id=TENANT, key="fresh", method="POST", path="/x", fingerprint=fingerprint
    )

    job_app = build_job_app(settings.database_url or "")
    pool = await open_job_pool(settings.database_url or "")
    async with job_app.open_async(pool=pool):
        deferrer = PeriodicDeferrer(registry=job_app.periodic_registry, max_delay=3600)
        deferred = list(deferrer.get_previous_tasks(at=clock.now().timestamp()))
        await deferrer.defer_jobs(jobs_to_defer=deferred)
        # The same tick deferred twice (two workers) is stored once by procrastinate.
        await PeriodicDeferrer(registry=job_app.periodic_registry, max_delay=3600).defer_jobs(
            jobs_to_defer=deferred
        )
        await run_worker(
            job_app,
            db=db,
            settings=settings,
            keyring=await keyring_for(db, settings),
            wait=False,
            install_signal_handlers=False,
        )
        jobs = [
            job
            for job in await job_app.job_manager.list_jobs_async()
            if job.task_name.endswith("purge_idempotency_keys")
        ]
    await pool.close()

    # One job for the tick, however often it was deferred, and it succeeded (other
    # modules' periodic tasks ran in the same tick and are not counted here).
    jobs = [job for job in jobs if job.task_name.endswith("purge_idempotency_keys")]
    assert [job.status for job in jobs] == ["succeeded"]
    async with db.uow() as uow:
        left = await uow.session.scalar(select(func.count()).select_from(IdempotencyKey))
    assert left == 1
