"""Webhook endpoints: create, change, rotate secrets, retry, replay, test; and the fan-out."""

from __future__ import annotations

import json
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ARRAY, Text, bindparam, delete, select, update
from sqlalchemy.dialects.postgresql import insert

from fiscus.access.context import Context
from fiscus.core import clock
from fiscus.core.config import Settings
from fiscus.core.db import Database, UnitOfWork
from fiscus.core.events import (
    RelayedEvent,
    check_type_patterns,
    event_body,
    events_since,
    patterns_matching,
    type_matches,
)
from fiscus.core.ids import new_id
from fiscus.core.keyring import KeyRing
from fiscus.core.retention import retention_purge
from fiscus.webhooks import _ssrf
from fiscus.webhooks._signing import new_secret, secret_seal
from fiscus.webhooks.errors import DeliveryNotFound, EndpointDisabled, EndpointNotFound
from fiscus.webhooks.models import WebhookDelivery, WebhookEndpoint, WebhookSecret

Wake = Callable[[], Awaitable[None]]
# Standard Webhooks' schedule: the first attempt at once, then these waits between attempts
# (5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h); after the eighth failure the delivery fails.
RETRY_DELAYS = tuple(timedelta(seconds=s) for s in (5, 300, 1800, 7200, 18000, 36000, 36000))
MAX_REPLAY = 10_000
TEST_EVENT_TYPE = "webhook.test"


@dataclass(frozen=True, slots=True)
class EndpointWithSecret:
    """A just-created endpoint and its secret (the only time the secret is shown)."""

    endpoint: WebhookEndpoint
    secret: str


@dataclass(frozen=True, slots=True)
class RotatedSecret:
    """The new secret, and until when the previous one keeps signing."""

    secret: str
    previous_expires_at: datetime


def body_json(body: dict[str, Any]) -> str:
    """The exact bytes a webhook carries: compact JSON, fixed key order."""
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False)


async def endpoint_create(
    db: Database,
    ctx: Context,
    *,
    settings: Settings,
    keyring: KeyRing,
    url: str,
    event_types: Sequence[str],
    description: str | None,
) -> EndpointWithSecret:
    """Register an endpoint after the SSRF check; return it with its new secret."""
    patterns = check_type_patterns(event_types, field="event_types")
    await _ssrf.resolve(url, allow_private=settings.webhooks_allow_private)
    now = clock.now()
    endpoint = WebhookEndpoint(
        tenant_id=ctx.tenant_id,
        id=new_id(),
        url=url,
        event_types=patterns,
        description=description,
        enabled=True,
        created_at=now,
        updated_at=now,
    )
    secret = new_secret()
    async with db.uow(tenant_id=ctx.tenant_id) as uow:
        uow.session.add(endpoint)
        await uow.session.flush()
        await _add_secret(uow, endpoint, secret, keyring=keyring, now=now)
    return EndpointWithSecret(endpoint=endpoint, secret=secret)


async def _add_secret(
    uow: UnitOfWork, endpoint: WebhookEndpoint, secret: str, *, keyring: KeyRing, now: datetime
) -> None:
    assert uow.active
    secret_id = new_id()
    sealed = secret_seal(
        keyring, secret, tenant_id=endpoint.tenant_id, endpoint_id=endpoint.id, secret_id=secret_id
    )
    uow.session.add(
        WebhookSecret(
            tenant_id=endpoint.tenant_id,
            id=secret_id,
            endpoint_id=endpoint.id,
            sealed_secret=sealed,
            created_at=now,
        )
    )


async def _endpoint_for_update(uow: UnitOfWork, ctx: Context, endpoint_id: uuid.UUID) -> Any:
    assert uow.active
    endpoint = (
        await uow.session.execute(
            select(WebhookEndpoint)
            .where(WebhookEndpoint.tenant_id == ctx.tenant_id, WebhookEndpoint.id == endpoint_id)
            .with_for_update()
        )
    ).scalar_one_or_none()
    if endpoint is None:
        raise EndpointNotFound(f"Webhook endpoint {endpoint_id} was not found.")
    return endpoint


