"""The outbox: events written in the caller's transaction, relayed after commit.

An event exists if and only if the transaction that emitted it committed; the relay
(webhooks, messaging) reads committed rows, so nothing reaches the outside world early.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Index, Text, insert
from sqlalchemy.orm import Mapped, mapped_column

from fiscus.core import clock
from fiscus.core.db import UnitOfWork
from fiscus.core.ids import new_id
from fiscus.core.models import Base


class Event(Base):
    """One domain event, e.g. `transfer.posted` about `transfer/<id>`."""

    __tablename__ = "events"
    __table_args__ = (Index("ix_events_tenant_id_id", "tenant_id", "id"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    tenant_id: Mapped[uuid.UUID]
    type: Mapped[str] = mapped_column(Text)
    subject: Mapped[str] = mapped_column(Text)
    payload: Mapped[dict[str, Any]]
    created_at: Mapped[datetime]


async def emit(
    uow: UnitOfWork, *, tenant_id: uuid.UUID, type: str, subject: str, payload: dict[str, Any]
) -> uuid.UUID:
    """Record an event in the caller's transaction; return its id."""
    assert uow.active, "events are emitted inside the use case's unit of work"
    assert "." in type, "event names are noun.verb_past"
    event_id = new_id()
    await uow.session.execute(
        insert(Event).values(
            id=event_id,
            tenant_id=tenant_id,
            type=type,
            subject=subject,
            payload=payload,
            created_at=clock.now(),
        )
    )
    return event_id
