"""Reads of the identity module: me, users, sessions, login history, API keys."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select

from fiscus.access.context import Context
from fiscus.access.queries import membership_get, memberships_of
from fiscus.core import clock
from fiscus.core.db import Database
from fiscus.core.errors import NotFound, PermissionDenied
from fiscus.core.pagination import keyset_page
from fiscus.identity.models import ApiKey, AuthSession, LoginEvent, User
from fiscus.identity.schemas import (
    ApiKeyRead,
    LoginEventRead,
    MeRead,
    SessionRead,
    UserRead,
)
from fiscus.identity.service._users import user_read


def _uuid(values: list[Any]) -> list[Any]:
    return [uuid.UUID(str(v)) for v in values]


def _person(ctx: Context) -> uuid.UUID:
    if ctx.actor_type != "user" or ctx.actor_id is None:
        raise PermissionDenied("API keys have no profile, sessions or login history.")
    return ctx.actor_id


async def me_get(db: Database, *, ctx: Context) -> MeRead:
    """The signed-in user as seen in the current tenant."""
    user_id = _person(ctx)
    async with db.uow(tenant_id=ctx.tenant_id) as uow:
        user = (await uow.session.execute(select(User).where(User.id == user_id))).scalar_one()
    return MeRead(
        id=str(user.id),
        email=user.email,
        display_name=user.display_name,
        tenant_id=str(ctx.tenant_id),
        role=ctx.role,
        permissions=sorted(ctx.permissions),
        mfa_enabled=user.totp_enabled,
        session_id=str(ctx.session_id) if ctx.session_id else None,
    )


async def sessions_list(db: Database, *, ctx: Context) -> list[SessionRead]:
    """The caller's live sessions in this tenant, newest first (at most 100)."""
    user_id = _person(ctx)
    async with db.uow(tenant_id=ctx.tenant_id) as uow:
        rows = await uow.session.execute(
            select(AuthSession)
            .where(
                AuthSession.user_id == user_id,
                AuthSession.revoked_at.is_(None),
                AuthSession.expires_at > clock.now(),
            )
            .order_by(AuthSession.id.desc())
            .limit(100)
        )
        return [
            SessionRead(
                id=str(s.id),
                created_at=s.created_at,
                last_seen_at=s.last_seen_at,
                expires_at=s.expires_at,
                ip=s.ip,
                user_agent=s.user_agent,
                mfa=s.mfa,
                current=s.id == ctx.session_id,
            )
            for s in rows.scalars()
        ]


async def login_history(
    db: Database, *, ctx: Context, limit: int, cursor: str | None
) -> tuple[list[LoginEventRead], str | None]:
    """The caller's login attempts in this tenant, newest first."""
    user_id = _person(ctx)
    async with db.uow(tenant_id=ctx.tenant_id) as uow:
        rows: list[Any]
        rows, next_cursor = await keyset_page(
            uow.session,
            select(LoginEvent).where(LoginEvent.user_id == user_id),
            keys=[LoginEvent.id.expression],
            cursor=cursor,
            limit=limit,
            key_of=lambda e: [e.id],
            parse=_uuid,
            descending=True,
        )
    return [
        LoginEventRead(
            id=str(e.id),
            occurred_at=e.occurred_at,
            ip=e.ip,
            user_agent=e.user_agent,
            outcome=e.outcome,
            reason=e.reason,
        )
        for e in rows
    ], next_cursor


async def users_list(
    db: Database, *, ctx: Context, limit: int, cursor: str | None
) -> tuple[list[UserRead], str | None]:
    """The tenant's users by id (row-level security shows only this tenant's members)."""
    async with db.uow(tenant_id=ctx.tenant_id) as uow:
        users: list[Any]
        users, next_cursor = await keyset_page(
            uow.session,
            select(User),
            keys=[User.id.expression],
            cursor=cursor,
            limit=limit,
            key_of=lambda u: [u.id],
            parse=_uuid,
        )
        members = await memberships_of(uow, tenant_id=ctx.tenant_id, user_ids=[u.id for u in users])
    return [
        user_read(u, role=members[u.id].role, status=members[u.id].status)
        for u in users
        if u.id in members
    ], next_cursor


async def user_get(db: Database, *, ctx: Context, user_id: uuid.UUID) -> UserRead:
    """One user of the tenant; another tenant's user is simply not found."""
    async with db.uow(tenant_id=ctx.tenant_id) as uow:
        membership = await membership_get(uow, tenant_id=ctx.tenant_id, user_id=user_id)
        user = (await uow.session.execute(select(User).where(User.id == user_id))).scalar()
    if user is None or membership is None:
        raise NotFound("No such user in this tenant.")
    return user_read(user, role=membership.role, status=membership.status)


def _key_read(k: ApiKey) -> ApiKeyRead:
    return ApiKeyRead(
        id=str(k.id),
        name=k.name,
        role=k.role,
        prefix=k.prefix,
        created_at=k.created_at,
        expires_at=k.expires_at,
        revoked_at=k.revoked_at,
        last_used_at=k.last_used_at,
    )


async def api_keys_list(
    db: Database, *, ctx: Context, limit: int, cursor: str | None
) -> tuple[list[ApiKeyRead], str | None]:
    """The tenant's API keys (never the keys themselves), by id."""
    async with db.uow(tenant_id=ctx.tenant_id) as uow:
        keys: list[Any]
        keys, next_cursor = await keyset_page(
            uow.session,
            select(ApiKey),
            keys=[ApiKey.id.expression],
            cursor=cursor,
            limit=limit,
            key_of=lambda k: [k.id],
            parse=_uuid,
        )
    return [_key_read(k) for k in keys], next_cursor


async def api_key_get(db: Database, *, ctx: Context, key_id: uuid.UUID) -> ApiKeyRead:
    """One API key of the tenant."""
    async with db.uow(tenant_id=ctx.tenant_id) as uow:
        key = (await uow.session.execute(select(ApiKey).where(ApiKey.id == key_id))).scalar()
    if key is None:
        raise NotFound("No such API key.")
    return _key_read(key)
