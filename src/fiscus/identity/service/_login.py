"""Login: password check with throttling and lockout, the MFA step, login history."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass

from sqlalchemy import insert, select

from fiscus.access.context import Context
from fiscus.access.queries import TenantInfo, membership_get, tenant_by_slug, tenant_get
from fiscus.audit.service import audit_record
from fiscus.core import clock
from fiscus.core.db import Database, UnitOfWork
from fiscus.core.errors import DomainError
from fiscus.core.events import emit
from fiscus.core.ids import new_id
from fiscus.identity.errors import InvalidCredentials, InvalidMfaCode
from fiscus.identity.models import LoginEvent, User
from fiscus.identity.passwords import password_verify
from fiscus.identity.runtime import Identity
from fiscus.identity.schemas import MfaChallenge, TokenPair
from fiscus.identity.service._mfa import mfa_code_accept
from fiscus.identity.service._sessions import session_open
from fiscus.identity.tokens import mfa_token_issue, mfa_token_verify

_REFUSED = "The tenant, email or password is wrong."


@dataclass(frozen=True, slots=True)
class Client:
    """Where a login comes from."""

    ip: str
    user_agent: str | None
    request_id: str = "-"


def _ctx(tenant_id: uuid.UUID, user_id: uuid.UUID | None, client: Client) -> Context:
    return Context(
        tenant_id=tenant_id,
        actor_type="user",
        actor_id=user_id,
        role="-",
        permissions=frozenset(),
        request_id=client.request_id,
        client_ip=client.ip,
        user_agent=client.user_agent,
    )


async def login_event_record(
    uow: UnitOfWork,
    *,
    tenant_id: uuid.UUID,
    user_id: uuid.UUID | None,
    client: Client,
    outcome: str,
    reason: str | None = None,
) -> None:
    """One row of login history, and the matching audit record."""
    await uow.session.execute(
        insert(LoginEvent).values(
            tenant_id=tenant_id,
            id=new_id(),
            user_id=user_id,
            occurred_at=clock.now(),
            ip=client.ip,
            user_agent=(client.user_agent or "")[:500] or None,
            outcome=outcome,
            reason=reason,
        )
    )
    await audit_record(
        uow,
        ctx=_ctx(tenant_id, user_id, client),
        action=f"auth.login_{outcome}",
        object_type="user",
        object_id=user_id,
        outcome="success" if outcome in ("success", "mfa_required") else "failure",
        details={"reason": reason} if reason else None,
    )


async def _failure(
    db: Database,
    identity: Identity,
    *,
    tenant: TenantInfo,
    account: str,
    user_id: uuid.UUID | None,
    email: str,
    client: Client,
    reason: str,
) -> None:
    locked = await identity.throttle.login_failed(account=account, ip=client.ip)
    async with db.uow(tenant_id=tenant.id) as uow:
        await login_event_record(
            uow,
            tenant_id=tenant.id,
            user_id=user_id,
            client=client,
            outcome="failure",
            reason=reason,
        )
        if locked and user_id is not None:
            await login_event_record(
                uow,
                tenant_id=tenant.id,
                user_id=user_id,
                client=client,
                outcome="locked",
                reason="too_many_failures",
            )
            # The messaging module tells the owner; the payload carries no secret.
            await emit(
                uow,
                tenant_id=tenant.id,
                type="user.locked_out",
                subject=f"user/{user_id}",
                payload={
                    "user_id": str(user_id),
                    "email": email,
                    "locked_for_s": identity.config.lockout_s,
                    "ip": client.ip,
                },
            )


async def _throttled(
    db: Database,
    identity: Identity,
    *,
    tenant: TenantInfo,
    account: str,
    user_id: uuid.UUID | None,
    client: Client,
) -> None:
    try:
        await identity.throttle.login_check(account=account, ip=client.ip)
    except DomainError as error:
        async with db.uow(tenant_id=tenant.id) as uow:
            await login_event_record(
                uow,
                tenant_id=tenant.id,
                user_id=user_id,
                client=client,
                outcome="throttled",
                reason=error.type_slug,
            )
        raise


async def _user_in_tenant(db: Database, *, tenant_id: uuid.UUID, email: str) -> User | None:
    async with db.uow(tenant_id=tenant_id) as uow:
        user = (await uow.session.execute(select(User).where(User.email == email))).scalar()
        if user is None:
            return None
        membership = await membership_get(uow, tenant_id=tenant_id, user_id=user.id)
        if membership is None or membership.status != "active" or user.status != "active":
            return None
        return user


async def auth_login(
    db: Database,
    identity: Identity,
    *,
    tenant_slug: str,
    email: str,
    password: str,
    client: Client,
) -> TokenPair | MfaChallenge:
    """Check a password login; a token pair, or an MFA challenge when MFA is on."""
    email = email.strip().lower()
    async with db.uow() as uow:
        tenant = await tenant_by_slug(uow, slug=tenant_slug.strip().lower())
    if tenant is None or tenant.status != "active":
        await asyncio.to_thread(password_verify, None, password)  # same time as a real check
        raise InvalidCredentials(_REFUSED)
    account = f"{tenant.id}:{email}"
    user = await _user_in_tenant(db, tenant_id=tenant.id, email=email)
    await _throttled(
        db,
        identity,
        tenant=tenant,
        account=account,
        user_id=user.id if user else None,
        client=client,
    )
    ok = await asyncio.to_thread(password_verify, user.password_hash if user else None, password)
    if user is None or not ok:
        await _failure(
            db,
            identity,
            tenant=tenant,
            account=account,
            user_id=user.id if user is not None else None,
            email=email,
            client=client,
            reason="unknown_account" if user is None else "bad_password",
        )
        raise InvalidCredentials(_REFUSED)
    await identity.throttle.login_succeeded(account=account)
    if user.totp_enabled:
        async with db.uow(tenant_id=tenant.id) as uow:
            await login_event_record(
                uow, tenant_id=tenant.id, user_id=user.id, client=client, outcome="mfa_required"
            )
        token = mfa_token_issue(
            identity.ring,
            issuer=identity.config.issuer,
            user_id=user.id,
            tenant_id=tenant.id,
            now=clock.now(),
            ttl_s=identity.config.mfa_token_ttl_s,
        )
        return MfaChallenge(mfa_token=token, expires_in=identity.config.mfa_token_ttl_s)
    return await _open(db, identity, tenant=tenant, user_id=user.id, mfa=False, client=client)


async def _open(
    db: Database,
    identity: Identity,
    *,
    tenant: TenantInfo,
    user_id: uuid.UUID,
    mfa: bool,
    client: Client,
) -> TokenPair:
    async with db.uow(tenant_id=tenant.id) as uow:
        pair, _ = await session_open(
            uow,
            identity,
            tenant_id=tenant.id,
            user_id=user_id,
            mfa=mfa,
            ip=client.ip,
            user_agent=client.user_agent,
            max_sessions=tenant.settings.max_sessions_per_user,
        )
        await login_event_record(
            uow, tenant_id=tenant.id, user_id=user_id, client=client, outcome="success"
        )
    return pair


async def auth_mfa_verify(
    db: Database, identity: Identity, *, mfa_token: str, code: str, client: Client
) -> TokenPair:
    """Second login step: the challenge token and a TOTP or backup code."""
    user_id, tenant_id = mfa_token_verify(identity.ring, mfa_token, issuer=identity.config.issuer)
    async with db.uow() as uow:
        tenant = await tenant_get(uow, tenant_id=tenant_id)
        email = (await uow.session.execute(select(User.email).where(User.id == user_id))).scalar()
    if email is None or tenant.status != "active":
        raise InvalidCredentials(_REFUSED)
    account = f"{tenant.id}:{email}"
    await _throttled(db, identity, tenant=tenant, account=account, user_id=user_id, client=client)
    try:
        async with db.uow(tenant_id=tenant.id) as uow:
            user = (
                await uow.session.execute(select(User).where(User.id == user_id).with_for_update())
            ).scalar()
            if user is None or not user.totp_enabled or user.status != "active":
                raise InvalidCredentials(_REFUSED)
            await mfa_code_accept(uow, identity, user=user, code=code)
    except InvalidMfaCode:
        await _failure(
            db,
            identity,
            tenant=tenant,
            account=account,
            user_id=user_id,
            email=email,
            client=client,
            reason="bad_mfa_code",
        )
        raise
    return await _open(db, identity, tenant=tenant, user_id=user_id, mfa=True, client=client)
