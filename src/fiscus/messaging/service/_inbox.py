"""Read receipts, announcements, one-click unsubscribe and retention."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert

from fiscus.access.context import Context
from fiscus.core import clock
from fiscus.core.db import Database
from fiscus.core.events import emit
from fiscus.core.ids import new_id
from fiscus.core.keyring import KeyRing
from fiscus.core.retention import retention_purge
from fiscus.messaging._sealing import (
    MessageView,
    message_open,
)
from fiscus.messaging._unsubscribe import token_read
from fiscus.messaging.errors import MessageNotFound, UnsubscribeLinkInvalid
from fiscus.messaging.models import (
    Message,
    MessagePreference,
    MessageStatusChange,
)
from fiscus.messaging.service._choices import caller_id
from fiscus.messaging.service._fan_out import status_change


async def message_mark_read(
    db: Database, ctx: Context, *, keyring: KeyRing, message_id: uuid.UUID
) -> MessageView:
    """Record that the caller read one of their in-app messages (idempotent)."""
    user_id = caller_id(ctx)
    async with db.uow(tenant_id=ctx.tenant_id) as uow:
        message = (
            await uow.session.execute(
                select(Message)
                .where(
                    Message.tenant_id == ctx.tenant_id,
                    Message.id == message_id,
                    Message.user_id == user_id,
                    Message.channel == "in_app",
                )
                .with_for_update()
            )
        ).scalar_one_or_none()
        if message is None:
            raise MessageNotFound(f"Message {message_id} was not found.")
        if message.read_at is None:
            message.read_at = clock.now()
            message.status = "read"
            await uow.session.execute(
                insert(MessageStatusChange).values([status_change(keyring, message, "read")])
            )
        return message_open(keyring, message)


async def announcement_publish(
    db: Database, ctx: Context, *, title: str, body: str, roles: Sequence[str] | None
) -> uuid.UUID:
    """Announce to every member of the tenant (or of some roles), in-app, via the outbox."""
    payload: dict[str, Any] = {"title": title, "body": body}
    if roles:
        payload["roles"] = list(roles)
    async with db.uow(tenant_id=ctx.tenant_id) as uow:
        return await emit(
            uow,
            tenant_id=ctx.tenant_id,
            type="announcement.published",
            subject=f"announcement/{new_id()}",
            payload=payload,
        )


async def marketing_unsubscribe(
    db: Database, *, keyring: KeyRing, token: str, legacy_roots: Sequence[str] = ()
) -> None:
    """RFC 8058 one-click: the signed link's user stops receiving marketing on every channel.

    `legacy_roots` (the configured root secrets) also accept links mailed before the key ring.
    """
    request = token_read(keyring, token, legacy_roots=legacy_roots)
    if request.category != "marketing":
        raise UnsubscribeLinkInvalid("The unsubscribe link is not valid.", field="token")
    now = clock.now()
    async with db.uow(tenant_id=request.tenant_id) as uow:
        await uow.session.execute(
            insert(MessagePreference)
            .values(
                tenant_id=request.tenant_id,
                user_id=request.user_id,
                category="marketing",
                channels=[],
                updated_at=now,
            )
            .on_conflict_do_update(
                index_elements=["tenant_id", "user_id", "category"],
                set_={"channels": [], "updated_at": now},
            )
        )


async def messages_purge(db: Database, *, days: int) -> int:
    """Delete messages (and, by cascade, their history) created more than `days` ago
    (0: keep them); a message still queued to be sent is never touched."""
    return await retention_purge(
        db,
        model=Message,
        key=[Message.tenant_id, Message.id],
        finished=Message.status != "queued",
        since=Message.created_at,
        days=days,
    )
