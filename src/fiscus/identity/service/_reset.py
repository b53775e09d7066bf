"""Password reset by an emailed single-use token (30 minutes), never bypassing MFA."""

from __future__ import annotations

import asyncio
import base64
import uuid
from datetime import timedelta
from typing import Any

from sqlalchemy import insert, select

from fiscus.access.queries import tenant_by_slug
from fiscus.audit.service import audit_record
from fiscus.core import clock
from fiscus.core.db import Database
from fiscus.core.events import emit
from fiscus.core.ids import new_id
from fiscus.core.keyring import KeyRing, context_of
from fiscus.identity.crypto import new_token, token_hash
from fiscus.identity.errors import InvalidMfaCode, InvalidToken
from fiscus.identity.models import PasswordResetToken, User
from fiscus.identity.passwords import password_check, password_hash
from fiscus.identity.runtime import Identity
from fiscus.identity.service._login import Client, _ctx, _user_in_tenant
from fiscus.identity.service._mfa import mfa_code_accept
from fiscus.identity.service._sessions import sessions_revoke

RESET_PREFIX = "fsp_"
# The event the messaging module turns into the reset email. Its payload carries the
# token sealed with a key only this service derives, so the outbox, the change feed and
# webhooks never hold it in clear.
RESET_EVENT = "user.password_reset_requested"


async def password_reset_request(
    db: Database, identity: Identity, *, tenant_slug: str, email: str, client: Client
) -> None:
    """Emit a reset token for the account, if it exists; the caller learns nothing either way."""
    async with db.uow() as uow:
        tenant = await tenant_by_slug(uow, slug=tenant_slug.strip().lower())
    if tenant is None or tenant.status != "active":
        return
    user = await _user_in_tenant(db, tenant_id=tenant.id, email=email.strip().lower())
    if user is None:
        return
    token = new_token(RESET_PREFIX)
    now = clock.now()
    expires = now + timedelta(seconds=identity.config.password_reset_ttl_s)
    async with db.uow(tenant_id=tenant.id) as uow:
        await uow.session.execute(
            insert(PasswordResetToken).values(
                tenant_id=tenant.id,
                id=new_id(),
                user_id=user.id,
                token_hash=token_hash(token),
                created_at=now,
                expires_at=expires,
            )
        )
        await emit(
            uow,
            tenant_id=tenant.id,
            type=RESET_EVENT,
            subject=f"user/{user.id}",
            # The token is sealed: the outbox, the change feed and webhooks never see it in
            # clear; messaging unseals it only into the email it sends (reset_token_unseal).
            payload={
                "user_id": str(user.id),
                "tenant": tenant.slug,
                "expires_at": expires.isoformat(),
                "token_sealed": _seal_token(identity.keyring, user.id, token),
            },
        )
        await audit_record(
            uow,
            ctx=_ctx(tenant.id, user.id, client),
            action="user.password_reset_requested",
            object_type="user",
            object_id=user.id,
        )


def _seal_token(keyring: KeyRing, user_id: uuid.UUID, token: str) -> str:
    sealed = keyring.seal_text(token, context=context_of(RESET_EVENT, user_id))
    return base64.urlsafe_b64encode(sealed).decode()


def reset_token_unseal(keyring: KeyRing, payload: dict[str, Any]) -> str:
    """The reset token of a `user.password_reset_requested` payload (for the email only)."""
    user_id = uuid.UUID(str(payload["user_id"]))
    sealed = base64.urlsafe_b64decode(str(payload["token_sealed"]))
    return keyring.open_text(sealed, context=context_of(RESET_EVENT, user_id))


async def password_reset_confirm(
    db: Database,
    identity: Identity,
    *,
    token: str,
    new_password: str,
    code: str | None,
    client: Client,
) -> None:
    """Set a new password with a reset token (and an MFA code when MFA is on)."""
    digest = token_hash(token)
    async with db.uow() as lookup:
        found = (
            await lookup.session.execute(
                select(PasswordResetToken.tenant_id).where(PasswordResetToken.token_hash == digest)
            )
        ).first()
    if found is None or not token.startswith(RESET_PREFIX):
        raise InvalidToken("The reset link is not valid.")
    tenant_id = found[0]
    checked = password_check(new_password)
    hashed = await asyncio.to_thread(password_hash, checked)
    async with db.uow(tenant_id=tenant_id) as uow:
        row = (
            await uow.session.execute(
                select(PasswordResetToken)
                .where(PasswordResetToken.token_hash == digest)
                .with_for_update()
            )
        ).scalar_one()
        now = clock.now()
        if row.used_at is not None or row.expires_at <= now:
            raise InvalidToken("The reset link was used or has expired; ask for a new one.")
        user = (
            await uow.session.execute(select(User).where(User.id == row.user_id).with_for_update())
        ).scalar_one()
        if user.totp_enabled:
            if not code:
                raise InvalidMfaCode("MFA is on: send a code from your app or a backup code.")
            await mfa_code_accept(uow, identity, user=user, code=code)
        row.used_at = now
        user.password_hash, user.password_changed_at, user.updated_at = hashed, now, now
        await sessions_revoke(uow, tenant_id=tenant_id, user_id=user.id, reason="password_reset")
        await audit_record(
            uow,
            ctx=_ctx(tenant_id, user.id, client),
            action="user.password_reset",
            object_type="user",
            object_id=user.id,
        )
