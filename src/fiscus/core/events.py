"""The outbox: events written in the caller's transaction, relayed after commit.

An event exists if and only if the transaction that emitted it committed; the relay
(webhooks, messaging) reads committed rows, so nothing reaches the outside world early.

Ordering. Each tenant's events have a gap-free `position` (1, 2, 3, ...). Writers do not
assign it: a per-tenant counter row locked by every `emit` would serialise the ledger's
hot path (one event per transfer, thousands per second) on one row lock per tenant.
Instead `emit` inserts the row with `position` NULL, and the relay, one at a time under
an advisory lock, numbers the rows it can see, in the order their transactions became
visible to it (ties inside one batch by emit time, the UUIDv7 id). Because numbering and
fan-out commit together and relays never overlap, readers of the change feed only ever
see a prefix of the stream that grows at its end: no gaps, no late inserts in the middle.

Wake-up. A statement trigger on `events` calls pg_notify in the emitting transaction, so
the relay hears about an event exactly when it commits. The worker's listener relays
itself, draining the outbox in batches; notifications that arrive meanwhile fold into one
follow-up relay, so the cost scales with batches, not events. A relay transaction is
BEGIN, one lock-and-number statement, one look-up per subscriber, COMMIT; a subscriber's
wake task is deferred only when its fan-out created work. The price: PostgreSQL takes a
database-wide lock from the pre-commit of a notifying transaction to the end of its
commit, so notifying commits queue behind each other. `bench/events_emit.py` measures it
(BENCH_NO_NOTIFY=1); if it ever caps the ledger, drop the trigger and let the listener
poll every few milliseconds instead: correctness does not depend on the notification.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, CheckConstraint, Index, Text, false, insert, or_, select, text
from sqlalchemy.orm import Mapped, mapped_column

from fiscus.core import clock
from fiscus.core.db import Database, UnitOfWork
from fiscus.core.errors import ValidationProblem
from fiscus.core.ids import new_id
from fiscus.core.keyring import KeyRing
from fiscus.core.models import Base
from fiscus.core.retention import retention_purge

# The relay's advisory lock key (any fixed bigint; it names "the one relay").
RELAY_LOCK_KEY = 0x6669_7363_7573_0001
RELAY_BATCH = 500
MAX_TYPE_PATTERNS = 20
NOTIFY_CHANNEL = "fiscus_events"
_PATTERN = re.compile(r"^(\*|[a-z_]+(\.[a-z_]+)+|[a-z_]+(\.[a-z_]+)*\.\*)$")


class Event(Base):
    """One domain event, e.g. `transfer.posted` about `transfer/<id>`."""

    __tablename__ = "events"
    __table_args__ = (
        Index("ix_events_tenant_id_id", "tenant_id", "id"),
        Index("uq_events_tenant_id_position", "tenant_id", "position", unique=True),
        Index("ix_events_unrelayed", "id", postgresql_where=text("position IS NULL")),
        Index("ix_events_tenant_id_created_at", "tenant_id", "created_at"),
        CheckConstraint("type ~ '^[a-z_]+(\\.[a-z_]+)+$'", name="type_format"),
        CheckConstraint("position IS NULL OR position > 0", name="position_positive"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    tenant_id: Mapped[uuid.UUID]
    type: Mapped[str] = mapped_column(Text)
    subject: Mapped[str] = mapped_column(Text)
    payload: Mapped[dict[str, Any]]
    created_at: Mapped[datetime]
    position: Mapped[int | None] = mapped_column(BigInteger)
    relayed_at: Mapped[datetime | None]


@dataclass(frozen=True, slots=True)
class RelayedEvent:
    """A committed event with its stream position, as subscribers receive it."""

    id: uuid.UUID
    tenant_id: uuid.UUID
    type: str
    subject: str
    payload: dict[str, Any]
    created_at: datetime
    position: int


# (the relay's unit of work, the batch, the key ring to seal what the fan-out stores)
# -> whether it created work for its wake task (False: nothing matched, no wake-up).
FanOut = Callable[[UnitOfWork, Sequence[RelayedEvent], KeyRing], Awaitable[bool]]


@dataclass(frozen=True, slots=True)
class Subscriber:
    """A module that turns relayed events into its own work rows (deliveries, messages).

    `fan_out` runs inside the relay's transaction, so it must be idempotent only against
    itself being re-run after a crash before commit (which rolls everything back anyway);
    it looks up what it needs once per batch, not per event, and returns True only if it
    created work. `wake_task` names the procrastinate task the relay defers after commit,
    only for a batch whose fan-out returned True (the minute sweep wakes it regardless).
    """

    name: str
    fan_out: FanOut
    wake_task: str | None = None


_subscribers: dict[str, Subscriber] = {}


def subscribe(subscriber: Subscriber) -> None:
    """Register (or replace) a subscriber; the worker wires them up at start."""
    _subscribers[subscriber.name] = subscriber


def subscribers() -> list[Subscriber]:
    """The registered subscribers, in registration order."""
    return list(_subscribers.values())


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


# The lock and the numbering in one statement (migration 0307 says why it is a function).
_RELAY_SQL = text(
    "SELECT id, tenant_id, type, subject, payload, created_at, position"
    " FROM events_relay_number(:key, :limit, :now)"
)


@dataclass(frozen=True, slots=True)
class RelayBatch:
    """One relay transaction's outcome: the events it numbered, in (tenant, position)
    order, and the subscribers whose fan-out created work for them (in registration
    order), which are the only ones worth waking."""

    events: list[RelayedEvent]
    busy: list[Subscriber]

    def wake_tasks(self) -> list[str]:
        """The tasks to defer after commit: the busy subscribers' wake tasks."""
        return [s.wake_task for s in self.busy if s.wake_task is not None]


