"""/v1/cob: close a business date, read its runs; the tenant's COB settings."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter
from starlette.responses import Response

from fiscus.access.context import Context
from fiscus.access.deps import authorized
from fiscus.banking.cob import service
from fiscus.banking.cob.schemas import CobRunCreate, CobRunRead, CobSettings, run_read
from fiscus.core.http import problem_responses
from fiscus.core.idempotency import model_response
from fiscus.deps import DatabaseDep

router = APIRouter(prefix="/v1/cob", tags=["banking"])
Reader = Annotated[Context, authorized("bank_cob:read")]
Runner = Annotated[Context, authorized("bank_cob:run")]


@router.post(
    "/run",
    summary="Close the business date (or resume a date's run)",
    response_model=CobRunRead,
    responses={
        202: {
            "model": CobRunRead,
            "description": "Still running after 20 s: poll `GET /v1/cob/runs/{id}`.",
        },
        **problem_responses(400, 401, 403, 422),
    },
)
async def run_cob(body: CobRunCreate, ctx: Runner, db: DatabaseDep) -> Response:
    """Runs the steps in order (expire holds, standing orders, accrue interest, post
    interest, charge fees, mark dormant accounts, roll the business date) and answers with
    each step's status: 200 when the run ended, 202 when it is still going after 20 s (it
    carries on). A failed step fails the run; posting the same date again resumes it at
    that step, and a completed date answers its run unchanged. Safe to repeat."""
    run, steps, finished = await service.cob_run_waiting(db, ctx, day=body.date)
    return model_response(run_read(run, steps), status_code=200 if finished else 202)


@router.get(
    "/runs/{run_id}",
    summary="One close-of-business run",
    response_model=CobRunRead,
    responses=problem_responses(401, 403, 404),
)
async def get_cob_run(run_id: uuid.UUID, ctx: Reader, db: DatabaseDep) -> CobRunRead:
    """The run's status and each step's status, count and times."""
    run, steps = await service.cob_run_get(db, ctx, run_id=run_id)
    return run_read(run, steps)


@router.get(
    "/settings",
    summary="The tenant's close-of-business settings",
    response_model=CobSettings,
    responses=problem_responses(401, 403),
)
async def get_cob_settings(ctx: Reader, db: DatabaseDep) -> CobSettings:
    """The dormancy period (365 days until set)."""
    return CobSettings(dormancy_days=await service.dormancy_days_get(db, ctx))


@router.put(
    "/settings",
    summary="Set the tenant's close-of-business settings",
    response_model=CobSettings,
    responses=problem_responses(400, 401, 403),
)
async def put_cob_settings(body: CobSettings, ctx: Runner, db: DatabaseDep) -> CobSettings:
    """Applies from the next close of business."""
    days = await service.dormancy_days_set(db, ctx, days=body.dormancy_days)
    return CobSettings(dormancy_days=days)
