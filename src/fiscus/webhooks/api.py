"""/v1/webhook-endpoints: endpoints, secrets, the delivery log, retries, replays and tests."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from fiscus.access.context import Context
from fiscus.access.deps import authorized
from fiscus.core.http import problem_responses
from fiscus.core.idempotency import idempotent, model_response
from fiscus.core.jobs import defer_once
from fiscus.core.pagination import Cursor, Limit
from fiscus.deps import DatabaseDep, IdempotencyDep, KeyRingDep, SettingsDep
from fiscus.webhooks import queries, service
from fiscus.webhooks.jobs import DISPATCH_TASK
from fiscus.webhooks.models import WebhookDelivery, WebhookEndpoint
from fiscus.webhooks.schemas import (
    AttemptRead,
    DeliveryPage,
    DeliveryRead,
    EndpointCreate,
    EndpointCreated,
    EndpointPage,
    EndpointRead,
    EndpointUpdate,
    ReplayQueued,
    ReplayRequest,
    SecretRotate,
    SecretRotated,
)

router = APIRouter(prefix="/v1/webhook-endpoints", tags=["webhooks"])
Reader = Annotated[Context, authorized("webhooks:read")]
Manager = Annotated[Context, authorized("webhooks:manage")]


def _waker(request: Request) -> service.Wake:
    async def wake() -> None:
        await defer_once(request.app.state.jobs, DISPATCH_TASK)

    return wake


def _endpoint(endpoint: WebhookEndpoint) -> EndpointRead:
    return EndpointRead.model_validate(endpoint)


def _delivery(delivery: WebhookDelivery, attempts: list[AttemptRead] | None = None) -> DeliveryRead:
    return DeliveryRead(
        id=delivery.id,
        endpoint_id=delivery.endpoint_id,
        event_id=delivery.event_id,
        event_type=delivery.event_type,
        origin=delivery.origin,
        status=delivery.status,
        attempt_count=delivery.attempt_count,
        next_attempt_at=delivery.next_attempt_at,
        last_status_code=delivery.last_status_code,
        last_error=delivery.last_error,
        created_at=delivery.created_at,
        completed_at=delivery.completed_at,
        request_body=delivery.body[:2048],
        attempts=attempts or [],
    )


@router.post(
    "",
    status_code=201,
    summary="Register a webhook endpoint (the secret is shown once)",
    response_model=EndpointCreated,
    responses=problem_responses(400, 401, 403, 409, 422),
)
async def create_endpoint(
    body: EndpointCreate,
    request: Request,
    ctx: Manager,
    db: DatabaseDep,
    settings: SettingsDep,
    keyring: KeyRingDep,
    store: IdempotencyDep,
) -> Response:
    """Create an endpoint after checking its URL is a public address."""

    async def handler() -> Response:
        created = await service.endpoint_create(
            db,
            ctx,
            settings=settings,
            keyring=keyring,
            url=body.url,
            event_types=body.event_types,
            description=body.description,
        )
        payload = EndpointCreated(**_endpoint(created.endpoint).model_dump(), secret=created.secret)
        return model_response(payload, status_code=201)

    return await idempotent(
        request, store=store, tenant_id=ctx.tenant_id, required=False, handler=handler
    )


@router.get(
    "",
    summary="List webhook endpoints",
    response_model=EndpointPage,
    responses=problem_responses(400, 401, 403),
)
async def list_endpoints(
    ctx: Reader, db: DatabaseDep, cursor: Cursor = None, limit: Limit = 50
) -> EndpointPage:
    """The tenant's endpoints, oldest first."""
    endpoints, next_cursor = await queries.endpoint_list(db, ctx, cursor=cursor, limit=limit)
    return EndpointPage(data=[_endpoint(e) for e in endpoints], next_cursor=next_cursor)


@router.get(
    "/{endpoint_id}",
    summary="One webhook endpoint",
    response_model=EndpointRead,
    responses=problem_responses(401, 403, 404),
)
async def get_endpoint(endpoint_id: uuid.UUID, ctx: Reader, db: DatabaseDep) -> EndpointRead:
    """The endpoint, without its secret."""
    return _endpoint(await queries.endpoint_get(db, ctx, endpoint_id=endpoint_id))


@router.patch(
    "/{endpoint_id}",
    summary="Change a webhook endpoint (URL, event types, description, enabled)",
    response_model=EndpointRead,
    responses=problem_responses(400, 401, 403, 404, 422),
)
async def update_endpoint(
    endpoint_id: uuid.UUID,
    body: EndpointUpdate,
    ctx: Manager,
    db: DatabaseDep,
    settings: SettingsDep,
) -> EndpointRead:
    """Apply the given changes; enabling again clears the failure history."""
    changes = body.model_dump(exclude_unset=True)
    endpoint = await service.endpoint_update(
        db, ctx, settings=settings, endpoint_id=endpoint_id, changes=changes
    )
    return _endpoint(endpoint)


