"""Accounts: provisioning into a tenant, role and status changes, re-authentication, password."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError

from fiscus.access.context import Context
from fiscus.access.errors import RoleNotGrantable
from fiscus.access.queries import membership_get, role_permissions
from fiscus.access.service import membership_create, membership_update, role_check_grantable
from fiscus.audit.service import audit_record
from fiscus.core import clock
from fiscus.core.db import Database, UnitOfWork
from fiscus.core.errors import NotFound, PermissionDenied, ValidationProblem
from fiscus.core.ids import new_id
from fiscus.core.keyring import KeyRing
from fiscus.identity import sealed
from fiscus.identity.errors import EmailInUse, InvalidCredentials, InvalidMfaCode
from fiscus.identity.models import AuthSession, User
from fiscus.identity.passwords import (
    password_check,
    password_hash_pooled,
    password_verify_pooled,
)
from fiscus.identity.runtime import Identity
from fiscus.identity.schemas import UserCreate, UserRead, UserUpdate
from fiscus.identity.service._factors import factors_offered
from fiscus.identity.service._guard import Client, ctx_guess_failed, ctx_ip, guess_subjects
from fiscus.identity.service._mfa import mfa_code_accept, user_for_update
from fiscus.identity.service._passkeys import passkey_assertion_check
from fiscus.identity.service._reset import reset_tokens_end
from fiscus.identity.service._sessions import sessions_revoke
from fiscus.identity.throttle import Kind


def normalise_email(email: str) -> str:
    """Emails are compared, hashed and stored lower-cased and trimmed."""
    value = sealed.email_normal(email)
    if "@" not in value or len(value) > 320:
        raise ValidationProblem("This is not an email address.", field="email")
    return value


async def user_provision(
    uow: UnitOfWork,
    keyring: KeyRing,
    *,
    tenant_id: uuid.UUID,
    email: str,
    password: str,
    role: str,
    display_name: str = "",
) -> uuid.UUID:
    """Create an account in the tenant with a role; EmailInUse if the tenant has one.

    Accounts are per tenant: the same address in another tenant is another account, which
    this neither finds nor touches (docs/identity.md).
    """
    assert uow.active
    email = normalise_email(email)
    if await role_permissions(uow, tenant_id=tenant_id, role=role) is None:
        raise RoleNotGrantable(f"There is no role {role!r} in this tenant.")
    digest = sealed.email_hash(keyring, email)
    if await account_with_address(uow, tenant_id=tenant_id, email_hash=digest) is not None:
        raise EmailInUse("A user of this tenant already has this email address.")
    checked = password_check(password)
    hashed = await password_hash_pooled(checked)
    now = clock.now()
    user_id = new_id()
    name = display_name.strip() or email.split("@")[0]
    try:
        async with uow.session.begin_nested():
            await uow.session.execute(
                insert(User).values(
                    tenant_id=tenant_id,
                    id=user_id,
                    email_hash=digest,
                    email_sealed=sealed.seal(
                        keyring, sealed.USER_EMAIL, tenant_id=tenant_id, row_id=user_id, value=email
                    ),
                    display_name_sealed=sealed.seal(
                        keyring, sealed.USER_NAME, tenant_id=tenant_id, row_id=user_id, value=name
                    ),
                    password_hash=hashed,
                    status="active",
                    totp_enabled=False,
                    password_changed_at=now,
                    created_at=now,
                    updated_at=now,
                )
            )
    except IntegrityError:  # the same address added at the same moment
        raise EmailInUse("A user of this tenant already has this email address.") from None
    await membership_create(uow, tenant_id=tenant_id, user_id=user_id, role=role)
    return user_id


async def account_with_address(
    uow: UnitOfWork, *, tenant_id: uuid.UUID, email_hash: bytes
) -> uuid.UUID | None:
    """The account of the tenant with this address, if any."""
    found = await uow.session.execute(
        select(User.id).where(User.tenant_id == tenant_id, User.email_hash == email_hash)
    )
    return found.scalar()


def user_read(user: User, keyring: KeyRing, *, role: str, status: str) -> UserRead:
    """The API view of an account, its personal data opened."""
    email, name = user_personal(user, keyring)
    return UserRead(
        id=str(user.id),
        email=email,
        display_name=name,
        role=role,
        status="disabled" if user.status == "disabled" else status,
        mfa_enabled=user.totp_enabled,
        created_at=user.created_at,
    )


def user_personal(user: User, keyring: KeyRing) -> tuple[str, str]:
    """(email, display name) of an account, opened."""
    tenant_id, row_id = user.tenant_id, user.id
    return (
        sealed.unseal(
            keyring, sealed.USER_EMAIL, tenant_id=tenant_id, row_id=row_id, sealed=user.email_sealed
        ),
        sealed.unseal(
            keyring,
            sealed.USER_NAME,
            tenant_id=tenant_id,
            row_id=row_id,
            sealed=user.display_name_sealed,
        ),
    )


async def user_add(
    db: Database, keyring: KeyRing, *, ctx: Context, payload: UserCreate
) -> UserRead:
    """An administrator adds an account to the tenant with a role they may grant."""
    async with db.uow(tenant_id=ctx.tenant_id) as uow:
        await role_check_grantable(uow, ctx=ctx, role=payload.role)
        user_id = await user_provision(
            uow,
            keyring,
            tenant_id=ctx.tenant_id,
            email=str(payload.email),
            password=payload.password,
            role=payload.role,
            display_name=payload.display_name,
        )
        user = await _account(uow, tenant_id=ctx.tenant_id, user_id=user_id)
        # Ids and the role only: personal data stays out of the audit trail.
        await audit_record(
            uow,
            ctx=ctx,
            action="user.added",
            object_type="user",
            object_id=user_id,
            after={"role": payload.role},
        )
        return user_read(user, keyring, role=payload.role, status="active")


async def _account(uow: UnitOfWork, *, tenant_id: uuid.UUID, user_id: uuid.UUID) -> User:
    return (
        await uow.session.execute(
            select(User).where(User.tenant_id == tenant_id, User.id == user_id)
        )
    ).scalar_one()


async def user_update(
    db: Database, keyring: KeyRing, *, ctx: Context, user_id: uuid.UUID, payload: UserUpdate
) -> UserRead:
    """Change a member's role or status; disabling ends their sessions at once."""
    if user_id == ctx.actor_id:
        raise PermissionDenied("You cannot change your own role or status.")
    async with db.uow(tenant_id=ctx.tenant_id) as uow:
        current = await membership_get(uow, tenant_id=ctx.tenant_id, user_id=user_id)
        if current is None:
            raise NotFound("No such user in this tenant.")
        # Changing someone needs every permission they hold now and will hold after.
        await role_check_grantable(uow, ctx=ctx, role=current.role)
        if payload.role is not None:
            await role_check_grantable(uow, ctx=ctx, role=payload.role)
        changed = await membership_update(
            uow,
            tenant_id=ctx.tenant_id,
            user_id=user_id,
            role=payload.role,
            status=payload.status,
        )
        assert changed is not None
        before, after = changed
        if payload.status == "disabled":
            await sessions_revoke(
                uow, tenant_id=ctx.tenant_id, user_id=user_id, reason="account_disabled"
            )
        await audit_record(
            uow,
            ctx=ctx,
            action="user.updated",
            object_type="user",
            object_id=user_id,
            before=before,
            after=after,
        )
        user = await _account(uow, tenant_id=ctx.tenant_id, user_id=user_id)
        return user_read(user, keyring, role=after["role"], status=after["status"])


