"""GET /v1/audit-events: the tenant's audit trail for administrators."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Query

from fiscus.audit import queries
from fiscus.audit.errors import AuditEventNotFound
from fiscus.audit.schemas import AuditEventRead
from fiscus.core.authz import authorized
from fiscus.core.clock import Timestamp
from fiscus.core.context import Context
from fiscus.core.http import problem_responses
from fiscus.core.pagination import Cursor, Limit, Page
from fiscus.deps import DatabaseDep

NO_NUL = r"^[^\x00]*$"  # PostgreSQL text cannot hold NUL
router = APIRouter(prefix="/v1/audit-events", tags=["audit"])
Reader = Annotated[Context, authorized("audit:read")]


@router.get("", summary="List audit events", responses=problem_responses(400, 401, 403))
async def audit_events(
    db: DatabaseDep,
    ctx: Reader,
    limit: Limit = 50,
    cursor: Cursor = None,
    action: Annotated[str | None, Query(max_length=100, pattern=NO_NUL)] = None,
    actor_id: uuid.UUID | None = None,
    object_type: Annotated[str | None, Query(max_length=100, pattern=NO_NUL)] = None,
    object_id: Annotated[str | None, Query(max_length=200, pattern=NO_NUL)] = None,
    outcome: Literal["success", "denied", "failure"] | None = None,
    occurred_after: Timestamp | None = None,
    occurred_before: Timestamp | None = None,
) -> Page[AuditEventRead]:
    """Newest first; filter by action, actor, object, outcome and time."""
    data, next_cursor = await queries.audit_events_list(
        db,
        ctx=ctx,
        limit=limit,
        cursor=cursor,
        action=action,
        actor_id=actor_id,
        object_type=object_type,
        object_id=object_id,
        outcome=outcome,
        occurred_after=occurred_after,
        occurred_before=occurred_before,
    )
    return Page(data=data, next_cursor=next_cursor)


@router.get("/{event_id}", summary="One audit event", responses=problem_responses(401, 403, 404))
async def audit_event(event_id: str, db: DatabaseDep, ctx: Reader) -> AuditEventRead:
    """A single record with its before/after changes."""
    try:
        parsed = uuid.UUID(event_id)
    except ValueError:
        raise AuditEventNotFound("No such audit event.") from None
    return await queries.audit_event_get(db, ctx=ctx, event_id=parsed)
