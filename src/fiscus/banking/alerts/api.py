"""/v1/alerts: low-balance and large-transaction alerts on bank accounts."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter
from starlette.responses import Response

from fiscus.access.context import Context
from fiscus.access.deps import authorized
from fiscus.banking.alerts import service
from fiscus.banking.alerts.schemas import AlertCreate, AlertList, AlertRead
from fiscus.core.http import problem_responses
from fiscus.core.idempotency import model_response
from fiscus.deps import DatabaseDep

router = APIRouter(prefix="/v1/alerts", tags=["banking"])
Reader = Annotated[Context, authorized("bank_alerts:read")]
Manager = Annotated[Context, authorized("bank_alerts:manage")]


@router.post(
    "",
    status_code=201,
    summary="Set a low-balance or large-transaction alert on an account",
    response_model=AlertRead,
    responses=problem_responses(400, 401, 403, 404, 422),
)
async def create_alert(body: AlertCreate, ctx: Manager, db: DatabaseDep) -> Response:
    """The customer's portal users are told, by their message preferences (email, SMS,
    in-app), when the alert fires: a low-balance alert when a movement takes the balance
    below the threshold, a large-transaction alert on a movement of at least it."""
    alert = await service.alert_create(
        db, ctx, account_id=body.account_id, kind=body.kind, threshold=body.threshold
    )
    return model_response(AlertRead.model_validate(alert), status_code=201)


@router.get(
    "",
    summary="List alerts",
    response_model=AlertList,
    responses=problem_responses(400, 401, 403),
)
async def list_alerts(
    ctx: Reader, db: DatabaseDep, account_id: uuid.UUID | None = None
) -> AlertList:
    """The alerts of the accounts the caller may see, optionally of one account."""
    alerts = await service.alert_list(db, ctx, account_id=account_id)
    return AlertList(data=[AlertRead.model_validate(a) for a in alerts])


@router.delete(
    "/{alert_id}",
    status_code=204,
    summary="Delete an alert",
    responses=problem_responses(401, 403, 404),
)
async def delete_alert(alert_id: uuid.UUID, ctx: Manager, db: DatabaseDep) -> Response:
    """Stop the alert."""
    await service.alert_delete(db, ctx, alert_id=alert_id)
    return Response(status_code=204)
