"""Reads of the access module: tenants, memberships, role permissions."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from fiscus.access.errors import TenantNotFound
from fiscus.access.models import Membership, Role, Tenant
from fiscus.access.policy import BUILTIN_ROLES, builtin_permissions
from fiscus.access.schemas import RoleRead, TenantRead, TenantSettings
from fiscus.core.db import Database, UnitOfWork


@dataclass(frozen=True, slots=True)
class TenantInfo:
    """A tenant's identity and settings."""

    id: uuid.UUID
    slug: str
    name: str
    status: str
    settings: TenantSettings
    created_at: Any


@dataclass(frozen=True, slots=True)
class MembershipInfo:
    """A user's role and status in one tenant."""

    tenant_id: uuid.UUID
    user_id: uuid.UUID
    role: str
    status: str


def tenant_info_of(
    *, id: uuid.UUID, slug: str, name: str, status: str, settings: Any, created_at: Any
) -> TenantInfo:
    """A TenantInfo from the columns of a `tenants` row (for hot paths that select columns,
    not entities)."""
    return TenantInfo(
        id=id,
        slug=slug,
        name=name,
        status=status,
        settings=TenantSettings.model_validate(settings),
        created_at=created_at,
    )


# Access's part of identity's one-statement credential check (issue 12): the tenant, the
# person's membership and that membership's custom role, as columns joined to a credential
# row whose tenant and user columns the caller names; `access_of` reads them back.
ACCESS_COLUMNS = (
    "t.id, t.slug, t.name, t.status, t.settings, t.created_at, m.role, m.status, mr.permissions"
)


def access_joins(*, tenant: str, user: str) -> str:
    """The joins behind ACCESS_COLUMNS; `tenant` and `user` are column names (constants)."""
    return (
        f" LEFT JOIN tenants t ON t.id = {tenant}"
        f" LEFT JOIN memberships m ON m.tenant_id = {tenant} AND m.user_id = {user}"
        f" LEFT JOIN roles mr ON mr.tenant_id = {tenant} AND mr.name = m.role"
    )


@dataclass(frozen=True, slots=True)
class AccessRow:
    """ACCESS_COLUMNS' values: the tenant (None if there is none), and the membership's role,
    status and permissions (all None if the person is no member)."""

    tenant: TenantInfo | None
    role: str | None
    status: str | None
    permissions: frozenset[str] | None


def access_of(row: tuple[Any, ...]) -> AccessRow:
    """Read back the values of ACCESS_COLUMNS."""
    tenant_id, slug, name, status, settings, created_at, role, membership_status, stored = row
    tenant = (
        tenant_info_of(
            id=tenant_id,
            slug=slug,
            name=name,
            status=status,
            settings=settings,
            created_at=created_at,
        )
        if tenant_id is not None
        else None
    )
    permissions = role_permissions_of(role, stored) if role is not None else None
    return AccessRow(tenant, role, membership_status, permissions)


def _tenant_info(row: Tenant) -> TenantInfo:
    return tenant_info_of(
        id=row.id,
        slug=row.slug,
        name=row.name,
        status=row.status,
        settings=row.settings,
        created_at=row.created_at,
    )


def role_permissions_of(role: str, stored: list[str] | None) -> frozenset[str] | None:
    """Permissions of a role given its stored `roles.permissions` (None when the tenant has
    no such row): a built-in role's own, else the stored ones; None if the role does not
    exist."""
    builtin = builtin_permissions(role)
    if builtin is not None:
        return builtin
    return frozenset(stored) if stored is not None else None


async def tenant_by_slug(uow: UnitOfWork, *, slug: str) -> TenantInfo | None:
    """The tenant with this slug, or None."""
    row = (await uow.session.execute(select(Tenant).where(Tenant.slug == slug))).scalar()
    return _tenant_info(row) if row is not None else None


async def tenant_and_membership(
    uow: UnitOfWork, *, tenant_id: uuid.UUID, user_id: uuid.UUID
) -> tuple[TenantInfo, MembershipInfo | None]:
    """The tenant and the user's membership in it, in one round trip (every authenticated
    request asks); TenantNotFound if there is no such tenant."""
    row = (
        await uow.session.execute(
            select(Tenant, Membership)
            .outerjoin(
                Membership, (Membership.tenant_id == Tenant.id) & (Membership.user_id == user_id)
            )
            .where(Tenant.id == tenant_id)
        )
    ).first()
    if row is None:
        raise TenantNotFound("No such tenant.")
    tenant, membership = row
    info = (
        MembershipInfo(membership.tenant_id, membership.user_id, membership.role, membership.status)
        if membership is not None
        else None
    )
    return _tenant_info(tenant), info


