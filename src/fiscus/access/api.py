"""Routes of the access module: the tenant's settings and its roles."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, status

from fiscus.access import queries, service
from fiscus.access.context import Context
from fiscus.access.deps import authorized
from fiscus.access.schemas import RoleRead, RoleWrite, TenantRead, TenantSettings
from fiscus.core.errors import ValidationProblem
from fiscus.core.http import problem_responses
from fiscus.deps import DatabaseDep

router = APIRouter(prefix="/v1", tags=["tenant and roles"])
TenantManager = Annotated[Context, authorized("tenant:manage")]
RoleManager = Annotated[Context, authorized("roles:manage")]
RoleName = Annotated[str, Path(max_length=40, pattern=r"^[a-z][a-z0-9_]{1,39}$")]


@router.get("/tenant", summary="The current tenant", responses=problem_responses(401, 403))
async def tenant(db: DatabaseDep, ctx: TenantManager) -> TenantRead:
    """Slug, name, status and settings of the caller's tenant."""
    return await queries.tenant_view(db, tenant_id=ctx.tenant_id)


@router.put(
    "/tenant/settings",
    summary="Replace the tenant's settings",
    responses=problem_responses(400, 401, 403, 404),
)
async def tenant_settings(
    body: TenantSettings, db: DatabaseDep, ctx: TenantManager
) -> TenantSettings:
    """Roles that must use MFA and the per-user session limit.

    The plan (rate-limit tier) is the platform operator's: leave it out, or send the
    current one; a different plan is refused with 403 `plan-managed-by-operator`.
    """
    keep_plan = "plan" not in body.model_fields_set
    return await service.tenant_settings_update(db, ctx=ctx, settings=body, keep_plan=keep_plan)


@router.get("/roles", summary="List roles", responses=problem_responses(401, 403))
async def roles(db: DatabaseDep, ctx: RoleManager) -> list[RoleRead]:
    """Built-in roles, then the tenant's custom roles."""
    return await queries.roles_view(db, tenant_id=ctx.tenant_id)


@router.put(
    "/roles/{name}",
    summary="Create or replace a custom role",
    responses=problem_responses(400, 401, 403),
)
async def save_role(name: RoleName, body: RoleWrite, db: DatabaseDep, ctx: RoleManager) -> RoleRead:
    """Permissions come from the policy table; you cannot grant what you do not hold."""
    if body.name != name:
        raise ValidationProblem("The name in the path and the body differ.", field="name")
    return await service.role_save(db, ctx=ctx, payload=body)


@router.delete(
    "/roles/{name}",
    summary="Delete a custom role",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problem_responses(400, 401, 403, 404, 409),
)
async def delete_role(name: RoleName, db: DatabaseDep, ctx: RoleManager) -> None:
    """Only when no user holds it."""
    await service.role_delete(db, ctx=ctx, name=name)
