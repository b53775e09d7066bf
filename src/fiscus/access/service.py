"""Writes of the access module: tenants, memberships and custom roles."""

from __future__ import annotations

import uuid

from sqlalchemy import delete, insert, select

from fiscus.access.context import Context
from fiscus.access.errors import (
    PlanManagedByOperator,
    RoleInUse,
    RoleInvalid,
    RoleNotFound,
    RoleNotGrantable,
    SlugTaken,
    TenantNotFound,
)
from fiscus.access.models import Membership, Role, Tenant
from fiscus.access.policy import BUILTIN_ROLES, unknown_permissions
from fiscus.access.queries import role_holders, role_permissions, tenant_by_slug, tenant_get
from fiscus.access.schemas import RoleRead, RoleWrite, TenantSettings
from fiscus.audit.service import audit_record
from fiscus.core import clock
from fiscus.core.db import Database, UnitOfWork
from fiscus.core.errors import ValidationProblem
from fiscus.core.ids import new_id


async def tenant_create(uow: UnitOfWork, *, slug: str, name: str, plan: str) -> uuid.UUID:
    """Create an active tenant on `plan` (the `fiscus admin create-tenant` bootstrap; the
    caller checked the plan is configured); return its id."""
    assert uow.active
    slug = slug.strip().lower()
    if not 2 <= len(slug) <= 63 or not all(c.isalnum() or c == "-" for c in slug):
        raise ValidationProblem("A slug is 2-63 lower-case letters, digits or '-'.", field="slug")
    exists = await uow.session.execute(select(Tenant.id).where(Tenant.slug == slug))
    if exists.first() is not None:
        raise SlugTaken(f"A tenant with slug {slug!r} already exists.")
    tenant_id = new_id()
    await uow.session.execute(
        insert(Tenant).values(
            id=tenant_id,
            slug=slug,
            name=name.strip() or slug,
            status="active",
            settings=TenantSettings(plan=plan).model_dump(),
            created_at=clock.now(),
        )
    )
    return tenant_id


async def tenant_provision(db: Database, *, slug: str, name: str, plan: str) -> uuid.UUID:
    """Create a tenant on `plan` as the platform operator, in one transaction (the CLI
    resolves the plan: `--plan`, else the operator's FISCUS_DEFAULT_PLAN)."""
    async with db.uow() as uow:
        return await tenant_create(uow, slug=slug, name=name, plan=plan)


async def tenant_plan_set(db: Database, *, slug: str, plan: str) -> None:
    """Set a tenant's plan (its rate-limit tier) as the platform operator, audited."""
    async with db.uow() as uow:
        tenant = await tenant_by_slug(uow, slug=slug.strip().lower())
        if tenant is None:
            raise TenantNotFound(f"No tenant with slug {slug!r}.")
        await _tenant_plan_set(uow, tenant_id=tenant.id, plan=plan)


async def _tenant_plan_set(uow: UnitOfWork, *, tenant_id: uuid.UUID, plan: str) -> None:
    current = (await tenant_get(uow, tenant_id=tenant_id)).settings
    await _tenant_settings_update(
        uow,
        ctx=Context.system(tenant_id, permissions=frozenset()),
        settings=current.model_copy(update={"plan": plan}),
        keep_plan=False,
    )


async def tenant_settings_update(
    db: Database, *, ctx: Context, settings: TenantSettings, keep_plan: bool = False
) -> TenantSettings:
    """Replace the tenant's settings; every MFA-required role must exist.

    The plan sets the tenant's rate limits, so only the platform operator (a system actor,
    `fiscus admin set-plan`) may change it; `keep_plan` keeps the stored one.
    """
    async with db.uow(tenant_id=ctx.tenant_id) as uow:
        return await _tenant_settings_update(uow, ctx=ctx, settings=settings, keep_plan=keep_plan)


async def _tenant_settings_update(
    uow: UnitOfWork, *, ctx: Context, settings: TenantSettings, keep_plan: bool
) -> TenantSettings:
    for role in settings.mfa_required_roles:
        if await role_permissions(uow, tenant_id=ctx.tenant_id, role=role) is None:
            raise RoleNotFound(f"There is no role {role!r} in this tenant.")
    row = await uow.session.get(Tenant, ctx.tenant_id, with_for_update=True)
    if row is None:
        raise TenantNotFound("No such tenant.")
    before = dict(row.settings)
    current_plan = TenantSettings.model_validate(before).plan
    if keep_plan:
        settings = settings.model_copy(update={"plan": current_plan})
    elif settings.plan != current_plan and ctx.actor_type != "system":
        raise PlanManagedByOperator(
            "The plan is set by the platform operator; leave `plan` out to keep it."
        )
    row.settings = settings.model_dump()
    await audit_record(
        uow,
        ctx=ctx,
        action="tenant.settings_changed",
        object_type="tenant",
        object_id=ctx.tenant_id,
        before=before,
        after=row.settings,
    )
    return settings


