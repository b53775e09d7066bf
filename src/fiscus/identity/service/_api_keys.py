"""API keys for service accounts: created with a role, shown once, stored hashed.

Every key records the person it acts for (`created_by`): the person who made it, or, for a
key minted by a key, that key's person. At every authentication the key is capped to what
that person may do now, and suspended while they are disabled or gone (identity.authn), so
disabling or demoting someone takes effect on their keys at once. Revoking a key revokes
the keys it minted, and theirs.
"""

from __future__ import annotations

import uuid

from sqlalchemy import insert, select, text

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
        person = ctx.actor_id
        if ctx.api_key_id is not None:
            person = (
                await uow.session.execute(
                    select(ApiKey.created_by).where(
                        ApiKey.tenant_id == ctx.tenant_id, ApiKey.id == ctx.api_key_id
                    )
                )
            ).scalar()
        await uow.session.execute(
            insert(ApiKey).values(
                tenant_id=ctx.tenant_id,
                id=key_id,
                name=payload.name,
                role=payload.role,
                prefix=key[:DISPLAY_PREFIX_CHARS],
                key_hash=token_hash(key),
                created_by=person,
                created_by_key_id=ctx.api_key_id,
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
    return ApiKeyCreated(
        id=str(key_id),
        key=key,
        name=payload.name,
        role=payload.role,
        created_by=str(person) if person else None,
        created_by_key_id=str(ctx.api_key_id) if ctx.api_key_id else None,
    )


# The key and every key minted from it, however deep (UNION ends on any cycle).
_MINTED_FROM = text(
    """
    WITH RECURSIVE minted(id) AS (
      SELECT CAST(:key AS uuid)
      UNION
      SELECT k.id FROM api_keys k JOIN minted ON k.created_by_key_id = minted.id
      WHERE k.tenant_id = :tenant
    )
    UPDATE api_keys SET revoked_at = :now
    WHERE tenant_id = :tenant AND id IN (SELECT id FROM minted) AND revoked_at IS NULL
    RETURNING id
    """
)


async def api_key_revoke(db: Database, *, ctx: Context, key_id: uuid.UUID) -> None:
    """Revoke a key of the caller's tenant and the keys minted from it; at once."""
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
        revoked = await uow.session.execute(
            _MINTED_FROM, {"key": key_id, "tenant": ctx.tenant_id, "now": clock.now()}
        )
        for (revoked_id,) in revoked.all():
            await audit_record(
                uow,
                ctx=ctx,
                action="api_key.revoked",
                object_type="api_key",
                object_id=revoked_id,
                details=None if revoked_id == key_id else {"minted_from": str(key_id)},
            )
