"""Small builders for webhook tests."""

from __future__ import annotations

import uuid

from fiscus.access.context import Context
from fiscus.core.config import Settings
from fiscus.core.db import Database
from fiscus.core.events import emit, events_relay_batch
from fiscus.webhooks.delivery import deliveries_dispatch
from fiscus.webhooks.service import EndpointWithSecret, endpoint_create
from fiscus.worker import install_event_subscribers
from tests.factories import keyring_for


def admin_context(tenant_id: uuid.UUID | None = None) -> Context:
    """A tenant admin who may manage webhooks."""
    return Context(
        tenant_id=tenant_id or uuid.uuid4(),
        actor_type="user",
        actor_id=uuid.uuid4(),
        role="admin",
        permissions=frozenset({"webhooks:read", "webhooks:manage", "events:read"}),
    )


async def make_endpoint(
    db: Database,
    ctx: Context,
    settings: Settings,
    url: str,
    event_types: list[str] | None = None,
) -> EndpointWithSecret:
    """An endpoint for `url` listening to `transfer.*` unless told otherwise."""
    return await endpoint_create(
        db,
        ctx,
        settings=settings,
        keyring=await keyring_for(db, settings),
        url=url,
        event_types=event_types or ["transfer.*"],
        description="test receiver",
    )


async def emit_and_relay(
    db: Database, tenant_id: uuid.UUID, type_: str = "transfer.posted", **payload: object
) -> uuid.UUID:
    """Commit one event and run the relay (with the real subscribers) over it."""
    install_event_subscribers()
    async with db.uow(tenant_id=tenant_id) as uow:
        event_id = await emit(
            uow, tenant_id=tenant_id, type=type_, subject="transfer/1", payload=dict(payload)
        )
    keyring = await keyring_for(db)
    while await events_relay_batch(db, keyring=keyring):
        pass
    return event_id


async def dispatch_webhooks(db: Database, settings: Settings) -> int:
    """Send the due deliveries with the test database's key ring; how many attempts."""
    return await deliveries_dispatch(db, settings=settings, keyring=await keyring_for(db, settings))