async def endpoint_update(
    db: Database,
    ctx: Context,
    *,
    settings: Settings,
    endpoint_id: uuid.UUID,
    changes: dict[str, Any],
) -> WebhookEndpoint:
    """Change url, event_types, description or enabled; re-enabling clears the failure run."""
    if "event_types" in changes:
        changes["event_types"] = check_type_patterns(changes["event_types"], field="event_types")
    if "url" in changes:
        await _ssrf.resolve(changes["url"], allow_private=settings.webhooks_allow_private)
    async with db.uow(tenant_id=ctx.tenant_id) as uow:
        endpoint: WebhookEndpoint = await _endpoint_for_update(uow, ctx, endpoint_id)
        for name in ("url", "event_types", "description"):
            if name in changes:
                setattr(endpoint, name, changes[name])
        if "enabled" in changes and changes["enabled"] != endpoint.enabled:
            endpoint.enabled = bool(changes["enabled"])
            endpoint.disabled_reason = None if endpoint.enabled else "disabled by a user"
            endpoint.failing_since = None
        endpoint.updated_at = clock.now()
    return endpoint


async def endpoint_delete(db: Database, ctx: Context, *, endpoint_id: uuid.UUID) -> None:
    """Delete an endpoint with its secrets and delivery log."""
    async with db.uow(tenant_id=ctx.tenant_id) as uow:
        endpoint = await _endpoint_for_update(uow, ctx, endpoint_id)
        await uow.session.execute(
            delete(WebhookEndpoint).where(
                WebhookEndpoint.tenant_id == ctx.tenant_id, WebhookEndpoint.id == endpoint.id
            )
        )


async def endpoint_rotate_secret(
    db: Database,
    ctx: Context,
    *,
    settings: Settings,
    keyring: KeyRing,
    endpoint_id: uuid.UUID,
    overlap_s: int | None = None,
) -> RotatedSecret:
    """Issue a new secret; the current ones keep signing for the overlap period."""
    overlap = timedelta(
        seconds=settings.webhooks_secret_overlap_s if overlap_s is None else overlap_s
    )
    now = clock.now()
    secret = new_secret()
    async with db.uow(tenant_id=ctx.tenant_id) as uow:
        endpoint = await _endpoint_for_update(uow, ctx, endpoint_id)
        # Secrets already counting down keep their earlier end; only the current one moves.
        await uow.session.execute(
            update(WebhookSecret)
            .where(
                WebhookSecret.tenant_id == ctx.tenant_id,
                WebhookSecret.endpoint_id == endpoint.id,
                WebhookSecret.expires_at.is_(None),
            )
            .values(expires_at=now + overlap)
        )
        await _add_secret(uow, endpoint, secret, keyring=keyring, now=now)
    return RotatedSecret(secret=secret, previous_expires_at=now + overlap)


async def delivery_retry(
    db: Database, ctx: Context, *, endpoint_id: uuid.UUID, delivery_id: uuid.UUID, wake: Wake
) -> WebhookDelivery:
    """Send one delivery once more, now, with the same webhook-id."""
    async with db.uow(tenant_id=ctx.tenant_id) as uow:
        endpoint = await _endpoint_for_update(uow, ctx, endpoint_id)
        if not endpoint.enabled:
            raise EndpointDisabled("Enable the endpoint before retrying its deliveries.")
        delivery = (
            await uow.session.execute(
                select(WebhookDelivery)
                .where(
                    WebhookDelivery.tenant_id == ctx.tenant_id,
                    WebhookDelivery.endpoint_id == endpoint_id,
                    WebhookDelivery.id == delivery_id,
                )
                .with_for_update()
            )
        ).scalar_one_or_none()
        if delivery is None:
            raise DeliveryNotFound(f"Delivery {delivery_id} was not found.")
        # A manual retry is one more attempt, not a new round of automatic retries.
        delivery.status = "pending"
        delivery.next_attempt_at = clock.now()
        delivery.schedule_step = len(RETRY_DELAYS)
        delivery.completed_at = None
        uow.after_commit(wake)
    return delivery


async def endpoint_replay(
    db: Database, ctx: Context, *, endpoint_id: uuid.UUID, since: datetime, wake: Wake
) -> int:
    """Queue every matching event since `since` again to this endpoint; return how many."""
    async with db.uow(tenant_id=ctx.tenant_id) as uow:
        endpoint = await _endpoint_for_update(uow, ctx, endpoint_id)
        if not endpoint.enabled:
            raise EndpointDisabled("Enable the endpoint before replaying events to it.")
        events = await events_since(uow, tenant_id=ctx.tenant_id, since=since, limit=MAX_REPLAY)
        rows = [
            _delivery_row(
                endpoint,
                event_id=e.id,
                event_type=e.type,
                body=event_body(
                    id=e.id,
                    type=e.type,
                    created_at=e.created_at,
                    tenant_id=e.tenant_id,
                    data=e.payload,
                ),
                origin="replay",
            )
            for e in events
            if type_matches(endpoint.event_types, e.type)
        ]
        if rows:
            await uow.session.execute(insert(WebhookDelivery).values(rows))
        uow.after_commit(wake)
    return len(rows)


