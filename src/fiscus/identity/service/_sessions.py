"""Sessions: open (token pair), rotate refresh tokens with reuse detection, revoke."""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import insert, select, update

from fiscus.access.context import Context
from fiscus.access.queries import membership_get
from fiscus.audit.service import audit_record
from fiscus.core import clock
from fiscus.core.db import Database, UnitOfWork
from fiscus.core.errors import NotFound
from fiscus.core.ids import new_id
from fiscus.identity.crypto import new_token, token_hash
from fiscus.identity.errors import InvalidToken
from fiscus.identity.models import AuthSession, RefreshToken, User
from fiscus.identity.runtime import Identity
from fiscus.identity.schemas import TokenPair
from fiscus.identity.tokens import access_token_issue

REFRESH_PREFIX = "fsr_"


def _access_token(
    identity: Identity, *, tenant_id: uuid.UUID, user_id: uuid.UUID, session_id: uuid.UUID
) -> str:
    return access_token_issue(
        identity.ring,
        issuer=identity.config.issuer,
        audience=identity.config.audience,
        user_id=user_id,
        tenant_id=tenant_id,
        session_id=session_id,
        now=clock.now(),
        ttl_s=identity.config.access_token_ttl_s,
    )


async def _refresh_token_add(
    uow: UnitOfWork, identity: Identity, *, tenant_id: uuid.UUID, session: AuthSession
) -> str:
    token = new_token(REFRESH_PREFIX)
    now = clock.now()
    idle = now + timedelta(seconds=identity.config.session_idle_timeout_s)
    await uow.session.execute(
        insert(RefreshToken).values(
            tenant_id=tenant_id,
            id=new_id(),
            session_id=session.id,
            token_hash=token_hash(token),
            created_at=now,
            expires_at=min(idle, session.expires_at),
        )
    )
    return token


async def session_open(
    uow: UnitOfWork,
    identity: Identity,
    *,
    tenant_id: uuid.UUID,
    user_id: uuid.UUID,
    mfa: bool,
    ip: str | None,
    user_agent: str | None,
    max_sessions: int | None,
) -> tuple[TokenPair, uuid.UUID]:
    """Start a session for a user who just proved who they are; return tokens and its id."""
    assert uow.active
    now = clock.now()
    session = AuthSession(
        tenant_id=tenant_id,
        id=new_id(),
        user_id=user_id,
        created_at=now,
        last_seen_at=now,
        authenticated_at=now,
        expires_at=now + timedelta(seconds=identity.config.session_absolute_s),
        mfa=mfa,
        ip=ip,
        user_agent=(user_agent or "")[:500] or None,
    )
    uow.session.add(session)
    await uow.session.flush()
    if max_sessions is not None:
        await _end_sessions_beyond(uow, tenant_id=tenant_id, user_id=user_id, keep=max_sessions)
    refresh = await _refresh_token_add(uow, identity, tenant_id=tenant_id, session=session)
    access = _access_token(identity, tenant_id=tenant_id, user_id=user_id, session_id=session.id)
    pair = TokenPair(
        access_token=access, refresh_token=refresh, expires_in=identity.config.access_token_ttl_s
    )
    return pair, session.id


async def session_still_valid(uow: UnitOfWork, *, session: AuthSession) -> bool:
    """False when the user was disabled or changed password after the session proved itself."""
    user = await uow.session.get(User, (session.tenant_id, session.user_id))
    membership = await membership_get(uow, tenant_id=session.tenant_id, user_id=session.user_id)
    if user is None or membership is None:
        return False
    return (
        user.status == "active"
        and membership.status == "active"
        and session.authenticated_at >= user.password_changed_at
    )


async def _end_sessions_beyond(
    uow: UnitOfWork, *, tenant_id: uuid.UUID, user_id: uuid.UUID, keep: int
) -> None:
    """Revoke the user's oldest live sessions so at most `keep` remain."""
    rows = await uow.session.execute(
        select(AuthSession.id)
        .where(
            AuthSession.tenant_id == tenant_id,
            AuthSession.user_id == user_id,
            AuthSession.revoked_at.is_(None),
            AuthSession.expires_at > clock.now(),
        )
        .order_by(AuthSession.created_at.desc(), AuthSession.id.desc())
        .offset(keep)
    )
    stale = list(rows.scalars())
    if stale:
        await uow.session.execute(
            update(AuthSession)
            .where(AuthSession.tenant_id == tenant_id, AuthSession.id.in_(stale))
            .values(revoked_at=clock.now(), revoked_reason="session_limit")
        )