async def reauthenticate(
    db: Database,
    identity: Identity,
    *,
    ctx: Context,
    password: str,
    code: str | None,
    factor: str | None = None,
    credential: dict[str, Any] | None = None,
) -> None:
    """Prove presence again (password, and MFA when on: a code, or a passkey's assertion
    as `credential`): opens the re-auth window.

    Guesses count like log-in guesses: a stolen session cannot try passwords or codes here
    without limit.
    """
    async with db.uow(tenant_id=ctx.tenant_id) as uow:
        user = await user_for_update(uow, ctx)
        stored, subjects = (
            user.password_hash,
            guess_subjects(ctx.tenant_id, user.id, user.email_hash),
        )
    await identity.throttle.login_check(subjects=subjects, ip=ctx_ip(ctx))
    ok = await password_verify_pooled(stored, password)
    failed: Kind | None = None if ok else "password"
    if ok and credential is not None:
        # Refusals raise InvalidPasskey and count as failed second-factor guesses.
        await passkey_assertion_check(
            db,
            identity,
            tenant_id=ctx.tenant_id,
            user_id=ctx.actor_id,
            purpose="second_factor",
            credential=credential,
            client=Client(ip=ctx_ip(ctx), user_agent=ctx.user_agent, request_id=ctx.request_id),
        )
    async with db.uow(tenant_id=ctx.tenant_id) as uow:
        user = await user_for_update(uow, ctx)
        if ok and credential is None and await factors_offered(uow, user):
            try:
                await mfa_code_accept(uow, identity, user=user, code=code or "", factor=factor)
            except InvalidMfaCode:
                failed = "mfa"
        await audit_record(
            uow,
            ctx=ctx,
            action="auth.reauthenticated",
            object_type="user",
            object_id=user.id,
            outcome="success" if failed is None else "failure",
        )
        if failed is None:
            session = await uow.session.get(AuthSession, (ctx.tenant_id, ctx.session_id))
            if session is not None:
                session.authenticated_at = clock.now()
    if failed is not None:
        await ctx_guess_failed(db, identity, ctx=ctx, subjects=subjects, kind=failed)
        raise InvalidCredentials("The password or code is wrong.")