async def events_relay(db: Database, *, keyring: KeyRing, limit: int = RELAY_BATCH) -> RelayBatch:
    """Number up to `limit` committed, unrelayed events and fan them out; one transaction.

    A crash anywhere before commit rolls back numbering and fan-out together, so the next
    run sees the same events again: nothing is lost and nothing is fanned out twice.
    On the wire: BEGIN, the lock-and-number statement, the subscribers' look-ups (one per
    subscriber and batch when nothing matches), COMMIT.
    """
    assert 1 <= limit <= 10_000
    busy: list[Subscriber] = []
    async with db.uow() as uow:
        rows = (
            await uow.session.execute(
                _RELAY_SQL, {"key": RELAY_LOCK_KEY, "limit": limit, "now": clock.now()}
            )
        ).all()
        relayed = sorted(
            (
                RelayedEvent(
                    id=row.id,
                    tenant_id=row.tenant_id,
                    type=row.type,
                    subject=row.subject,
                    payload=row.payload,
                    created_at=row.created_at,
                    position=row.position,
                )
                for row in rows
            ),
            key=lambda event: (event.tenant_id, event.position),
        )
        if relayed:
            for subscriber in subscribers():
                if await subscriber.fan_out(uow, relayed, keyring):
                    busy.append(subscriber)
    return RelayBatch(events=relayed, busy=busy)


async def events_relay_batch(
    db: Database, *, keyring: KeyRing, limit: int = RELAY_BATCH
) -> list[RelayedEvent]:
    """`events_relay`, for callers that only want the events (tests, tools)."""
    return (await events_relay(db, keyring=keyring, limit=limit)).events


def check_type_patterns(patterns: Sequence[str], *, field: str) -> list[str]:
    """Validate event type filters: `transfer.posted`, `transfer.*` or `*`."""
    if len(patterns) > MAX_TYPE_PATTERNS:
        raise ValidationProblem(f"At most {MAX_TYPE_PATTERNS} event types.", field=field)
    for pattern in patterns:
        if not _PATTERN.match(pattern):
            raise ValidationProblem(
                f"{pattern!r} is not an event type or a pattern such as 'transfer.*'.",
                field=field,
            )
    return list(dict.fromkeys(patterns))


def type_matches(patterns: Sequence[str], event_type: str) -> bool:
    """True if `event_type` matches one of the patterns (`*` and `noun.*` are wildcards)."""
    for pattern in patterns:
        if pattern in ("*", event_type):
            return True
        if pattern.endswith(".*") and event_type.startswith(pattern[:-1]):
            return True
    return False


def patterns_matching(event_types: Iterable[str]) -> list[str]:
    """Every pattern that matches one of `event_types` (`*`, the type, each `noun.*`
    prefix): an endpoint or rule whose filter overlaps this list matches some of them."""
    found = {"*"}
    for event_type in event_types:
        found.add(event_type)
        parts = event_type.split(".")
        found.update(".".join(parts[:n]) + ".*" for n in range(1, len(parts)))
    return sorted(found)


def _type_clause(patterns: Sequence[str]) -> Any:
    clauses: list[Any] = []
    for pattern in patterns:
        if pattern == "*":
            return None
        if pattern.endswith(".*"):
            # startswith() escapes LIKE's `_` wildcard, which event names contain.
            clauses.append(Event.type.startswith(pattern[:-1], autoescape=True))
        else:
            clauses.append(Event.type == pattern)
    return or_(*clauses) if clauses else false()


async def events_feed(
    uow: UnitOfWork, *, tenant_id: uuid.UUID, after: int, types: Sequence[str], limit: int
) -> list[Event]:
    """The tenant's relayed events after `after`, in position order (the change feed)."""
    assert uow.active and 1 <= limit <= 1000 and after >= 0
    stmt = select(Event).where(Event.tenant_id == tenant_id, Event.position > after)
    if types:
        clause = _type_clause(types)
        if clause is not None:
            stmt = stmt.where(clause)
    result = await uow.session.execute(stmt.order_by(Event.position).limit(limit))
    return list(result.scalars())


async def event_get(uow: UnitOfWork, *, tenant_id: uuid.UUID, event_id: uuid.UUID) -> Event | None:
    """One event of the tenant, relayed or not yet."""
    assert uow.active
    result = await uow.session.execute(
        select(Event).where(Event.tenant_id == tenant_id, Event.id == event_id)
    )
    return result.scalar_one_or_none()


async def events_since(
    uow: UnitOfWork, *, tenant_id: uuid.UUID, since: datetime, limit: int
) -> list[Event]:
    """The tenant's relayed events created at or after `since`, oldest first (replays)."""
    assert uow.active and 1 <= limit <= 100_000
    result = await uow.session.execute(
        select(Event)
        .where(
            Event.tenant_id == tenant_id,
            Event.created_at >= since,
            Event.position.is_not(None),
        )
        .order_by(Event.position)
        .limit(limit)
    )
    return list(result.scalars())


def event_body(
    *,
    id: uuid.UUID,
    type: str,
    created_at: datetime,
    tenant_id: uuid.UUID,
    data: dict[str, Any],
) -> dict[str, Any]:
    """The public shape of an event (webhook body): id, type, created_at, tenant_id, data."""
    return {
        "id": str(id),
        "type": type,
        "created_at": clock.rfc3339(created_at),
        "tenant_id": str(tenant_id),
        "data": data,
    }


async def events_purge(db: Database, *, days: int) -> int:
    """Delete relayed events older than `days` (0: keep them); never one not yet relayed."""
    return await retention_purge(
        db,
        model=Event,
        key=[Event.id],
        finished=Event.position.is_not(None),
        since=Event.created_at,
        days=days,
    )
