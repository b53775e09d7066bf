"""GET /v1/events (the change feed) and GET /v1/events/{id}."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query

from fiscus.access.context import Context
from fiscus.access.deps import authorized
from fiscus.core.events import Event, check_type_patterns
from fiscus.core.http import problem_responses
from fiscus.core.pagination import position_after
from fiscus.deps import DatabaseDep
from fiscus.events.queries import event_find, events_page
from fiscus.events.schemas import EventFeed, EventRead

router = APIRouter(prefix="/v1/events", tags=["events"])
MAX_FEED_LIMIT = 200


def _read(event: Event) -> EventRead:
    return EventRead(
        id=event.id,
        type=event.type,
        created_at=event.created_at,
        tenant_id=event.tenant_id,
        subject=event.subject,
        position=event.position,
        data=event.payload,
    )


def _types(values: list[str]) -> list[str]:
    # `types=transfer.*,card.frozen` and `types=transfer.*&types=card.frozen` both work.
    patterns = [p.strip() for value in values for p in value.split(",") if p.strip()]
    return check_type_patterns(patterns, field="types")


@router.get(
    "",
    summary="Replay the event stream in order (change feed)",
    response_model=EventFeed,
    responses=problem_responses(400, 401, 403),
)
async def list_events(
    ctx: Annotated[Context, authorized("events:read")],
    db: DatabaseDep,
    after: Annotated[str | None, Query(description="Resume after")] = None,
    types: Annotated[
        list[str], Query(description="Event types; wildcards such as transfer.* or *")
    ] = [],  # noqa: B006 -- FastAPI copies query defaults per request
    limit: Annotated[int, Query(ge=1, le=MAX_FEED_LIMIT)] = 50,
) -> EventFeed:
    """Events after the cursor, in stream position order; poll with `next_cursor`."""
    start = position_after(after)
    patterns = _types(types)
    page, has_more = await events_page(db, ctx, after=start, types=patterns, limit=limit)
    last = page[-1].position if page else None
    return EventFeed(
        data=[_read(e) for e in page],
        next_cursor=str(last) if last is not None else after,
        has_more=has_more,
    )


@router.get(
    "/{event_id}",
    summary="One event",
    response_model=EventRead,
    responses=problem_responses(401, 403, 404),
)
async def get_event(
    event_id: uuid.UUID, ctx: Annotated[Context, authorized("events:read")], db: DatabaseDep
) -> EventRead:
    """The event with this id, if it belongs to the caller's tenant."""
    return _read(await event_find(db, ctx, event_id=event_id))