async def tenant_get(uow: UnitOfWork, *, tenant_id: uuid.UUID) -> TenantInfo:
    """The tenant with this id, or TenantNotFound."""
    row = await uow.session.get(Tenant, tenant_id)
    if row is None:
        raise TenantNotFound("No such tenant.")
    return _tenant_info(row)


async def membership_get(
    uow: UnitOfWork, *, tenant_id: uuid.UUID, user_id: uuid.UUID
) -> MembershipInfo | None:
    """The user's membership in the tenant, or None."""
    row = (
        await uow.session.execute(
            select(Membership).where(
                Membership.tenant_id == tenant_id, Membership.user_id == user_id
            )
        )
    ).scalar()
    if row is None:
        return None
    return MembershipInfo(row.tenant_id, row.user_id, row.role, row.status)


async def memberships_of(
    uow: UnitOfWork, *, tenant_id: uuid.UUID, user_ids: list[uuid.UUID]
) -> dict[uuid.UUID, MembershipInfo]:
    """Memberships of several users in the tenant, by user id."""
    rows = await uow.session.execute(
        select(Membership).where(
            Membership.tenant_id == tenant_id, Membership.user_id.in_(user_ids)
        )
    )
    return {
        m.user_id: MembershipInfo(m.tenant_id, m.user_id, m.role, m.status) for m in rows.scalars()
    }


async def role_permissions(
    uow: UnitOfWork, *, tenant_id: uuid.UUID, role: str
) -> frozenset[str] | None:
    """Permissions of a built-in or tenant-defined role; None if the role does not exist."""
    if builtin_permissions(role) is not None:
        return role_permissions_of(role, None)
    row = (
        await uow.session.execute(
            select(Role.permissions).where(Role.tenant_id == tenant_id, Role.name == role)
        )
    ).scalar()
    return role_permissions_of(role, row)


async def roles_list(uow: UnitOfWork, *, tenant_id: uuid.UUID) -> list[RoleRead]:
    """Built-in roles, then the tenant's custom roles by name."""
    roles = [
        RoleRead(
            name=r.name, description=r.description, builtin=True, permissions=sorted(r.permissions)
        )
        for r in BUILTIN_ROLES.values()
    ]
    rows = await uow.session.execute(
        select(Role).where(Role.tenant_id == tenant_id).order_by(Role.name)
    )
    roles.extend(
        RoleRead(
            name=r.name,
            description=r.description,
            builtin=False,
            permissions=sorted(r.permissions),
            updated_at=r.updated_at,
        )
        for r in rows.scalars()
    )
    return roles


async def role_holders(uow: UnitOfWork, *, tenant_id: uuid.UUID, role: str) -> int:
    """How many memberships hold `role` in the tenant."""
    rows = await uow.session.execute(
        select(Membership.user_id).where(Membership.tenant_id == tenant_id, Membership.role == role)
    )
    return len(rows.all())


async def tenant_view(db: Database, *, tenant_id: uuid.UUID) -> TenantRead:
    """The tenant as its owners see it."""
    async with db.uow(tenant_id=tenant_id) as uow:
        info = await tenant_get(uow, tenant_id=tenant_id)
    return TenantRead(
        id=str(info.id),
        slug=info.slug,
        name=info.name,
        status=info.status,
        settings=info.settings,
        created_at=info.created_at,
    )


async def roles_view(db: Database, *, tenant_id: uuid.UUID) -> list[RoleRead]:
    """Built-in and custom roles of the tenant."""
    async with db.uow(tenant_id=tenant_id) as uow:
        return await roles_list(uow, tenant_id=tenant_id)


async def tenant_ids_active(uow: UnitOfWork) -> list[uuid.UUID]:
    """Every active tenant's id (for platform-wide jobs such as loading provider rates)."""
    result = await uow.session.execute(select(Tenant.id).where(Tenant.status == "active"))
    return list(result.scalars())