async def membership_create(
    uow: UnitOfWork, *, tenant_id: uuid.UUID, user_id: uuid.UUID, role: str
) -> None:
    """Place a user in a tenant with a role (the caller checked the role may be granted)."""
    assert uow.active
    now = clock.now()
    await uow.session.execute(
        insert(Membership).values(
            tenant_id=tenant_id,
            user_id=user_id,
            role=role,
            status="active",
            created_at=now,
            updated_at=now,
        )
    )


async def membership_update(
    uow: UnitOfWork,
    *,
    tenant_id: uuid.UUID,
    user_id: uuid.UUID,
    role: str | None = None,
    status: str | None = None,
) -> tuple[dict[str, str], dict[str, str]] | None:
    """Change a membership's role and/or status; (before, after), or None if no membership."""
    assert uow.active
    row = (
        await uow.session.execute(
            select(Membership)
            .where(Membership.tenant_id == tenant_id, Membership.user_id == user_id)
            .with_for_update()
        )
    ).scalar()
    if row is None:
        return None
    before = {"role": row.role, "status": row.status}
    if role is not None:
        row.role = role
    if status is not None:
        assert status in ("active", "disabled")
        row.status = status
    row.updated_at = clock.now()
    return before, {"role": row.role, "status": row.status}


async def role_check_grantable(uow: UnitOfWork, *, ctx: Context, role: str) -> frozenset[str]:
    """The role's permissions if it exists and the caller holds all of them (no escalation)."""
    permissions = await role_permissions(uow, tenant_id=ctx.tenant_id, role=role)
    if permissions is None:
        raise RoleNotGrantable(f"There is no role {role!r} in this tenant.")
    missing = sorted(permissions - ctx.permissions)
    if missing:
        raise RoleNotGrantable(
            f"Role {role!r} holds permissions you do not hold: {', '.join(missing)}."
        )
    return permissions


def _validate_role(payload: RoleWrite, ctx: Context) -> None:
    if payload.name in BUILTIN_ROLES:
        raise RoleInvalid(f"{payload.name!r} is a built-in role.", field="name")
    unknown = unknown_permissions(set(payload.permissions))
    if unknown:
        raise RoleInvalid(f"Unknown permissions: {', '.join(unknown)}.", field="permissions")
    beyond = sorted(set(payload.permissions) - ctx.permissions)
    if beyond:
        raise RoleInvalid(
            f"You cannot grant permissions you do not hold: {', '.join(beyond)}.",
            field="permissions",
        )


async def role_save(db: Database, *, ctx: Context, payload: RoleWrite) -> RoleRead:
    """Create or replace a custom role of the caller's tenant."""
    async with db.uow(tenant_id=ctx.tenant_id) as uow:
        return await _role_save(uow, ctx=ctx, payload=payload)


async def _role_save(uow: UnitOfWork, *, ctx: Context, payload: RoleWrite) -> RoleRead:
    _validate_role(payload, ctx)
    now = clock.now()
    row = await uow.session.get(Role, (ctx.tenant_id, payload.name), with_for_update=True)
    before = None if row is None else {"permissions": sorted(row.permissions)}
    if row is None:
        row = Role(
            tenant_id=ctx.tenant_id,
            name=payload.name,
            description=payload.description,
            permissions=sorted(set(payload.permissions)),
            created_at=now,
            updated_at=now,
        )
        uow.session.add(row)
    else:
        row.description = payload.description
        row.permissions = sorted(set(payload.permissions))
        row.updated_at = now
    await uow.session.flush()
    await audit_record(
        uow,
        ctx=ctx,
        action="role.saved",
        object_type="role",
        object_id=payload.name,
        before=before,
        after={"permissions": row.permissions},
    )
    return RoleRead(
        name=row.name,
        description=row.description,
        builtin=False,
        permissions=list(row.permissions),
        updated_at=row.updated_at,
    )


async def role_delete(db: Database, *, ctx: Context, name: str) -> None:
    """Delete a custom role no membership holds."""
    async with db.uow(tenant_id=ctx.tenant_id) as uow:
        await _role_delete(uow, ctx=ctx, name=name)


async def _role_delete(uow: UnitOfWork, *, ctx: Context, name: str) -> None:
    if name in BUILTIN_ROLES:
        raise RoleInvalid("Built-in roles cannot be deleted.", field="name")
    if await role_holders(uow, tenant_id=ctx.tenant_id, role=name) > 0:
        raise RoleInUse(f"Users still hold role {name!r}; give them another role first.")
    result = await uow.session.execute(
        delete(Role).where(Role.tenant_id == ctx.tenant_id, Role.name == name)
    )
    if not getattr(result, "rowcount", 0):
        raise RoleNotFound(f"There is no custom role {name!r}.")
    await audit_record(uow, ctx=ctx, action="role.deleted", object_type="role", object_id=name)
