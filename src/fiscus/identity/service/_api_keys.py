"""API keys for service accounts: created with a role, shown once, stored hashed."""

from __future__ import annotations

import uuid

from sqlalchemy import insert, select

from fiscus.access.context import Context
from fiscus.access.service import role_check_grantable
from fiscus.audit.service import audit_record
from fiscus.core import clock
from fiscus.core.db import Database
from fiscus.core.errors import NotFound, ValidationProblem
from fiscus.core.ids import new_id
from fiscus.identity.crypto import new_token, token_hash
from fiscus.identity.models import ApiKey
from fiscus.identity.schemas import ApiKeyCreate, ApiKeyCreated

API_KEY_PREFIX = "fsk_"
DISPLAY_PREFIX_CHARS = 8


async def api_key_create(db: Database, *, ctx: Context, payload: ApiKeyCreate) -> ApiKeyCreated:
    """Create a key with a role the caller may grant; the key is returned this once."""
    if payload.expires_at is not None and payload.expires_at <= clock.now():
        raise ValidationProblem("expires_at must be in the future.", field="expires_at")
    key = new_token(API_KEY_PREFIX)
    key_id = new_id()
    async with db.uow(tenant_id=ctx.tenant_id) as uow:
        await role_check_grantable(uow, ctx=ctx, role=payload.role)
        await uow.session.execute(
            insert(ApiKey).values(
                tenant_id=ctx.tenant_id,
                id=key_id,
                name=payload.name,
                role=payload.role,
                prefix=key[:DISPLAY_PREFIX_CHARS],
                key_hash=token_hash(key),
                created_by=ctx.actor_id,
                created_at=clock.now(),
                expires_at=payload.expires_at,
            )
        )
        await audit_record(
            uow,
            ctx=ctx,
            action="api_key.created",
            object_type="api_key",
            object_id=key_id,
            after={"name": payload.name, "role": payload.role},
        )
    return ApiKeyCreated(id=str(key_id), key=key, name=payload.name, role=payload.role)


async def api_key_revoke(db: Database, *, ctx: Context, key_id: uuid.UUID) -> None:
    """Revoke a key of the caller's tenant; it stops working at once."""
    async with db.uow(tenant_id=ctx.tenant_id) as uow:
        row = (
            await uow.session.execute(
                select(ApiKey)
                .where(ApiKey.tenant_id == ctx.tenant_id, ApiKey.id == key_id)
                .with_for_update()
            )
        ).scalar()
        if row is None:
            raise NotFound("No such API key.")
        if row.revoked_at is None:
            row.revoked_at = clock.now()
            await audit_record(
                uow, ctx=ctx, action="api_key.revoked", object_type="api_key", object_id=key_id
            )
