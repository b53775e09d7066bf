"""Cross-module test factories: a tenant, a user with a role, and ready auth headers.

    async def test_something(client, make_principal):
        owner = await make_principal(role="owner")
        response = await client.get("/v1/me", headers=owner.headers)

Users are created through the identity service (argon2id once per user; accounts are per
tenant, so the same email in two tenants makes two accounts) and sessions are opened
directly, so extra sessions (`principal_headers`) cost one insert each.
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass, field

from fastapi import FastAPI

from fiscus.access.schemas import TenantSettings
from fiscus.access.service import tenant_create
from fiscus.core.config import Settings
from fiscus.core.db import Database
from fiscus.core.keyring import KeyRing
from fiscus.identity.runtime import Identity
from fiscus.identity.service import session_open, user_provision

PASSWORD = "correct horse battery staple"


@dataclass
class Principal:
    """A user in a tenant with a live session."""

    tenant_id: uuid.UUID
    tenant_slug: str
    user_id: uuid.UUID
    email: str
    password: str
    role: str
    session_id: uuid.UUID
    access_token: str
    refresh_token: str
    headers: dict[str, str] = field(default_factory=dict)


async def tenant(db: Database, *, slug: str | None = None, plan: str = "enterprise") -> uuid.UUID:
    """A new active tenant (enterprise plan by default so tests are not rate limited)."""
    slug = slug or "t-" + secrets.token_hex(6)
    async with db.uow() as uow:
        return await tenant_create(uow, slug=slug, name=slug.upper(), plan=plan)


async def tenant_settings_set(
    db: Database, *, tenant_id: uuid.UUID, settings: TenantSettings
) -> None:
    """Replace a tenant's settings directly (no actor, no audit)."""
    from sqlalchemy import text

    async with db.uow() as uow:
        await uow.session.execute(
            text("UPDATE tenants SET settings = CAST(:s AS jsonb) WHERE id = :t"),
            {"s": settings.model_dump_json(), "t": tenant_id},
        )


async def tenant_slug(db: Database, tenant_id: uuid.UUID) -> str:
    """The slug of a tenant."""
    from fiscus.access.queries import tenant_get

    async with db.uow() as uow:
        return (await tenant_get(uow, tenant_id=tenant_id)).slug


async def session_headers(
    db: Database, identity: Identity, *, tenant_id: uuid.UUID, user_id: uuid.UUID, mfa: bool = False
) -> tuple[dict[str, str], uuid.UUID, str, str]:
    """A fresh session: (headers, session id, access token, refresh token)."""
    async with db.uow(tenant_id=tenant_id) as uow:
        pair, session_id = await session_open(
            uow,
            identity,
            tenant_id=tenant_id,
            user_id=user_id,
            mfa=mfa,
            ip="127.0.0.1",
            user_agent="pytest",
            max_sessions=None,
        )
    headers = {"Authorization": f"Bearer {pair.access_token}"}
    return headers, session_id, pair.access_token, pair.refresh_token


async def principal(
    app: FastAPI,
    *,
    role: str = "owner",
    tenant_id: uuid.UUID | None = None,
    email: str | None = None,
    password: str = PASSWORD,
    display_name: str = "",
) -> Principal:
    """A user with `role` in a tenant (a new one unless given), signed in."""
    db: Database = app.state.db
    identity: Identity = app.state.identity
    tenant_id = tenant_id or await tenant(db)
    email = email or f"{role}-{secrets.token_hex(4)}@example.com"
    async with db.uow(tenant_id=tenant_id) as uow:
        user_id = await user_provision(
            uow,
            app.state.keyring,
            tenant_id=tenant_id,
            email=email,
            password=password,
            role=role,
            display_name=display_name,
        )
    headers, session_id, access, refresh = await session_headers(
        db, identity, tenant_id=tenant_id, user_id=user_id
    )
    return Principal(
        tenant_id=tenant_id,
        tenant_slug=await tenant_slug(db, tenant_id),
        user_id=user_id,
        email=email,
        password=password,
        role=role,
        session_id=session_id,
        access_token=access,
        refresh_token=refresh,
        headers=headers,
    )


async def keyring_for(db: Database, settings: Settings | None = None) -> KeyRing:
    """The key ring of the test database, opened with the settings' secrets (by default
    the suite's test secret)."""
    from tests.conftest import make_settings

    ring = KeyRing((settings or make_settings(None)).root_secrets)
    await ring.load(db)
    return ring
