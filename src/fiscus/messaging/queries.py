"""Reads: a user's inbox and preferences, and the admins' view of messages with history.

Messages come back opened (`MessageView`): the sealed columns are read with the key ring
here, in the one place that shows them.
"""

from __future__ import annotations

import uuid

from sqlalchemy import select

from fiscus.access.context import Context
from fiscus.core.db import Database
from fiscus.core.keyring import KeyRing
from fiscus.core.pagination import keyset_page
from fiscus.messaging._sealing import MessageView, message_open
from fiscus.messaging._templates import CHANNELS
from fiscus.messaging.models import Message, MessagePreference, MessageStatusChange
from fiscus.messaging.service import DEFAULT_CHANNELS, caller_id


async def inbox_list(
    db: Database,
    ctx: Context,
    *,
    keyring: KeyRing,
    unread_only: bool,
    cursor: str | None,
    limit: int,
) -> tuple[list[MessageView], str | None]:
    """The caller's in-app messages, newest first."""
    user_id = caller_id(ctx)
    stmt = select(Message).where(
        Message.tenant_id == ctx.tenant_id,
        Message.user_id == user_id,
        Message.channel == "in_app",
    )
    if unread_only:
        stmt = stmt.where(Message.read_at.is_(None))
    async with db.uow(tenant_id=ctx.tenant_id) as uow:
        rows: list[Message]
        rows, next_cursor = await keyset_page(
            uow.session,
            stmt,
            keys=[Message.__table__.c.id],
            cursor=cursor,
            limit=limit,
            key_of=lambda m: [str(m.id)],
            descending=True,
        )
    return [message_open(keyring, row) for row in rows], next_cursor


async def preferences_get(db: Database, ctx: Context) -> dict[str, list[str]]:
    """The caller's channels per category, defaults filled in; security is every channel."""
    user_id = caller_id(ctx)
    async with db.uow(tenant_id=ctx.tenant_id) as uow:
        saved = (
            await uow.session.execute(
                select(MessagePreference).where(
                    MessagePreference.tenant_id == ctx.tenant_id,
                    MessagePreference.user_id == user_id,
                )
            )
        ).scalars()
        chosen = {row.category: list(row.channels) for row in saved}
    result: dict[str, list[str]] = {"security": list(CHANNELS)}
    for category, default in DEFAULT_CHANNELS.items():
        result[category] = chosen.get(category, list(default))
    return result


async def messages_list(
    db: Database,
    ctx: Context,
    *,
    keyring: KeyRing,
    user_id: uuid.UUID | None,
    status: str | None,
    cursor: str | None,
    limit: int,
) -> tuple[list[MessageView], str | None]:
    """Every message of the tenant (admins), newest first, with status history."""
    stmt = select(Message).where(Message.tenant_id == ctx.tenant_id)
    if user_id is not None:
        stmt = stmt.where(Message.user_id == user_id)
    if status is not None:
        stmt = stmt.where(Message.status == status)
    async with db.uow(tenant_id=ctx.tenant_id) as uow:
        rows: list[Message]
        rows, next_cursor = await keyset_page(
            uow.session,
            stmt,
            keys=[Message.__table__.c.id],
            cursor=cursor,
            limit=limit,
            key_of=lambda m: [str(m.id)],
            descending=True,
        )
        changes = (
            await uow.session.execute(
                select(MessageStatusChange)
                .where(
                    MessageStatusChange.tenant_id == ctx.tenant_id,
                    MessageStatusChange.message_id.in_([m.id for m in rows]),
                )
                .order_by(MessageStatusChange.at, MessageStatusChange.id)
            )
        ).scalars()
        by_message: dict[uuid.UUID, list[MessageStatusChange]] = {}
        for change in changes:
            by_message.setdefault(change.message_id, []).append(change)
    return [message_open(keyring, m, by_message.get(m.id, [])) for m in rows], next_cursor