async def password_change(
    db: Database, identity: Identity, *, ctx: Context, current_password: str, new_password: str
) -> None:
    """Change your password; your other sessions and any reset token end."""
    async with db.uow(tenant_id=ctx.tenant_id) as uow:
        user = await user_for_update(uow, ctx)
        stored, subjects = (
            user.password_hash,
            guess_subjects(ctx.tenant_id, user.id, user.email_hash),
        )
    await identity.throttle.login_check(subjects=subjects, ip=ctx_ip(ctx))
    if not await password_verify_pooled(stored, current_password):
        async with db.uow(tenant_id=ctx.tenant_id) as uow:
            await audit_record(
                uow,
                ctx=ctx,
                action="user.password_change_refused",
                object_type="user",
                object_id=ctx.actor_id,
                outcome="failure",
            )
        await ctx_guess_failed(db, identity, ctx=ctx, subjects=subjects, kind="password")
        raise InvalidCredentials("The current password is wrong.")
    # The new password's policy is checked only after the caller proved the current one.
    checked = password_check(new_password)
    hashed = await password_hash_pooled(checked)
    async with db.uow(tenant_id=ctx.tenant_id) as uow:
        user = await user_for_update(uow, ctx)
        now = clock.now()
        user.password_hash, user.password_changed_at, user.updated_at = hashed, now, now
        session = await uow.session.get(AuthSession, (ctx.tenant_id, ctx.session_id))
        if session is not None:
            session.authenticated_at = now  # this session proved the old password just now
        await sessions_revoke(
            uow,
            tenant_id=ctx.tenant_id,
            user_id=user.id,
            reason="password_changed",
            except_session=ctx.session_id,
        )
        await reset_tokens_end(uow, tenant_id=ctx.tenant_id, user_id=user.id)
        await audit_record(
            uow, ctx=ctx, action="user.password_changed", object_type="user", object_id=user.id
        )
