"""Users: provisioning into a tenant, role and status changes, password and email changes."""

from __future__ import annotations

import asyncio
import uuid

from sqlalchemy import insert, select, text

from fiscus.access.context import Context
from fiscus.access.errors import RoleNotGrantable
from fiscus.access.queries import membership_get, role_permissions
from fiscus.access.service import membership_create, membership_update, role_check_grantable
from fiscus.audit.service import audit_record
from fiscus.core import clock
from fiscus.core.db import Database, UnitOfWork
from fiscus.core.errors import Conflict, NotFound, PermissionDenied, ValidationProblem
from fiscus.core.ids import new_id
from fiscus.identity.errors import InvalidCredentials, InvalidMfaCode
from fiscus.identity.models import AuthSession, User
from fiscus.identity.passwords import password_check, password_hash, password_verify
from fiscus.identity.runtime import Identity
from fiscus.identity.schemas import UserCreate, UserRead, UserUpdate
from fiscus.identity.service._mfa import mfa_code_accept, require_recent_auth
from fiscus.identity.service._sessions import sessions_revoke


def normalise_email(email: str) -> str:
    """Emails are compared and stored lower-cased and trimmed."""
    value = email.strip().lower()
    if "@" not in value or len(value) > 320:
        raise ValidationProblem("This is not an email address.", field="email")
    return value


async def user_provision(
    uow: UnitOfWork,
    *,
    tenant_id: uuid.UUID,
    email: str,
    password: str,
    role: str,
    display_name: str = "",
) -> tuple[uuid.UUID, bool]:
    """Add a person to a tenant: a new user, or a membership for an existing one.

    Returns (user id, created). An existing person keeps their password; the one given is
    then ignored, so one tenant's administrator cannot take over another tenant's login.
    """
    assert uow.active
    email = normalise_email(email)
    if await role_permissions(uow, tenant_id=tenant_id, role=role) is None:
        raise RoleNotGrantable(f"There is no role {role!r} in this tenant.")
    existing = (
        await uow.session.execute(text("SELECT fiscus_user_id_by_email(:e)"), {"e": email})
    ).scalar()
    if existing is not None:
        if await membership_get(uow, tenant_id=tenant_id, user_id=existing) is not None:
            raise Conflict("This person is already a member of the tenant.")
        await membership_create(uow, tenant_id=tenant_id, user_id=existing, role=role)
        return existing, False
    checked = password_check(password)
    hashed = await asyncio.to_thread(password_hash, checked)
    now = clock.now()
    user_id = new_id()
    # A plain INSERT (no RETURNING): the new row is not visible to this tenant until its
    # membership exists, and RETURNING would need it to be.
    await uow.session.execute(
        insert(User).values(
            id=user_id,
            email=email,
            display_name=display_name.strip() or email.split("@")[0],
            password_hash=hashed,
            status="active",
            totp_enabled=False,
            password_changed_at=now,
            created_at=now,
            updated_at=now,
        )
    )
    await membership_create(uow, tenant_id=tenant_id, user_id=user_id, role=role)
    return user_id, True


def user_read(user: User, *, role: str, status: str) -> UserRead:
    """The API view of a user in one tenant."""
    return UserRead(
        id=str(user.id),
        email=user.email,
        display_name=user.display_name,
        role=role,
        status="disabled" if user.status == "disabled" else status,
        mfa_enabled=user.totp_enabled,
        created_at=user.created_at,
    )


async def user_add(db: Database, *, ctx: Context, payload: UserCreate) -> UserRead:
    """An administrator adds a person to the tenant with a role they may grant."""
    async with db.uow(tenant_id=ctx.tenant_id) as uow:
        await role_check_grantable(uow, ctx=ctx, role=payload.role)
        user_id, created = await user_provision(
            uow,
            tenant_id=ctx.tenant_id,
            email=str(payload.email),
            password=payload.password,
            role=payload.role,
            display_name=payload.display_name,
        )
        user = (await uow.session.execute(select(User).where(User.id == user_id))).scalar_one()
        await audit_record(
            uow,
            ctx=ctx,
            action="user.added",
            object_type="user",
            object_id=user_id,
            after={"email": user.email, "role": payload.role},
            details={"new_person": created},
        )
        return user_read(user, role=payload.role, status="active")


