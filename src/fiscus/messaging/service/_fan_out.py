"""Relayed events become messages: recipients, channels, templates, sealed rows."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
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


async def _templates(uow: UnitOfWork, tenant_id: uuid.UUID, event_type: str) -> dict[str, Body]:
    spec = DEFAULTS[event_type]
    bodies: dict[str, Body] = {str(channel): body for channel, body in spec.bodies.items()}
    if not spec.overridable:
        return bodies  # an override saved before the rule existed is never used either
    overrides = (
        await uow.session.execute(
            select(MessageTemplate).where(
                MessageTemplate.tenant_id == tenant_id, MessageTemplate.event_type == event_type
            )
        )
    ).scalars()
    for row in overrides:
        bodies[row.channel] = Body(text=row.body_text, subject=row.subject, html=row.body_html)
    return bodies


async def messages_fan_out(
    uow: UnitOfWork,
    events: Sequence[RelayedEvent],
    keyring: KeyRing,
    *,
    limits: RenderLimits = RenderLimits(),  # noqa: B008 - frozen, shared safely
) -> None:
    """Relay subscriber: the messages each event means, one per (event, user, channel).

    A template that breaks `limits` (too large, too slow) fails its message, as any
    broken template does, with the reason recorded.

    Work is batched per relay batch: one audience load per tenant and one template load
    per (tenant, event type), whatever the number of events.
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
    templates: dict[tuple[uuid.UUID, str], dict[str, Body]] = {}
    for event, recipients in plans:
        key = (event.tenant_id, event.type)
        if key not in templates:
            templates[key] = await _templates(uow, event.tenant_id, event.type)
        await _queue_event(
            uow, keyring, event, recipients, templates[key], audiences[event.tenant_id], limits
        )


async def _queue_event(
    uow: UnitOfWork,
    keyring: KeyRing,
    event: RelayedEvent,
    recipients: list[Recipient],
    bodies: dict[str, Body],
    audience: Audience,
    limits: RenderLimits,
) -> None:
    category = DEFAULTS[event.type].category
    base = {"event": {"id": str(event.id), "type": event.type}, "data": event.payload}
    for recipient in recipients:
        for channel in channels_for(category, recipient.user_id, audience):
            body = bodies.get(channel)
            if body is not None:
                await _queue(
                    uow,
                    keyring,
                    event=event,
                    user_id=recipient.user_id,
                    channel=channel,
                    category=category,
                    body=body,
                    variables={**base, **recipient.variables, "secret": placeholders(event.type)},
                    audience=audience,
                    address=recipient.address if channel == "email" else None,
                    limits=limits,
                )


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
) -> None:
    address = address or _address(keyring, channel, user_id, audience)
    if channel == "sms" and address is None:
        return  # no number, no SMS: not a failure worth recording
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
    if inserted.first() is not None:
        await uow.session.execute(insert(MessageStatusChange).values(history))
