"""What tenants and users choose: templates, channels per category, the message profile."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import time
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy.dialects.postgresql import insert

from fiscus.access.context import Context
from fiscus.core import clock
from fiscus.core.db import Database
from fiscus.core.keyring import KeyRing
from fiscus.messaging._render import RenderLimits
from fiscus.messaging._sealing import (
    PHONE,
    seal,
)
from fiscus.messaging._templates import (
    CHANNELS,
    Body,
    Channel,
    Rendered,
    template_check,
    template_check_overridable,
)
from fiscus.messaging.errors import (
    MessageCategoryNotOptional,
    MessageCategoryUnknown,
    MessageChannelUnknown,
    MessagesNeedAUser,
    QuietHoursInvalid,
    TimezoneUnknown,
)
from fiscus.messaging.models import (
    MessagePreference,
    MessageProfile,
    MessageTemplate,
)
from fiscus.messaging.service._fan_out import DEFAULT_CHANNELS


async def template_save(
    db: Database,
    ctx: Context,
    *,
    event_type: str,
    channel: Channel,
    body: Body,
    limits: RenderLimits,
) -> Rendered:
    """Save the tenant's template after rendering it against sample data within `limits`;
    return the preview.

    Templates of events that carry a secret are the system's only (TemplateNotOverridable).
    """
    template_check_overridable(event_type)
    preview = template_check(event_type, channel, body, limits=limits)
    values = {
        "tenant_id": ctx.tenant_id,
        "event_type": event_type,
        "channel": channel,
        "subject": body.subject,
        "body_text": body.text,
        "body_html": body.html,
        "updated_at": clock.now(),
    }
    async with db.uow(tenant_id=ctx.tenant_id) as uow:
        await uow.session.execute(
            insert(MessageTemplate)
            .values(values)
            .on_conflict_do_update(
                index_elements=["tenant_id", "event_type", "channel"],
                set_={k: v for k, v in values.items() if k not in ("tenant_id",)},
            )
        )
    return preview


def template_preview(
    *, event_type: str, channel: Channel, body: Body, limits: RenderLimits
) -> Rendered:
    """Render a template with the event type's sample data within `limits` (nothing is
    saved)."""
    return template_check(event_type, channel, body, limits=limits)


async def preferences_set(
    db: Database, ctx: Context, *, category: str, channels: Sequence[str]
) -> None:
    """Choose the caller's channels for a category; security cannot be changed."""
    user_id = caller_id(ctx)
    if category == "security":
        raise MessageCategoryNotOptional("Security messages are always sent.", field="category")
    if category not in DEFAULT_CHANNELS:
        raise MessageCategoryUnknown(f"Unknown category {category!r}.", field="category")
    chosen = [c for c in CHANNELS if c in channels]
    if len(chosen) != len(set(channels)):
        raise MessageChannelUnknown("Channels are email, sms and in_app.", field="channels")
    values = {
        "tenant_id": ctx.tenant_id,
        "user_id": user_id,
        "category": category,
        "channels": chosen,
        "updated_at": clock.now(),
    }
    async with db.uow(tenant_id=ctx.tenant_id) as uow:
        await uow.session.execute(
            insert(MessagePreference)
            .values(values)
            .on_conflict_do_update(
                index_elements=["tenant_id", "user_id", "category"],
                set_={"channels": chosen, "updated_at": values["updated_at"]},
            )
        )


async def profile_set(
    db: Database,
    ctx: Context,
    *,
    keyring: KeyRing,
    phone: str | None,
    timezone: str,
    quiet_start: time | None,
    quiet_end: time | None,
) -> None:
    """Set the caller's SMS number, time zone and quiet hours."""
    user_id = caller_id(ctx)
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise TimezoneUnknown(f"Unknown time zone {timezone!r}.", field="timezone") from None
    if (quiet_start is None) != (quiet_end is None):
        raise QuietHoursInvalid("Quiet hours need a start and an end.", field="quiet_end")
    values = {
        "tenant_id": ctx.tenant_id,
        "user_id": user_id,
        "phone_sealed": seal(keyring, PHONE, (ctx.tenant_id, user_id), phone),
        "timezone": timezone,
        "quiet_start": quiet_start,
        "quiet_end": quiet_end,
        "updated_at": clock.now(),
    }
    async with db.uow(tenant_id=ctx.tenant_id) as uow:
        await uow.session.execute(
            insert(MessageProfile)
            .values(values)
            .on_conflict_do_update(
                index_elements=["tenant_id", "user_id"],
                set_={k: v for k, v in values.items() if k not in ("tenant_id", "user_id")},
            )
        )


def caller_id(ctx: Context) -> uuid.UUID:
    """The signed-in user acting; MessagesNeedAUser for an API key or the system."""
    if ctx.actor_type != "user" or ctx.actor_id is None:
        raise MessagesNeedAUser("Only a signed-in user has messages and preferences.")
    return ctx.actor_id
