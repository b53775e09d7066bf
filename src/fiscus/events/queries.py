"""Reads of the event stream for the API, one short transaction each."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from fiscus.access.context import Context
from fiscus.core.db import Database
from fiscus.core.events import Event, event_get, events_feed
from fiscus.events.errors import EventNotFound


async def events_page(
    db: Database, ctx: Context, *, after: int, types: Sequence[str], limit: int
) -> tuple[list[Event], bool]:
    """Up to `limit` events after position `after`, and whether more are available."""
    async with db.uow(tenant_id=ctx.tenant_id) as uow:
        events = await events_feed(
            uow, tenant_id=ctx.tenant_id, after=after, types=types, limit=limit + 1
        )
    return events[:limit], len(events) > limit


async def event_find(db: Database, ctx: Context, *, event_id: uuid.UUID) -> Event:
    """The tenant's event with this id, or NotFound."""
    async with db.uow(tenant_id=ctx.tenant_id) as uow:
        event = await event_get(uow, tenant_id=ctx.tenant_id, event_id=event_id)
    if event is None:
        raise EventNotFound(f"Event {event_id} was not found.")
    return event