async def sessions_revoke(
    uow: UnitOfWork,
    *,
    tenant_id: uuid.UUID,
    user_id: uuid.UUID,
    reason: str,
    session_id: uuid.UUID | None = None,
    except_session: uuid.UUID | None = None,
) -> int:
    """End one session (session_id) or all the user's sessions but `except_session`."""
    assert uow.active
    stmt = update(AuthSession).where(
        AuthSession.tenant_id == tenant_id,
        AuthSession.user_id == user_id,
        AuthSession.revoked_at.is_(None),
    )
    if session_id is not None:
        stmt = stmt.where(AuthSession.id == session_id)
    if except_session is not None:
        stmt = stmt.where(AuthSession.id != except_session)
    result = await uow.session.execute(stmt.values(revoked_at=clock.now(), revoked_reason=reason))
    return int(getattr(result, "rowcount", 0) or 0)


async def session_refresh(db: Database, identity: Identity, *, refresh_token: str) -> TokenPair:
    """Rotate: the presented refresh token is spent and a new pair issued.

    Presenting an already spent token means it was copied: the whole session (the token
    family) is revoked, and the legitimate holder has to log in again.
    """
    if not refresh_token.startswith(REFRESH_PREFIX):
        raise InvalidToken("The refresh token is not valid.")
    digest = token_hash(refresh_token)
    async with db.uow() as lookup:
        found = (
            await lookup.session.execute(
                select(RefreshToken.tenant_id).where(RefreshToken.token_hash == digest)
            )
        ).first()
    if found is None:
        raise InvalidToken("The refresh token is not valid.")
    tenant_id = found[0]
    outcome: TokenPair | str
    async with db.uow(tenant_id=tenant_id) as uow:
        outcome = await _rotate(uow, identity, tenant_id=tenant_id, digest=digest)
    if isinstance(outcome, str):
        raise InvalidToken(outcome)
    return outcome


async def _rotate(
    uow: UnitOfWork, identity: Identity, *, tenant_id: uuid.UUID, digest: bytes
) -> TokenPair | str:
    token = (
        await uow.session.execute(
            select(RefreshToken).where(RefreshToken.token_hash == digest).with_for_update()
        )
    ).scalar_one()
    session = (
        await uow.session.execute(
            select(AuthSession)
            .where(AuthSession.tenant_id == tenant_id, AuthSession.id == token.session_id)
            .with_for_update()
        )
    ).scalar_one()
    now = clock.now()
    ctx = Context(
        tenant_id=tenant_id,
        actor_type="user",
        actor_id=session.user_id,
        role="-",
        permissions=frozenset(),
        session_id=session.id,
    )
    if token.used_at is not None:
        if session.revoked_at is None:
            session.revoked_at, session.revoked_reason = now, "refresh_token_reuse"
            await audit_record(
                uow,
                ctx=ctx,
                action="session.refresh_reuse_detected",
                object_type="session",
                object_id=session.id,
                outcome="failure",
            )
        return "This refresh token was already used; the session has been ended."
    if session.revoked_at is not None or session.expires_at <= now or token.expires_at <= now:
        return "The session has ended; log in again."
    if not await session_still_valid(uow, session=session):
        return "The session has ended; log in again."
    token.used_at = now
    session.last_seen_at = now
    refresh = await _refresh_token_add(uow, identity, tenant_id=tenant_id, session=session)
    access = _access_token(
        identity, tenant_id=tenant_id, user_id=session.user_id, session_id=session.id
    )
    return TokenPair(
        access_token=access, refresh_token=refresh, expires_in=identity.config.access_token_ttl_s
    )


def _own_user(ctx: Context) -> uuid.UUID:
    if ctx.actor_type != "user" or ctx.actor_id is None:
        raise InvalidToken("API keys have no sessions.")
    return ctx.actor_id


async def session_end(db: Database, *, ctx: Context, session_id: uuid.UUID, reason: str) -> None:
    """End one of the caller's own sessions (logout is ending the current one)."""
    user_id = _own_user(ctx)
    async with db.uow(tenant_id=ctx.tenant_id) as uow:
        ended = await sessions_revoke(
            uow, tenant_id=ctx.tenant_id, user_id=user_id, reason=reason, session_id=session_id
        )
        if not ended:
            exists = await uow.session.execute(
                select(AuthSession.id).where(
                    AuthSession.tenant_id == ctx.tenant_id,
                    AuthSession.user_id == user_id,
                    AuthSession.id == session_id,
                )
            )
            if exists.first() is None:
                raise NotFound("No such session.")
        await audit_record(
            uow, ctx=ctx, action=f"session.{reason}", object_type="session", object_id=session_id
        )


async def sessions_end_others(db: Database, *, ctx: Context) -> int:
    """End every session of the caller except the current one; return how many ended."""
    user_id = _own_user(ctx)
    async with db.uow(tenant_id=ctx.tenant_id) as uow:
        ended = await sessions_revoke(
            uow,
            tenant_id=ctx.tenant_id,
            user_id=user_id,
            reason="revoked_by_user",
            except_session=ctx.session_id,
        )
        await audit_record(
            uow,
            ctx=ctx,
            action="session.others_revoked",
            object_type="user",
            object_id=user_id,
            details={"ended": ended},
        )
    return ended
