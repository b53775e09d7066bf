"""A stand-in authenticator for API tests until identity's `make_principal` is on main.

It plugs into the documented contract (`app.state.authenticator`) and trusts two test
headers: the tenant, and the permissions the caller holds. Everything behind it (routes,
`authorized`, services, the database with RLS) is the real code.
"""

from __future__ import annotations

import uuid

from fastapi import FastAPI, Request

from fiscus.access.context import Context
from fiscus.core.errors import NotAuthenticated

TENANT_HEADER = "X-Test-Tenant"
PERMISSIONS_HEADER = "X-Test-Permissions"
USER_HEADER = "X-Test-User"


async def _authenticate(request: Request) -> Context:
    tenant = request.headers.get(TENANT_HEADER)
    if tenant is None:
        raise NotAuthenticated("No test credentials.")
    permissions = request.headers.get(PERMISSIONS_HEADER, "")
    return Context(
        tenant_id=uuid.UUID(tenant),
        actor_type="user",
        actor_id=uuid.UUID(request.headers.get(USER_HEADER) or str(uuid.uuid4())),
        role="admin",
        permissions=frozenset(p for p in permissions.split(",") if p),
    )


def install(app: FastAPI) -> None:
    """Use the stand-in authenticator on this app."""
    app.state.authenticator = _authenticate


def headers(
    tenant_id: uuid.UUID, *permissions: str, user_id: uuid.UUID | None = None
) -> dict[str, str]:
    """Request headers acting in `tenant_id` with `permissions` (as `user_id` if given)."""
    values = {TENANT_HEADER: str(tenant_id), PERMISSIONS_HEADER: ",".join(permissions)}
    if user_id is not None:
        values[USER_HEADER] = str(user_id)
    return values
