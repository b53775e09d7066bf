"""Relayed events become messages: recipients, channels, templates, sealed rows."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, tuple_
from sqlalchemy.dialects.postgresql import insert

from fiscus.core import clock
from fiscus.core.db import UnitOfWork
from fiscus.core.errors import DomainError
from fiscus.core.events import RelayedEvent
from fiscus.core.ids import new_id
from fiscus.core.keyring import KeyRing
from fiscus.messaging._recipients import Recipient, recipients_resolve
from fiscus.messaging._render import RenderLimits
from fiscus.messaging._sealing import (
    ADDRESS,
    DETAIL,
    LAST_ERROR,
    PHONE,
    content_seal,
    seal,
    unseal,
)
from fiscus.messaging._secrets import placeholders
from fiscus.messaging._templates import (
    CHANNELS,
    DEFAULTS,
    Body,
    Category,
    Channel,
    Rendered,
    render,
)
from fiscus.messaging.models import (
    Message,
    MessagePreference,
    MessageProfile,
    MessageStatusChange,
    MessageTemplate,
)

# Without a saved choice: transactions by email and in-app; marketing needs an opt-in.
DEFAULT_CHANNELS: dict[str, tuple[Channel, ...]] = {
    "transactions": ("email", "in_app"),
    "marketing": (),
}


@dataclass(frozen=True, slots=True)
class Audience:
    """Per-user facts the fan-out needs from messaging's own tables: phone, channel choices.

    E-mail addresses are looked up when the message is sent, not here: the fan-out runs in
    the relay's critical section and must not call other modules per recipient.
    """

    profiles: dict[uuid.UUID, MessageProfile]
    choices: dict[tuple[uuid.UUID, str], list[str]]


def status_change(
    keyring: KeyRing, message: Message, status: str, *, detail: str | None = None
) -> dict[str, Any]:
    """A row for the message's status history (the note sealed: it can quote an address)."""
    change_id = new_id()
    return {
        "tenant_id": message.tenant_id,
        "id": change_id,
        "message_id": message.id,
        "status": status,
        "detail_sealed": seal(keyring, DETAIL, (message.tenant_id, change_id), detail),
        "at": clock.now(),
    }


def channels_for(category: Category, user_id: uuid.UUID, audience: Audience) -> tuple[Channel, ...]:
    """The channels this user receives `category` on (security: every channel, always)."""
    if category == "security":
        return CHANNELS
    chosen = audience.choices.get((user_id, category))
    if chosen is None:
        return DEFAULT_CHANNELS[category]
    return tuple(c for c in CHANNELS if c in chosen)


async def _audience(uow: UnitOfWork, tenant_id: uuid.UUID, users: list[uuid.UUID]) -> Audience:
    profiles = (
        await uow.session.execute(
            select(MessageProfile).where(
                MessageProfile.tenant_id == tenant_id, MessageProfile.user_id.in_(users)
            )
        )
    ).scalars()
    choices = (
        await uow.session.execute(
            select(MessagePreference).where(
                MessagePreference.tenant_id == tenant_id, MessagePreference.user_id.in_(users)
            )
        )
    ).scalars()
    return Audience(
        profiles={p.user_id: p for p in profiles},
        choices={(c.user_id, c.category): c.channels for c in choices},
    )


async def _templates(
    uow: UnitOfWork, keys: set[tuple[uuid.UUID, str]]
) -> dict[tuple[uuid.UUID, str], dict[str, Body]]:
    """The bodies for each (tenant, event type): the defaults, with the tenant's overrides
    where the type allows them; one query for the whole batch."""
    found: dict[tuple[uuid.UUID, str], dict[str, Body]] = {
        key: {str(channel): body for channel, body in DEFAULTS[key[1]].bodies.items()}
        for key in keys
    }
    # An override saved before a type became non-overridable is never used either.
    wanted = sorted(key for key in keys if DEFAULTS[key[1]].overridable)
    if not wanted:
        return found
    overrides = (
        await uow.session.execute(
            select(MessageTemplate).where(
                tuple_(MessageTemplate.tenant_id, MessageTemplate.event_type).in_(wanted)
            )
        )
    ).scalars()
    for row in overrides:
        found[(row.tenant_id, row.event_type)][row.channel] = Body(
            text=row.body_text, subject=row.subject, html=row.body_html
        )
    return found