async def endpoint_send_test(
    db: Database, ctx: Context, *, endpoint_id: uuid.UUID, wake: Wake
) -> WebhookDelivery:
    """Queue a `webhook.test` message to the endpoint, whatever its event filter."""
    now = clock.now()
    event_id = new_id()
    async with db.uow(tenant_id=ctx.tenant_id) as uow:
        endpoint = await _endpoint_for_update(uow, ctx, endpoint_id)
        body = event_body(
            id=event_id,
            type=TEST_EVENT_TYPE,
            created_at=now,
            tenant_id=ctx.tenant_id,
            data={"message": "A test event from fiscus.", "endpoint_id": str(endpoint.id)},
        )
        row = _delivery_row(
            endpoint, event_id=event_id, event_type=TEST_EVENT_TYPE, body=body, origin="test"
        )
        delivery = WebhookDelivery(**row)
        uow.session.add(delivery)
        uow.after_commit(wake)
    return delivery


def _delivery_row(
    endpoint: WebhookEndpoint,
    *,
    event_id: uuid.UUID,
    event_type: str,
    body: dict[str, Any],
    origin: str,
) -> dict[str, Any]:
    now = clock.now()
    return {
        "tenant_id": endpoint.tenant_id,
        "id": new_id(),
        "endpoint_id": endpoint.id,
        "event_id": event_id,
        "event_type": event_type,
        "origin": origin,
        "body": body_json(body),
        "status": "pending",
        "attempt_count": 0,
        "schedule_step": 0,
        "next_attempt_at": now,
        "created_at": now,
    }


async def deliveries_fan_out(
    uow: UnitOfWork, events: Sequence[RelayedEvent], _keyring: KeyRing
) -> bool:
    """Relay subscriber: one delivery per (event, enabled endpoint whose filter matches);
    True if there was one (the dispatch job has work).

    One look-up per batch: the enabled endpoints of the batch's tenants whose filters
    match one of the batch's event types. Deliveries store the event body as sent; they
    seal nothing, so the key ring is unused.
    """
    assert uow.active
    tenants = sorted({event.tenant_id for event in events})
    endpoints = (
        await uow.session.execute(
            select(WebhookEndpoint).where(
                WebhookEndpoint.tenant_id.in_(tenants),
                WebhookEndpoint.enabled.is_(True),
                WebhookEndpoint.event_types.op("&&")(
                    bindparam(
                        "patterns",
                        patterns_matching({event.type for event in events}),
                        type_=ARRAY(Text),
                    )
                ),
            )
        )
    ).scalars()
    by_tenant: dict[uuid.UUID, list[WebhookEndpoint]] = {}
    for endpoint in endpoints:
        by_tenant.setdefault(endpoint.tenant_id, []).append(endpoint)
    rows = [
        _delivery_row(
            endpoint,
            event_id=event.id,
            event_type=event.type,
            body=event_body(
                id=event.id,
                type=event.type,
                created_at=event.created_at,
                tenant_id=event.tenant_id,
                data=event.payload,
            ),
            origin="event",
        )
        for event in events
        for endpoint in by_tenant.get(event.tenant_id, [])
        if type_matches(endpoint.event_types, event.type)
    ]
    for start in range(0, len(rows), 1000):
        await uow.session.execute(
            insert(WebhookDelivery)
            .values(rows[start : start + 1000])
            .on_conflict_do_nothing(
                index_elements=["tenant_id", "endpoint_id", "event_id"],
                index_where=WebhookDelivery.origin == "event",
            )
        )
    return bool(rows)


async def deliveries_purge(db: Database, *, days: int) -> int:
    """Delete finished deliveries (and, by cascade, their attempts) completed more than
    `days` ago (0: keep them); a pending delivery is never touched."""
    return await retention_purge(
        db,
        model=WebhookDelivery,
        key=[WebhookDelivery.tenant_id, WebhookDelivery.id],
        finished=WebhookDelivery.status.in_(("succeeded", "failed")),
        since=WebhookDelivery.completed_at,
        days=days,
    )
