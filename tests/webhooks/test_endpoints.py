"""Endpoint operations: update, replay, test event, manual retry, delete."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from fiscus.core import clock
from fiscus.core.config import Settings
from fiscus.core.db import Database
from fiscus.core.errors import ValidationProblem
from fiscus.webhooks.errors import EndpointDisabled, EndpointNotFound
from fiscus.webhooks.queries import deliveries_list, endpoint_get
from fiscus.webhooks.service import (
    delivery_retry,
    endpoint_delete,
    endpoint_replay,
    endpoint_send_test,
    endpoint_update,
)
from tests.webhooks.factories import admin_context, dispatch_webhooks, emit_and_relay, make_endpoint
from tests.webhooks.receiver import Receiver, Reply, running


async def _nothing() -> None:
    return None


async def test_replay_resends_matching_events_since_a_time(
    db: Database, settings: Settings
) -> None:
    ctx = admin_context()
    with clock.frozen_clock() as frozen, running(Receiver()) as receiver:
        created = await make_endpoint(db, ctx, settings, receiver.url)
        await emit_and_relay(db, ctx.tenant_id)
        frozen.advance(timedelta(hours=1))
        since = clock.now()
        second = await emit_and_relay(db, ctx.tenant_id, "transfer.voided")
        await emit_and_relay(db, ctx.tenant_id, "card.frozen")
        await dispatch_webhooks(db, settings)
        count = await endpoint_replay(
            db, ctx, endpoint_id=created.endpoint.id, since=since, wake=_nothing
        )
        assert count == 1
        await dispatch_webhooks(db, settings)
    replayed = receiver.requests[-1]
    assert json.loads(replayed.body)["id"] == str(second)
    assert len(receiver.requests) == 3
    assert len({r.headers["webhook-id"] for r in receiver.requests}) == 3


async def test_send_test_event_ignores_the_filter(db: Database, settings: Settings) -> None:
    ctx = admin_context()
    with running(Receiver()) as receiver:
        created = await make_endpoint(db, ctx, settings, receiver.url, ["card.*"])
        delivery = await endpoint_send_test(db, ctx, endpoint_id=created.endpoint.id, wake=_nothing)
        await dispatch_webhooks(db, settings)
    [request] = receiver.requests
    assert json.loads(request.body)["type"] == "webhook.test"
    assert request.headers["webhook-id"] == str(delivery.id)


async def test_manual_retry_sends_a_failed_delivery_once_more(
    db: Database, settings: Settings
) -> None:
    ctx = admin_context()
    with clock.frozen_clock() as frozen, running(Receiver(default=Reply(500))) as receiver:
        created = await make_endpoint(db, ctx, settings, receiver.url)
        await emit_and_relay(db, ctx.tenant_id)
        for _ in range(8):
            await dispatch_webhooks(db, settings)
            frozen.advance(timedelta(hours=10))
        [logged], _ = await deliveries_list(db, ctx, endpoint_id=created.endpoint.id)
        assert logged.delivery.status == "failed"
        receiver.default = Reply(200)
        await delivery_retry(
            db,
            ctx,
            endpoint_id=created.endpoint.id,
            delivery_id=logged.delivery.id,
            wake=_nothing,
        )
        assert await dispatch_webhooks(db, settings) == 1
    [logged], _ = await deliveries_list(db, ctx, endpoint_id=created.endpoint.id)
    assert logged.delivery.status == "succeeded" and logged.delivery.attempt_count == 9
    assert len({r.headers["webhook-id"] for r in receiver.requests}) == 1


async def test_update_validates_and_reenables(db: Database, settings: Settings) -> None:
    ctx = admin_context()
    created = await make_endpoint(db, ctx, settings, "http://127.0.0.1:9/hook")
    with pytest.raises(ValidationProblem):
        await endpoint_update(
            db,
            ctx,
            settings=settings,
            endpoint_id=created.endpoint.id,
            changes={"event_types": ["transfer"]},
        )
    disabled = await endpoint_update(
        db, ctx, settings=settings, endpoint_id=created.endpoint.id, changes={"enabled": False}
    )
    assert not disabled.enabled
    with pytest.raises(EndpointDisabled):
        await endpoint_replay(
            db, ctx, endpoint_id=created.endpoint.id, since=clock.now(), wake=_nothing
        )
    enabled = await endpoint_update(
        db, ctx, settings=settings, endpoint_id=created.endpoint.id, changes={"enabled": True}
    )
    assert enabled.enabled and enabled.disabled_reason is None


async def test_other_tenants_endpoints_are_not_found(db: Database, settings: Settings) -> None:
    owner, stranger = admin_context(), admin_context()
    created = await make_endpoint(db, owner, settings, "http://127.0.0.1:9/hook")
    with pytest.raises(EndpointNotFound):
        await endpoint_get(db, stranger, endpoint_id=created.endpoint.id)
    with pytest.raises(EndpointNotFound):
        await endpoint_delete(db, stranger, endpoint_id=created.endpoint.id)
    await endpoint_delete(db, owner, endpoint_id=created.endpoint.id)
    with pytest.raises(EndpointNotFound):
        await endpoint_get(db, owner, endpoint_id=created.endpoint.id)
