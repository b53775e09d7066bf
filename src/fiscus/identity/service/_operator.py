"""The platform operator's account commands (`fiscus admin create-user / unlock-user`).

Each runs in one unit of work without a tenant (the operator acts across tenants, as
`tenant_create` does), so every statement names its tenant itself.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select

from fiscus.access.context import Context
from fiscus.access.errors import TenantNotFound
from fiscus.access.queries import tenant_by_slug
from fiscus.audit.service import audit_record
from fiscus.core.db import Database, UnitOfWork
from fiscus.core.keyring import KeyRing
from fiscus.identity import sealed
from fiscus.identity.errors import UserNotFound
from fiscus.identity.models import User
from fiscus.identity.service._users import normalise_email, user_provision
from fiscus.identity.throttle import Throttle, account_subject, address_subject

VIA_CLI = {"via": "cli"}


async def _audit(
    uow: UnitOfWork, tenant_id: uuid.UUID, user_id: uuid.UUID, action: str, **changes: Any
) -> None:
    """The operator (a system actor of the tenant) did `action` to the user, from the CLI."""
    ctx = Context.system(tenant_id, permissions=frozenset())
    details = {**VIA_CLI, **changes.pop("details", {})}
    await audit_record(
        uow,
        ctx=ctx,
        action=action,
        object_type="user",
        object_id=user_id,
        details=details,
        **changes,
    )


async def _tenant_id(uow: UnitOfWork, slug: str) -> uuid.UUID:
    found = await tenant_by_slug(uow, slug=slug.strip().lower())
    if found is None:
        raise TenantNotFound(f"No tenant {slug!r}.")
    return found.id


async def user_bootstrap(
    db: Database,
    keyring: KeyRing,
    *,
    tenant_slug: str,
    email: str,
    password: str,
    role: str,
    display_name: str = "",
) -> uuid.UUID:
    """Create an account in the tenant named by its slug, audited, in one transaction."""
    async with db.uow() as uow:
        tenant_id = await _tenant_id(uow, tenant_slug)
        user_id = await user_provision(
            uow,
            keyring,
            tenant_id=tenant_id,
            email=email,
            password=password,
            role=role,
            display_name=display_name,
        )
        await _audit(uow, tenant_id, user_id, "user.added", after={"role": role})
    return user_id


async def user_unlock(
    db: Database,
    keyring: KeyRing,
    throttle: Throttle,
    *,
    email: str,
    tenant_slug: str | None = None,
) -> list[tuple[uuid.UUID, uuid.UUID]]:
    """Lift the lockout of a person: their accounts' counters and their address's counter.

    With a tenant, only that tenant's account; without, the accounts with this address in
    every tenant. The address counter is shared by every tenant and is cleared either way
    (while it stays locked, so does the account). One audit record per account, in its
    tenant. Returns the (tenant id, user id) of each account unlocked.
    """
    digest = sealed.email_hash(keyring, normalise_email(email))
    async with db.uow() as uow:
        query = select(User.tenant_id, User.id).where(User.email_hash == digest)
        if tenant_slug is not None:
            query = query.where(User.tenant_id == await _tenant_id(uow, tenant_slug))
        accounts = [(row.tenant_id, row.id) for row in await uow.session.execute(query)]
        if not accounts:
            where = "this tenant" if tenant_slug is not None else "any tenant"
            raise UserNotFound(f"No account with this email address in {where}.")
        for tenant_id, user_id in sorted(accounts):
            scope = "tenant" if tenant_slug else "all tenants"
            await _audit(uow, tenant_id, user_id, "user.unlocked", details={"scope": scope})
        # Cleared before the commit: if the counters' storage fails, no audit record
        # claims an unlock that did not happen.
        for tenant_id, user_id in accounts:
            await throttle.unlock(subject=account_subject(tenant_id, user_id))
        await throttle.unlock(subject=address_subject(digest))
    return sorted(accounts)


async def user_find(
    db: Database, keyring: KeyRing, *, tenant_slug: str, email: str
) -> uuid.UUID | None:
    """The id of the tenant's account with this email, or None (for operator scripts
    such as `fiscus demo` that must not create an account twice)."""
    async with db.uow() as uow:
        tenant_id = await _tenant_id(uow, tenant_slug)
        digest = sealed.email_hash(keyring, normalise_email(email))
        found: uuid.UUID | None = (
            await uow.session.execute(
                select(User.id).where(User.tenant_id == tenant_id, User.email_hash == digest)
            )
        ).scalar_one_or_none()
    return found


async def totp_provision(
    db: Database, keyring: KeyRing, *, tenant_id: uuid.UUID, user_id: uuid.UUID, secret: str
) -> bool:
    """Turn TOTP on with an operator-chosen secret for an account that has none (audited;
    `fiscus demo` prints the secret so a newcomer can add it to an app). False when the
    account already has TOTP on: nothing changes."""
    async with db.uow() as uow:
        user = (
            await uow.session.execute(
                select(User)
                .where(User.tenant_id == tenant_id, User.id == user_id)
                .with_for_update()
            )
        ).scalar_one_or_none()
        if user is None:
            raise UserNotFound("No such user.")
        if user.totp_enabled:
            return False
        user.totp_secret_sealed = sealed.seal(
            keyring, sealed.USER_TOTP, tenant_id=tenant_id, row_id=user_id, value=secret
        )
        user.totp_enabled, user.totp_last_step = True, None
        await _audit(uow, tenant_id, user_id, "mfa.totp_provisioned")
    return True
