"""Reads of the identity module: me, users, contacts, sessions, login history, API keys."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import exists, or_, select

from fiscus.access.context import Context
from fiscus.access.queries import membership_get, memberships_of
from fiscus.core import clock
from fiscus.core.db import Database, UnitOfWork
from fiscus.core.errors import NotFound, PermissionDenied
from fiscus.core.keyring import KeyRing
from fiscus.core.pagination import keyset_page
from fiscus.identity import sealed
from fiscus.identity.models import (
    ApiKey,
    AuthSession,
    EmailChange,
    LoginEvent,
    MfaFactor,
    Passkey,
    User,
)
from fiscus.identity.schemas import (
    ApiKeyRead,
    LoginEventRead,
    MeRead,
    SessionRead,
    UserRead,
)
from fiscus.identity.service._users import user_personal, user_read

MAX_CONTACTS = 200


def _person(ctx: Context) -> uuid.UUID:
    if ctx.actor_type != "user" or ctx.actor_id is None:
        raise PermissionDenied("API keys have no profile, sessions or login history.")
    return ctx.actor_id


async def me_get(db: Database, keyring: KeyRing, *, ctx: Context) -> MeRead:
    """The signed-in user's account in the current tenant."""
    user_id = _person(ctx)
    async with db.uow(tenant_id=ctx.tenant_id) as uow:
        user = (
            await uow.session.execute(
                select(User).where(User.tenant_id == ctx.tenant_id, User.id == user_id)
            )
        ).scalar_one()
    email, name = user_personal(user, keyring)
    return MeRead(
        id=str(user.id),
        email=email,
        display_name=name,
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
    db: Database, keyring: KeyRing, *, ctx: Context, limit: int, cursor: str | None
) -> tuple[list[UserRead], str | None]:
    """The tenant's accounts by id."""
    async with db.uow(tenant_id=ctx.tenant_id) as uow:
        users: list[Any]
        users, next_cursor = await keyset_page(
            uow.session,
            select(User),
            keys=[User.id.expression],
            cursor=cursor,
            limit=limit,
            key_of=lambda u: [u.id],
        )
        members = await memberships_of(uow, tenant_id=ctx.tenant_id, user_ids=[u.id for u in users])
    return [
        user_read(u, keyring, role=members[u.id].role, status=members[u.id].status)
        for u in users
        if u.id in members
    ], next_cursor


async def user_get(db: Database, keyring: KeyRing, *, ctx: Context, user_id: uuid.UUID) -> UserRead:
    """One account of the tenant; another tenant's is simply not found."""
    async with db.uow(tenant_id=ctx.tenant_id) as uow:
        membership = await membership_get(uow, tenant_id=ctx.tenant_id, user_id=user_id)
        user = (
            await uow.session.execute(
                select(User).where(User.tenant_id == ctx.tenant_id, User.id == user_id)
            )
        ).scalar()
    if user is None or membership is None:
        raise NotFound("No such user in this tenant.")
    return user_read(user, keyring, role=membership.role, status=membership.status)


@dataclass(frozen=True, slots=True)
class UserContact:
    """What messaging needs to reach an active account: its address and name, opened."""

    user_id: uuid.UUID
    email: str
    display_name: str


async def user_contacts(
    db: Database, keyring: KeyRing, *, tenant_id: uuid.UUID, user_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, UserContact]:
    """Active accounts (with an active membership) among `user_ids`, by id."""
    wanted = list(dict.fromkeys(user_ids))[:MAX_CONTACTS]
    async with db.uow(tenant_id=tenant_id) as uow:
        users = (
            await uow.session.execute(
                select(User).where(
                    User.tenant_id == tenant_id, User.id.in_(wanted), User.status == "active"
                )
            )
        ).scalars()
        members = await memberships_of(uow, tenant_id=tenant_id, user_ids=wanted)
        found = {}
        for user in users:
            membership = members.get(user.id)
            if membership is not None and membership.status == "active":
                email, name = user_personal(user, keyring)
                found[user.id] = UserContact(user.id, email, name)
    return found


async def email_change_address(
    db: Database, keyring: KeyRing, *, tenant_id: uuid.UUID, change_id: uuid.UUID
) -> tuple[uuid.UUID, str] | None:
    """(account, new address) of a pending email change, for its confirmation mail; None
    once it is used or expired."""
    async with db.uow(tenant_id=tenant_id) as uow:
        change = (
            await uow.session.execute(
                select(EmailChange).where(
                    EmailChange.tenant_id == tenant_id, EmailChange.id == change_id
                )
            )
        ).scalar()
    if change is None or change.used_at is not None or change.expires_at <= clock.now():
        return None
    address = sealed.unseal(
        keyring,
        sealed.PENDING_EMAIL,
        tenant_id=tenant_id,
        row_id=change.id,
        sealed=change.email_sealed,
    )
    return change.user_id, address


