"""Builds the FastAPI application from the modules' routers."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI

from fiscus import __version__
from fiscus.access.api import router as access_router
from fiscus.access.policy import MONEY_PERMISSIONS
from fiscus.audit.api import router as audit_router
from fiscus.banking.alerts.api import router as alerts_router
from fiscus.banking.api import router as banking_router
from fiscus.banking.cob.api import router as cob_router
from fiscus.banking.fees.api import router as fees_router
from fiscus.banking.fx.api import router as fx_router
from fiscus.banking.insights.api import router as insights_router
from fiscus.banking.interest.api import router as interest_router
from fiscus.banking.statements.api import router as statements_router
from fiscus.core.admission import EXEMPT_PATHS, AdmissionMiddleware
from fiscus.core.config import Settings, load_settings
from fiscus.core.db import Database
from fiscus.core.embedded import EmbeddedPostgres
from fiscus.core.http import Metrics, RequestMiddleware, install_error_handlers
from fiscus.core.idempotency import IdempotencyStore
from fiscus.core.keyring import KeyRing, KeyRingError
from fiscus.core.logging import configure_logging, get_logger
from fiscus.core.migrate import script_heads
from fiscus.core.openapi import Contract, install_openapi
from fiscus.core.proxies import TrustedProxyMiddleware
from fiscus.events.api import router as events_router
from fiscus.identity.api import router as identity_router
from fiscus.identity.install import install_identity
from fiscus.ledger.api import router as ledger_router
from fiscus.messaging.api import router as messaging_router
from fiscus.messaging.service import RenderLimits
from fiscus.ops.api import router as ops_router
from fiscus.webhooks.api import router as webhooks_router
from fiscus.worker import build_job_app, open_job_pool, run_worker

log = get_logger("fiscus.api")

DESCRIPTION = """
fiscus is a multi-tenant financial platform around one double-entry ledger.

* Authenticate with **Authorize**: a person's access token (`POST /v1/auth/login`) or a
  service account's API key (`fsk_...`), both as `Authorization: Bearer ...`.
* Amounts are `{"amount": <integer minor units>, "currency": "EUR"}`.
* Errors are RFC 9457 `application/problem+json`; branch on `type`.
* POSTs that create or move something accept an `Idempotency-Key` header (required
  where money moves); every operation lists the problem `type`s it can answer with.
* Lists are cursor-paginated: `?limit=50&cursor=...` -> `{"data": [...], "next_cursor": ...}`.
"""


def create_app(settings: Settings | None = None) -> FastAPI:
    """The application; `uvicorn --factory fiscus.api:create_app` calls this."""
    settings = settings or load_settings()
    configure_logging(level=settings.log_level, json=settings.log_json)
    metrics = Metrics()
    app = FastAPI(
        title="fiscus",
        version=__version__,
        description=DESCRIPTION,
        lifespan=_lifespan,
    )
    # Security, headers and the problems of every operation are derived from the routes.
    install_openapi(app, Contract(exempt_paths=EXEMPT_PATHS, money_permissions=MONEY_PERMISSIONS))
    app.state.settings = settings
    app.state.metrics = metrics
    # Opened from the database at start (lifespan); identity and every module seal with it.
    app.state.keyring = KeyRing(settings.root_secrets)
    install_error_handlers(app)
    install_identity(app, settings)  # authenticator + rate limits (inside RequestMiddleware)
    # Overload becomes quick 503s, not a growing queue (core/admission.py); inside
    # RequestMiddleware so that a refusal is logged and counted like any response.
    app.add_middleware(
        AdmissionMiddleware,
        limit=settings.max_requests_in_progress,
        wait_s=settings.admission_wait_s,
    )
    app.add_middleware(RequestMiddleware, metrics=metrics, max_body_bytes=settings.max_body_bytes)
    # Outermost: every layer below (rate limits, logs, audit) sees the resolved client.
    app.add_middleware(TrustedProxyMiddleware, trusted=settings.trusted_proxies)
    # A request is matched against the routes in this order, one regular expression each:
    # the ledger's (balances, history, transfers: most of the traffic) go first.
    app.include_router(ledger_router)
    app.include_router(ops_router)
    app.include_router(identity_router)
    app.include_router(access_router)
    app.include_router(audit_router)
    app.include_router(events_router)
    app.include_router(webhooks_router)
    app.include_router(messaging_router)
    app.include_router(banking_router)
    app.include_router(fx_router)
    app.include_router(alerts_router)
    app.include_router(statements_router)
    app.include_router(insights_router)
    app.include_router(interest_router)
    app.include_router(fees_router)
    app.include_router(cob_router)
    return app


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: Settings = app.state.settings
    embedded: EmbeddedPostgres | None = None
    url = settings.database_url
    if url is None:
        embedded = EmbeddedPostgres(settings.data_dir)
        url = await asyncio.to_thread(embedded.start)
    db = Database(url, pool_size=settings.db_pool_size, max_overflow=settings.db_pool_overflow)
    app.state.db = db
    app.state.database_url = url
    keyring: KeyRing = app.state.keyring
    await _open_keyring(keyring, db)
    refresher = asyncio.create_task(keyring.keep_fresh(db))
    app.state.idempotency = IdempotencyStore(db, ttl_s=settings.idempotency_ttl_s, keyring=keyring)
    app.state.expected_heads = script_heads()
    app.state.redis = _redis_client(settings)
    job_app = build_job_app(url, template_limits=RenderLimits.of(settings))
    app.state.jobs = job_app
    worker_task: asyncio.Task[None] | None = None
    job_pool = await open_job_pool(url)
    async with job_app.open_async(pool=job_pool):
        if settings.run_worker:
            worker_task = asyncio.create_task(
                run_worker(
                    job_app,
                    db=db,
                    settings=settings,
                    keyring=keyring,
                    install_signal_handlers=False,
                )
            )
        try:
            yield
        finally:
            refresher.cancel()
            if worker_task is not None:
                worker_task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await worker_task
            if app.state.redis is not None:
                await app.state.redis.aclose()
            await job_pool.close()
            await db.dispose()
            if embedded is not None:
                await asyncio.to_thread(embedded.stop)


async def _open_keyring(keyring: KeyRing, db: Database) -> None:
    """Open the key ring; a wrong secret stops the start, an outage leaves it to the
    refresher (requests that need it answer 503 until the database is back)."""
    try:
        await keyring.load(db)
    except KeyRingError as error:
        # Another installation's database (a restore) or a secret that was changed
        # without FISCUS_PREVIOUS_SECRET_KEYS: refuse to start rather than answer 500s.
        log.error("keyring_refused", reason=str(error))
        raise
    except Exception as error:
        log.warning("keyring_not_loaded", cause=type(error).__name__)


def _redis_client(settings: Settings) -> Any:
    if settings.redis_url is None:
        return None
    from redis.asyncio import Redis

    return Redis.from_url(settings.redis_url, socket_connect_timeout=2, socket_timeout=2)