@router.delete(
    "/{endpoint_id}",
    status_code=204,
    summary="Delete a webhook endpoint and its delivery log",
    responses=problem_responses(401, 403, 404),
)
async def delete_endpoint(endpoint_id: uuid.UUID, ctx: Manager, db: DatabaseDep) -> Response:
    """Delete the endpoint; pending deliveries are dropped."""
    await service.endpoint_delete(db, ctx, endpoint_id=endpoint_id)
    return Response(status_code=204)


@router.post(
    "/{endpoint_id}/rotate-secret",
    summary="Issue a new signing secret; the old one signs too for an overlap period",
    response_model=SecretRotated,
    responses=problem_responses(400, 401, 403, 404),
)
async def rotate_secret(
    endpoint_id: uuid.UUID,
    request: Request,
    ctx: Manager,
    db: DatabaseDep,
    settings: SettingsDep,
    keyring: KeyRingDep,
    store: IdempotencyDep,
    body: SecretRotate | None = None,
) -> Response:
    """The new secret is shown once; during the overlap both secrets sign every message.

    With an Idempotency-Key, a retried rotation returns the same new secret instead of
    rotating twice (which would end the overlap of the secret receivers still use).
    """

    async def handler() -> Response:
        rotated = await service.endpoint_rotate_secret(
            db,
            ctx,
            settings=settings,
            keyring=keyring,
            endpoint_id=endpoint_id,
            overlap_s=body.overlap_s if body is not None else None,
        )
        return model_response(
            SecretRotated(
                secret=rotated.secret, previous_secret_expires_at=rotated.previous_expires_at
            )
        )

    return await idempotent(
        request, store=store, tenant_id=ctx.tenant_id, required=False, handler=handler
    )


@router.get(
    "/{endpoint_id}/deliveries",
    summary="The delivery log of an endpoint",
    response_model=DeliveryPage,
    responses=problem_responses(400, 401, 403, 404),
)
async def list_deliveries(
    endpoint_id: uuid.UUID,
    ctx: Reader,
    db: DatabaseDep,
    status: Annotated[Literal["pending", "succeeded", "failed"] | None, Query()] = None,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> DeliveryPage:
    """Deliveries newest first, each with its attempts (status, latency, response)."""
    rows, next_cursor = await queries.deliveries_list(
        db, ctx, endpoint_id=endpoint_id, status=status, cursor=cursor, limit=limit
    )
    return DeliveryPage(
        data=[
            _delivery(row.delivery, [AttemptRead.model_validate(a) for a in row.attempts])
            for row in rows
        ],
        next_cursor=next_cursor,
    )


@router.post(
    "/{endpoint_id}/deliveries/{delivery_id}/retry",
    status_code=202,
    summary="Send one delivery again now (same webhook-id)",
    response_model=DeliveryRead,
    responses=problem_responses(401, 403, 404, 409),
)
async def retry_delivery(
    endpoint_id: uuid.UUID,
    delivery_id: uuid.UUID,
    request: Request,
    ctx: Manager,
    db: DatabaseDep,
) -> DeliveryRead:
    """Queue one more attempt of the delivery."""
    delivery = await service.delivery_retry(
        db, ctx, endpoint_id=endpoint_id, delivery_id=delivery_id, wake=_waker(request)
    )
    return _delivery(delivery)


@router.post(
    "/{endpoint_id}/replay",
    status_code=202,
    summary="Replay every matching event since a time",
    response_model=ReplayQueued,
    responses=problem_responses(400, 401, 403, 404, 409),
)
async def replay(
    endpoint_id: uuid.UUID,
    body: ReplayRequest,
    request: Request,
    ctx: Manager,
    db: DatabaseDep,
    store: IdempotencyDep,
) -> Response:
    """Queue new deliveries (new webhook-ids) of the events since `since` (at most 10 000)."""

    async def handler() -> Response:
        count = await service.endpoint_replay(
            db, ctx, endpoint_id=endpoint_id, since=body.since, wake=_waker(request)
        )
        return model_response(ReplayQueued(deliveries_queued=count), status_code=202)

    return await idempotent(
        request, store=store, tenant_id=ctx.tenant_id, required=False, handler=handler
    )


@router.post(
    "/{endpoint_id}/test",
    status_code=202,
    summary="Send a webhook.test event to the endpoint",
    response_model=DeliveryRead,
    responses=problem_responses(401, 403, 404),
)
async def send_test(
    endpoint_id: uuid.UUID,
    request: Request,
    ctx: Manager,
    db: DatabaseDep,
    store: IdempotencyDep,
) -> Response:
    """Queue a test message; watch its result in the delivery log."""

    async def handler() -> Response:
        delivery = await service.endpoint_send_test(
            db, ctx, endpoint_id=endpoint_id, wake=_waker(request)
        )
        return model_response(_delivery(delivery), status_code=202)

    return await idempotent(
        request, store=store, tenant_id=ctx.tenant_id, required=False, handler=handler
    )
