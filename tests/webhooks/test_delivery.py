"""Deliveries to a real HTTP receiver on loopback, checked with the standardwebhooks package."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from fiscus.core import clock
from fiscus.core.config import Settings
from fiscus.core.db import Database
from fiscus.core.events import Event
from fiscus.webhooks.queries import deliveries_list, endpoint_get
from fiscus.webhooks.service import endpoint_rotate_secret
from tests.factories import keyring_for
from tests.webhooks.factories import admin_context, dispatch_webhooks, emit_and_relay, make_endpoint
from tests.webhooks.receiver import Receiver, Reply, running


def _verify(secret: str, received: object) -> dict[str, object]:
    body = received.body  # type: ignore[attr-defined]
    verified = Webhook(secret).verify(body, received.headers)  # type: ignore[attr-defined]
    assert isinstance(verified, dict)
    return verified


async def _events_of_type(db: Database, type_: str) -> list[Event]:
    async with db.uow() as uow:
        return list((await uow.session.execute(select(Event).where(Event.type == type_))).scalars())


async def test_event_is_delivered_signed_in_the_standard_webhooks_shape(
    db: Database, settings: Settings
) -> None:
    ctx = admin_context()
    with running(Receiver()) as receiver:
        created = await make_endpoint(db, ctx, settings, receiver.url + "/hooks")
        assert created.secret.startswith("whsec_")
        event_id = await emit_and_relay(db, ctx.tenant_id, amount=1250, currency="EUR")
        await emit_and_relay(db, ctx.tenant_id, "card.frozen")  # not subscribed
        assert await dispatch_webhooks(db, settings) == 1
    [request] = receiver.requests
    body = _verify(created.secret, request)
    assert set(body) == {"id", "type", "created_at", "tenant_id", "data"}
    assert body["id"] == str(event_id) and body["type"] == "transfer.posted"
    assert body["tenant_id"] == str(ctx.tenant_id)
    assert body["data"] == {"amount": 1250, "currency": "EUR"}
    assert request.path == "/hooks"
    [logged], _ = await deliveries_list(db, ctx, endpoint_id=created.endpoint.id)
    assert logged.delivery.status == "succeeded"
    assert str(logged.delivery.id) == request.headers["webhook-id"]
    assert [(a.attempt_number, a.response_status) for a in logged.attempts] == [(1, 204)]
    with pytest.raises(WebhookVerificationError):
        Webhook("whsec_" + "A" * 43 + "=").verify(request.body, request.headers)


async def test_both_secrets_sign_during_rotation_and_only_the_new_one_after(
    db: Database, settings: Settings
) -> None:
    ctx = admin_context()
    with clock.frozen_clock() as frozen, running(Receiver()) as receiver:
        created = await make_endpoint(db, ctx, settings, receiver.url)
        rotated = await endpoint_rotate_secret(
            db,
            ctx,
            settings=settings,
            keyring=await keyring_for(db, settings),
            endpoint_id=created.endpoint.id,
            overlap_s=3600,
        )
        await emit_and_relay(db, ctx.tenant_id)
        await dispatch_webhooks(db, settings)
        during = receiver.requests[-1]
        assert len(during.headers["webhook-signature"].split(" ")) == 2
        _verify(created.secret, during)
        _verify(rotated.secret, during)
        frozen.advance(timedelta(hours=1, seconds=1))
        await emit_and_relay(db, ctx.tenant_id)
        await dispatch_webhooks(db, settings)
        after = receiver.requests[-1]
    assert len(after.headers["webhook-signature"].split(" ")) == 1
    _verify(rotated.secret, after)
    with pytest.raises(WebhookVerificationError):
        _verify(created.secret, after)


async def test_receiver_failing_twice_gets_the_same_webhook_id_on_each_retry(
    db: Database, settings: Settings
) -> None:
    ctx = admin_context()
    script = [Reply(500, body=b"boom"), Reply(503)]
    with clock.frozen_clock() as frozen, running(Receiver(script)) as receiver:
        created = await make_endpoint(db, ctx, settings, receiver.url)
        await emit_and_relay(db, ctx.tenant_id)
        start = clock.now()
        assert await dispatch_webhooks(db, settings) == 1
        [logged], _ = await deliveries_list(db, ctx, endpoint_id=created.endpoint.id)
        assert logged.delivery.next_attempt_at == start + timedelta(seconds=5)
        assert await dispatch_webhooks(db, settings) == 0, "not due yet"
        frozen.advance(timedelta(seconds=5))
        assert await dispatch_webhooks(db, settings) == 1
        [logged], _ = await deliveries_list(db, ctx, endpoint_id=created.endpoint.id)
        assert logged.delivery.next_attempt_at == clock.now() + timedelta(minutes=5)
        frozen.advance(timedelta(minutes=5))
        assert await dispatch_webhooks(db, settings) == 1
    ids = {r.headers["webhook-id"] for r in receiver.requests}
    assert len(receiver.requests) == 3 and len(ids) == 1
    for request in receiver.requests:
        _verify(created.secret, request)
    [logged], _ = await deliveries_list(db, ctx, endpoint_id=created.endpoint.id)
    assert logged.delivery.status == "succeeded"
    assert [(a.attempt_number, a.response_status) for a in logged.attempts] == [
        (1, 500),
        (2, 503),
        (3, 204),
    ]
    assert logged.attempts[0].response_body == "boom"
    assert (await endpoint_get(db, ctx, endpoint_id=created.endpoint.id)).failing_since is None


async def test_retry_after_is_honoured_on_429(db: Database, settings: Settings) -> None:
    ctx = admin_context()
    script = [Reply(429, headers={"Retry-After": "120"})]
    with clock.frozen_clock(), running(Receiver(script)) as receiver:
        created = await make_endpoint(db, ctx, settings, receiver.url)
        await emit_and_relay(db, ctx.tenant_id)
        await dispatch_webhooks(db, settings)
        [logged], _ = await deliveries_list(db, ctx, endpoint_id=created.endpoint.id)
        assert logged.delivery.next_attempt_at == clock.now() + timedelta(seconds=120)


async def test_gone_disables_the_endpoint_and_emits_an_event(
    db: Database, settings: Settings
) -> None:
    ctx = admin_context()
    with running(Receiver(default=Reply(410))) as receiver:
        created = await make_endpoint(db, ctx, settings, receiver.url)
        await emit_and_relay(db, ctx.tenant_id)
        await dispatch_webhooks(db, settings)
        endpoint = await endpoint_get(db, ctx, endpoint_id=created.endpoint.id)
        assert not endpoint.enabled and "410" in (endpoint.disabled_reason or "")
        await emit_and_relay(db, ctx.tenant_id)
        assert await dispatch_webhooks(db, settings) == 0
    assert len(receiver.requests) == 1, "a disabled endpoint gets nothing more"
    [disabled] = await _events_of_type(db, "webhook.endpoint_disabled")
    assert disabled.payload["endpoint_id"] == str(created.endpoint.id)


async def test_eight_failures_exhaust_the_delivery_and_emit_an_event(
    db: Database, settings: Settings
) -> None:
    ctx = admin_context()
    waits = [5, 300, 1800, 7200, 18000, 36000, 36000]
    with clock.frozen_clock() as frozen, running(Receiver(default=Reply(500))) as receiver:
        created = await make_endpoint(db, ctx, settings, receiver.url)
        await emit_and_relay(db, ctx.tenant_id)
        await dispatch_webhooks(db, settings)
        for wait_s in waits:
            frozen.advance(timedelta(seconds=wait_s - 1))
            assert await dispatch_webhooks(db, settings) == 0
            frozen.advance(timedelta(seconds=1))
            assert await dispatch_webhooks(db, settings) == 1
    assert len(receiver.requests) == 8
    [logged], _ = await deliveries_list(db, ctx, endpoint_id=created.endpoint.id)
    assert logged.delivery.status == "failed" and logged.delivery.next_attempt_at is None
    [exhausted] = await _events_of_type(db, "webhook.delivery_exhausted")
    assert exhausted.payload["delivery_id"] == str(logged.delivery.id)
    assert exhausted.payload["attempts"] == 8
    # About 28 hours of failures do not yet disable the endpoint (that takes 5 days).
    assert (await endpoint_get(db, ctx, endpoint_id=created.endpoint.id)).enabled


async def test_endpoint_failing_for_five_days_is_disabled(db: Database, settings: Settings) -> None:
    ctx = admin_context()
    with clock.frozen_clock() as frozen, running(Receiver(default=Reply(500))) as receiver:
        created = await make_endpoint(db, ctx, settings, receiver.url)
        await emit_and_relay(db, ctx.tenant_id)
        await dispatch_webhooks(db, settings)
        frozen.advance(timedelta(days=5) - timedelta(seconds=1))
        await emit_and_relay(db, ctx.tenant_id)
        await dispatch_webhooks(db, settings)
        assert (await endpoint_get(db, ctx, endpoint_id=created.endpoint.id)).enabled
        frozen.advance(timedelta(seconds=1))
        await emit_and_relay(db, ctx.tenant_id)
        await dispatch_webhooks(db, settings)
    endpoint = await endpoint_get(db, ctx, endpoint_id=created.endpoint.id)
    assert not endpoint.enabled and endpoint.disabled_reason == "every delivery failed for 5 days"
    assert len(await _events_of_type(db, "webhook.endpoint_disabled")) == 1
