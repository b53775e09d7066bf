"""Reads of the audit trail."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import select

from fiscus.audit.errors import AuditEventNotFound
from fiscus.audit.models import AuditEvent
from fiscus.audit.schemas import AuditEventRead
from fiscus.core.context import Context
from fiscus.core.db import Database
from fiscus.core.pagination import keyset_page


def _read(row: AuditEvent) -> AuditEventRead:
    return AuditEventRead(
        id=str(row.id),
        occurred_at=row.occurred_at,
        actor_type=row.actor_type,
        actor_id=str(row.actor_id) if row.actor_id else None,
        api_key_id=str(row.api_key_id) if row.api_key_id else None,
        action=row.action,
        outcome=row.outcome,
        object_type=row.object_type,
        object_id=row.object_id,
        changes=row.changes,
        ip=row.ip,
        user_agent=row.user_agent,
        request_id=row.request_id,
        chain_seq=row.chain_seq,
    )


async def audit_events_list(
    db: Database,
    *,
    ctx: Context,
    limit: int,
    cursor: str | None,
    action: str | None = None,
    actor_id: uuid.UUID | None = None,
    object_type: str | None = None,
    object_id: str | None = None,
    outcome: str | None = None,
    occurred_after: datetime | None = None,
    occurred_before: datetime | None = None,
) -> tuple[list[AuditEventRead], str | None]:
    """The tenant's audit records, newest first, filtered."""
    stmt = select(AuditEvent)
    filters: list[Any] = [
        AuditEvent.action == action if action else None,
        AuditEvent.actor_id == actor_id if actor_id else None,
        AuditEvent.object_type == object_type if object_type else None,
        AuditEvent.object_id == object_id if object_id else None,
        AuditEvent.outcome == outcome if outcome else None,
        AuditEvent.occurred_at > occurred_after if occurred_after else None,
        AuditEvent.occurred_at < occurred_before if occurred_before else None,
    ]
    for condition in filters:
        if condition is not None:
            stmt = stmt.where(condition)
    async with db.uow(tenant_id=ctx.tenant_id) as uow:
        rows: list[Any]
        rows, next_cursor = await keyset_page(
            uow.session,
            stmt,
            keys=[AuditEvent.id.expression],
            cursor=cursor,
            limit=limit,
            key_of=lambda r: [r.id],
            descending=True,
        )
    return [_read(r) for r in rows], next_cursor


async def audit_event_get(db: Database, *, ctx: Context, event_id: uuid.UUID) -> AuditEventRead:
    """One audit record of the tenant."""
    async with db.uow(tenant_id=ctx.tenant_id) as uow:
        row = (
            await uow.session.execute(select(AuditEvent).where(AuditEvent.id == event_id))
        ).scalar()
    if row is None:
        raise AuditEventNotFound("No such audit event.")
    return _read(row)