async def factor_code_address(
    db: Database, keyring: KeyRing, *, tenant_id: uuid.UUID, factor_id: uuid.UUID
) -> tuple[uuid.UUID, str, str] | None:
    """(account, kind, address) of an email or SMS factor with a live code, for the message
    carrying the code; None once the code is used, expired or the factor removed."""
    async with db.uow(tenant_id=tenant_id) as uow:
        factor = (
            await uow.session.execute(
                select(MfaFactor).where(MfaFactor.tenant_id == tenant_id, MfaFactor.id == factor_id)
            )
        ).scalar()
    if (
        factor is None
        or factor.code_hash is None
        or factor.code_expires_at is None
        or factor.code_expires_at <= clock.now()
    ):
        return None
    address = sealed.unseal(
        keyring,
        sealed.FACTOR_ADDRESS,
        tenant_id=tenant_id,
        row_id=factor.id,
        sealed=factor.address_sealed,
    )
    return factor.user_id, factor.kind, address


def _key_status(key: ApiKey, creators: dict[uuid.UUID, bool]) -> str:
    if key.revoked_at is not None:
        return "revoked"
    if key.expires_at is not None and key.expires_at <= clock.now():
        return "expired"
    if key.created_by is not None and not creators.get(key.created_by, False):
        return "suspended"
    return "active"


def _key_read(k: ApiKey, creators: dict[uuid.UUID, bool]) -> ApiKeyRead:
    return ApiKeyRead(
        id=str(k.id),
        name=k.name,
        role=k.role,
        prefix=k.prefix,
        status=_key_status(k, creators),
        created_by=str(k.created_by) if k.created_by else None,
        created_by_key_id=str(k.created_by_key_id) if k.created_by_key_id else None,
        created_at=k.created_at,
        expires_at=k.expires_at,
        revoked_at=k.revoked_at,
        last_used_at=k.last_used_at,
    )


async def _creators_active(
    uow: UnitOfWork, *, tenant_id: uuid.UUID, keys: list[ApiKey]
) -> dict[uuid.UUID, bool]:
    """For each key creator: is the account active, with an active membership?"""
    people = list({k.created_by for k in keys if k.created_by is not None})
    if not people:
        return {}
    members = await memberships_of(uow, tenant_id=tenant_id, user_ids=people)
    rows = await uow.session.execute(
        select(User.id, User.status).where(User.tenant_id == tenant_id, User.id.in_(people))
    )
    return {
        user_id: status == "active" and user_id in members and members[user_id].status == "active"
        for user_id, status in rows.all()
    }


async def api_keys_list(
    db: Database, *, ctx: Context, limit: int, cursor: str | None
) -> tuple[list[ApiKeyRead], str | None]:
    """The tenant's API keys (never the keys themselves) with their creators, by id."""
    async with db.uow(tenant_id=ctx.tenant_id) as uow:
        keys: list[Any]
        keys, next_cursor = await keyset_page(
            uow.session,
            select(ApiKey),
            keys=[ApiKey.id.expression],
            cursor=cursor,
            limit=limit,
            key_of=lambda k: [k.id],
        )
        creators = await _creators_active(uow, tenant_id=ctx.tenant_id, keys=keys)
    return [_key_read(k, creators) for k in keys], next_cursor


async def api_key_get(db: Database, *, ctx: Context, key_id: uuid.UUID) -> ApiKeyRead:
    """One API key of the tenant."""
    async with db.uow(tenant_id=ctx.tenant_id) as uow:
        key = (
            await uow.session.execute(
                select(ApiKey).where(ApiKey.tenant_id == ctx.tenant_id, ApiKey.id == key_id)
            )
        ).scalar()
        if key is None:
            raise NotFound("No such API key.")
        creators = await _creators_active(uow, tenant_id=ctx.tenant_id, keys=[key])
    return _key_read(key, creators)


async def step_up_needed(uow: UnitOfWork, *, ctx: Context, window_s: int) -> bool:
    """True when the signed-in person has MFA on and their session has not proved password
    and MFA within `window_s` seconds (POST /v1/me/reauthenticate renews the proof); other
    modules ask before a sensitive step, in their own unit of work."""
    if ctx.actor_type != "user" or ctx.session_id is None:
        return False
    row = (
        await uow.session.execute(
            select(
                or_(
                    User.totp_enabled,
                    exists().where(
                        MfaFactor.tenant_id == User.tenant_id,
                        MfaFactor.user_id == User.id,
                        MfaFactor.verified_at.is_not(None),
                    ),
                    exists().where(Passkey.tenant_id == User.tenant_id, Passkey.user_id == User.id),
                ).label("mfa_on"),
                AuthSession.authenticated_at,
            )
            .join(
                AuthSession,
                (AuthSession.tenant_id == User.tenant_id) & (AuthSession.user_id == User.id),
            )
            .where(
                User.tenant_id == ctx.tenant_id,
                User.id == ctx.actor_id,
                AuthSession.id == ctx.session_id,
            )
        )
    ).first()
    if row is None or not row.mfa_on:
        return False
    return bool(clock.now() - row.authenticated_at > timedelta(seconds=window_s))
