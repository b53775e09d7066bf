"""Reads: endpoints, deliveries and their attempts (the delivery log)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import select

from fiscus.access.context import Context
from fiscus.core.db import Database
from fiscus.core.pagination import keyset_page
from fiscus.webhooks.errors import EndpointNotFound
from fiscus.webhooks.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint

MAX_ATTEMPTS_SHOWN = 20


@dataclass(frozen=True, slots=True)
class DeliveryWithAttempts:
    """A delivery and its latest attempts, newest last."""

    delivery: WebhookDelivery
    attempts: list[WebhookAttempt]


async def endpoint_get(db: Database, ctx: Context, *, endpoint_id: uuid.UUID) -> WebhookEndpoint:
    """One endpoint of the caller's tenant, or EndpointNotFound."""
    async with db.uow(tenant_id=ctx.tenant_id) as uow:
        endpoint = await uow.session.get(WebhookEndpoint, (ctx.tenant_id, endpoint_id))
    if endpoint is None:
        raise EndpointNotFound(f"Webhook endpoint {endpoint_id} was not found.")
    return endpoint


async def endpoint_list(
    db: Database, ctx: Context, *, cursor: str | None, limit: int
) -> tuple[list[WebhookEndpoint], str | None]:
    """The tenant's endpoints, oldest first."""
    async with db.uow(tenant_id=ctx.tenant_id) as uow:
        endpoints: list[WebhookEndpoint]
        endpoints, next_cursor = await keyset_page(
            uow.session,
            select(WebhookEndpoint).where(WebhookEndpoint.tenant_id == ctx.tenant_id),
            keys=[WebhookEndpoint.__table__.c.id],
            cursor=cursor,
            limit=limit,
            key_of=lambda e: [str(e.id)],
        )
    return endpoints, next_cursor


async def deliveries_list(
    db: Database,
    ctx: Context,
    *,
    endpoint_id: uuid.UUID,
    status: str | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> tuple[list[DeliveryWithAttempts], str | None]:
    """An endpoint's deliveries, newest first, each with its attempts."""
    async with db.uow(tenant_id=ctx.tenant_id) as uow:
        if await uow.session.get(WebhookEndpoint, (ctx.tenant_id, endpoint_id)) is None:
            raise EndpointNotFound(f"Webhook endpoint {endpoint_id} was not found.")
        stmt = select(WebhookDelivery).where(
            WebhookDelivery.tenant_id == ctx.tenant_id,
            WebhookDelivery.endpoint_id == endpoint_id,
        )
        if status is not None:
            stmt = stmt.where(WebhookDelivery.status == status)
        deliveries: list[WebhookDelivery]
        deliveries, next_cursor = await keyset_page(
            uow.session,
            stmt,
            keys=[WebhookDelivery.__table__.c.id],
            cursor=cursor,
            limit=limit,
            key_of=lambda d: [str(d.id)],
            descending=True,
        )
        attempts = (
            await uow.session.execute(
                select(WebhookAttempt)
                .where(
                    WebhookAttempt.tenant_id == ctx.tenant_id,
                    WebhookAttempt.delivery_id.in_([d.id for d in deliveries]),
                )
                .order_by(WebhookAttempt.delivery_id, WebhookAttempt.attempt_number)
            )
        ).scalars()
        by_delivery: dict[uuid.UUID, list[WebhookAttempt]] = {}
        for attempt in attempts:
            by_delivery.setdefault(attempt.delivery_id, []).append(attempt)
    return [
        DeliveryWithAttempts(d, by_delivery.get(d.id, [])[-MAX_ATTEMPTS_SHOWN:]) for d in deliveries
    ], next_cursor
