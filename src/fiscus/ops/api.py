"""GET /healthz, /readyz and /metrics."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Request
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text
from starlette.responses import Response

from fiscus.core.errors import PROBLEM_BASE
from fiscus.core.http import problem_response
from fiscus.core.idempotency import model_response
from fiscus.core.migrate import current_heads_sync
from fiscus.ops.schemas import Liveness, Readiness

router = APIRouter(tags=["operations"])
CHECK_TIMEOUT_S = 3.0


@router.get("/healthz", summary="Liveness: the process is up", response_model=Liveness)
async def healthz() -> dict[str, str]:
    """Answers 200 while the process runs; it checks nothing else on purpose."""
    return {"status": "ok"}


@router.get(
    "/readyz",
    summary="Readiness: database reachable and migrated, Redis reachable when configured",
    responses={
        200: {"model": Readiness},
        503: {
            "description": "A dependency is down; `checks` says which and why",
            "x-problem-types": {"not-ready": "Not ready"},
        },
    },
)
async def readyz(request: Request) -> Response:
    """200 when this node can serve traffic; 503 problem+json naming the failed check."""
    state = request.app.state
    checks: dict[str, Any] = {"database": await _check_database(state), "redis": "not configured"}
    if state.redis is not None:
        checks["redis"] = await _check_redis(state.redis)
    failed = {
        name: status for name, status in checks.items() if status not in ("ok", "not configured")
    }
    if not failed:
        return model_response({"status": "ready", "checks": checks})
    reason = "; ".join(f"{name}: {status}" for name, status in failed.items())
    return problem_response(
        status=503,
        body={
            "type": PROBLEM_BASE + "not-ready",
            "title": "Not ready",
            "status": 503,
            "detail": reason,
            "instance": "/readyz",
            "checks": checks,
        },
        headers={"Retry-After": "5"},
    )


async def _check_database(state: Any) -> str:
    try:
        async with asyncio.timeout(CHECK_TIMEOUT_S):
            async with state.db.engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
                heads = await connection.run_sync(current_heads_sync)
    except Exception as error:  # any failure here means "not ready", with the reason
        return f"unreachable ({type(error).__name__})"
    if heads != state.expected_heads:
        missing = ", ".join(sorted(state.expected_heads - heads)) or "unknown"
        return f"migrations not at head (missing {missing}); run `fiscus migrate`"
    return "ok"


async def _check_redis(redis: Any) -> str:
    try:
        async with asyncio.timeout(CHECK_TIMEOUT_S):
            await redis.ping()
    except Exception as error:  # any failure here means "not ready", with the reason
        return f"unreachable ({type(error).__name__})"
    return "ok"


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
async def metrics(request: Request) -> Response:
    """Request counts and latency histograms by route template and status."""
    return Response(
        generate_latest(request.app.state.metrics.registry), media_type=CONTENT_TYPE_LATEST
    )