async def user_update(
    db: Database, *, ctx: Context, user_id: uuid.UUID, payload: UserUpdate
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
        user = (await uow.session.execute(select(User).where(User.id == user_id))).scalar_one()
        return user_read(user, role=after["role"], status=after["status"])


async def _me_for_update(uow: UnitOfWork, ctx: Context) -> User:
    if ctx.actor_type != "user" or ctx.actor_id is None:
        raise PermissionDenied("API keys have no password or profile.")
    return (
        await uow.session.execute(select(User).where(User.id == ctx.actor_id).with_for_update())
    ).scalar_one()


async def reauthenticate(
    db: Database, identity: Identity, *, ctx: Context, password: str, code: str | None
) -> None:
    """Prove presence again (password, and MFA when on): opens the re-auth window."""
    async with db.uow(tenant_id=ctx.tenant_id) as uow:
        user = await _me_for_update(uow, ctx)
        stored = user.password_hash
    ok = await asyncio.to_thread(password_verify, stored, password)
    async with db.uow(tenant_id=ctx.tenant_id) as uow:
        user = await _me_for_update(uow, ctx)
        if ok and user.totp_enabled:
            try:
                await mfa_code_accept(uow, identity, user=user, code=code or "")
            except InvalidMfaCode:
                ok = False
        await audit_record(
            uow,
            ctx=ctx,
            action="auth.reauthenticated",
            object_type="user",
            object_id=user.id,
            outcome="success" if ok else "failure",
        )
        if ok:
            session = await uow.session.get(AuthSession, (ctx.tenant_id, ctx.session_id))
            if session is not None:
                session.authenticated_at = clock.now()
    if not ok:
        raise InvalidCredentials("The password or code is wrong.")


async def password_change(
    db: Database, *, ctx: Context, current_password: str, new_password: str
) -> None:
    """Change your password; every other session (in every tenant) ends."""
    async with db.uow(tenant_id=ctx.tenant_id) as uow:
        stored = (await _me_for_update(uow, ctx)).password_hash
    if not await asyncio.to_thread(password_verify, stored, current_password):
        async with db.uow(tenant_id=ctx.tenant_id) as uow:
            await audit_record(
                uow,
                ctx=ctx,
                action="user.password_change_refused",
                object_type="user",
                object_id=ctx.actor_id,
                outcome="failure",
            )
        raise InvalidCredentials("The current password is wrong.")
    # The new password's policy is checked only after the caller proved the current one.
    checked = password_check(new_password)
    hashed = await asyncio.to_thread(password_hash, checked)
    async with db.uow(tenant_id=ctx.tenant_id) as uow:
        user = await _me_for_update(uow, ctx)
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
        await audit_record(
            uow, ctx=ctx, action="user.password_changed", object_type="user", object_id=user.id
        )


async def email_change(db: Database, identity: Identity, *, ctx: Context, email: str) -> None:
    """Change your login email; needs a recent re-authentication."""
    address = normalise_email(email)
    async with db.uow(tenant_id=ctx.tenant_id) as uow:
        await require_recent_auth(uow, identity, ctx=ctx)
        taken = (
            await uow.session.execute(text("SELECT fiscus_user_id_by_email(:e)"), {"e": address})
        ).scalar()
        if taken is not None:
            raise Conflict("This email address cannot be used.")
        user = await _me_for_update(uow, ctx)
        before = {"email": user.email}
        user.email, user.updated_at = address, clock.now()
        await audit_record(
            uow,
            ctx=ctx,
            action="user.email_changed",
            object_type="user",
            object_id=user.id,
            before=before,
            after={"email": address},
        )