async def messages_fan_out(
    uow: UnitOfWork,
    events: Sequence[RelayedEvent],
    keyring: KeyRing,
    *,
    limits: RenderLimits = RenderLimits(),  # noqa: B008 - frozen, shared safely
) -> bool:
    """Relay subscriber: the messages each event means, one per (event, user, channel);
    True if one of them waits to be sent (the dispatch job has work).

    A template that breaks `limits` (too large, too slow) fails its message, as any
    broken template does, with the reason recorded.

    Work is batched per relay batch: one audience load per tenant and one template load
    for the batch, whatever the number of events; events that no message is sent for,
    or that have no recipient, cost no query.
    """
    assert uow.active
    plans: list[tuple[RelayedEvent, list[Recipient]]] = []
    users_by_tenant: dict[uuid.UUID, set[uuid.UUID]] = {}
    for event in events:
        if event.type not in DEFAULTS:
            continue
        recipients = await recipients_resolve(uow, event)
        if recipients:
            plans.append((event, recipients))
            users_by_tenant.setdefault(event.tenant_id, set()).update(r.user_id for r in recipients)
    audiences = {
        tenant_id: await _audience(uow, tenant_id, sorted(users))
        for tenant_id, users in users_by_tenant.items()
    }
    templates = await _templates(uow, {(event.tenant_id, event.type) for event, _ in plans})
    queued = False
    for event, recipients in plans:
        bodies = templates[(event.tenant_id, event.type)]
        audience = audiences[event.tenant_id]
        if await _queue_event(uow, keyring, event, recipients, bodies, audience, limits):
            queued = True
    return queued


async def _queue_event(
    uow: UnitOfWork,
    keyring: KeyRing,
    event: RelayedEvent,
    recipients: list[Recipient],
    bodies: dict[str, Body],
    audience: Audience,
    limits: RenderLimits,
) -> bool:
    """Queue the event's messages; True if one of them waits to be sent."""
    queued = False
    category = DEFAULTS[event.type].category
    base = {"event": {"id": str(event.id), "type": event.type}, "data": event.payload}
    for recipient in recipients:
        for channel in channels_for(category, recipient.user_id, audience):
            body = bodies.get(channel)
            if body is not None and await _queue(
                uow,
                keyring,
                event=event,
                user_id=recipient.user_id,
                channel=channel,
                category=category,
                body=body,
                variables={**base, **recipient.variables, "secret": placeholders(event.type)},
                audience=audience,
                address=recipient.address if channel == recipient.channel else None,
                limits=limits,
            ):
                queued = True
    return queued


def _address(
    keyring: KeyRing, channel: Channel, user_id: uuid.UUID, audience: Audience
) -> str | None:
    if channel == "sms":
        profile = audience.profiles.get(user_id)
        if profile is None:
            return None
        return unseal(keyring, PHONE, (profile.tenant_id, profile.user_id), profile.phone_sealed)
    return None


async def _queue(
    uow: UnitOfWork,
    keyring: KeyRing,
    *,
    event: RelayedEvent,
    user_id: uuid.UUID,
    channel: Channel,
    category: Category,
    body: Body,
    variables: dict[str, Any],
    audience: Audience,
    address: str | None = None,
    limits: RenderLimits,
) -> bool:
    """Insert one message (unless the event already has it); True if it waits to be sent."""
    address = address or _address(keyring, channel, user_id, audience)
    if channel == "sms" and address is None:
        return False  # no number, no SMS: not a failure worth recording
    now = clock.now()
    problem: str | None = None
    try:
        rendered = render(body, variables, limits=limits)
    except DomainError as error:  # over the limits
        rendered, problem = Rendered(None, "", None), f"template error: {error.detail}"
    except Exception as error:
        rendered, problem = Rendered(None, "", None), f"template error: {error}"
    row = (event.tenant_id, new_id())
    message = Message(
        tenant_id=row[0],
        id=row[1],
        user_id=user_id,
        event_id=event.id,
        event_type=event.type,
        channel=channel,
        category=category,
        content_sealed=content_seal(keyring, row, rendered),
        address_sealed=seal(keyring, ADDRESS, row, address),
        status="queued",
        attempt_count=0,
        next_attempt_at=now,
        created_at=now,
    )
    history = [status_change(keyring, message, "queued")]
    if problem is not None:
        message.status, message.next_attempt_at = "failed", None
        message.last_error_sealed = seal(keyring, LAST_ERROR, row, problem)
        history.append(status_change(keyring, message, "failed", detail=problem))
    elif channel == "in_app":
        # Committed means it is in the user's inbox: sent and delivered at once.
        message.status, message.next_attempt_at = "delivered", None
        message.sent_at = message.delivered_at = now
        history.append(status_change(keyring, message, "delivered"))
    values = {c.key: getattr(message, c.key) for c in Message.__table__.columns}
    inserted = await uow.session.execute(
        insert(Message)
        .values(values)
        .on_conflict_do_nothing(
            index_elements=["tenant_id", "event_id", "user_id", "channel"],
            index_where=Message.event_id.is_not(None),
        )
        .returning(Message.id)
    )
    if inserted.first() is None:
        return False
    await uow.session.execute(insert(MessageStatusChange).values(history))
    return message.status == "queued"
