"""Password reset by an emailed single-use token (30 minutes), never bypassing MFA.

One live token per account: issuing a token, or using one, ends every other. Confirming
checks the token (cheap) before anything costly: a used, expired or unknown token never
reaches argon2. With MFA on, each wrong code counts on the token (it dies after
`password_reset_max_attempts`) and on the account's second-factor failures (lockout), and
a locked account cannot be reset until the lockout ends.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from sqlalchemy import insert, select

from fiscus.access.queries import tenant_by_slug
from fiscus.audit.service import audit_record
from fiscus.core import clock
from fiscus.core.db import Database, UnitOfWork
from fiscus.core.events import emit
from fiscus.core.ids import new_id
from fiscus.core.keyring import KeyRing
from fiscus.core.logging import get_logger
from fiscus.identity import sealed
from fiscus.identity.crypto import new_token, token_hash
from fiscus.identity.errors import InvalidMfaCode, InvalidToken
from fiscus.identity.models import PasswordResetToken, User
from fiscus.identity.passwords import password_check, password_hash_pooled
from fiscus.identity.runtime import Identity
from fiscus.identity.service._event_tokens import event_token_seal, event_token_unseal
from fiscus.identity.service._guard import Client, client_context, guess_failed, guess_subjects
from fiscus.identity.service._login import account_find
from fiscus.identity.service._mfa import mfa_code_accept
from fiscus.identity.service._one_time import (
    one_time_attempt_failed,
    one_time_claim,
    one_time_end_all,
)
from fiscus.identity.service._sessions import sessions_revoke
from fiscus.identity.throttle import account_subject, address_subject

log = get_logger("fiscus.identity.reset")

RESET_PREFIX = "fsp_"
# The event the messaging module turns into the reset email (a system template that no
# tenant can override). Its payload carries the token sealed (service._event_tokens).
RESET_EVENT = "user.password_reset_requested"
_INVALID = "The reset link was used, has expired or is not valid; ask for a new one."


async def reset_tokens_end(uow: UnitOfWork, *, tenant_id: uuid.UUID, user_id: uuid.UUID) -> None:
    """End every live reset token of the account (a new one, a reset, a password change)."""
    await one_time_end_all(uow, PasswordResetToken, tenant_id=tenant_id, user_id=user_id)


async def password_reset_request(
    db: Database, identity: Identity, *, tenant_slug: str, email: str, client: Client
) -> None:
    """Emit a reset token for the account, if it exists and may have one more; the caller
    learns nothing either way.

    Requests are limited per account and per address (every tenant) in a moving window;
    one over the limit sends nothing and leaves the live token alone.
    """
    async with db.uow() as uow:
        tenant = await tenant_by_slug(uow, slug=tenant_slug.strip().lower())
    if tenant is None or tenant.status != "active":
        return
    email_hash = sealed.email_hash(identity.keyring, email)
    user = await account_find(db, tenant_id=tenant.id, email_hash=email_hash)
    if user is None:
        return
    config = identity.config
    allowed = await identity.throttle.requests_allowed(
        kind="password-reset",
        limits=[
            (account_subject(tenant.id, user.id), config.password_reset_requests_per_account),
            (address_subject(email_hash), config.password_reset_requests_per_address),
        ],
        window_s=config.password_reset_request_window_s,
    )
    if not allowed:
        log.warning("password_reset_throttled", tenant_id=str(tenant.id), user_id=str(user.id))
        return
    token = new_token(RESET_PREFIX)
    now = clock.now()
    expires = now + timedelta(seconds=identity.config.password_reset_ttl_s)
    async with db.uow(tenant_id=tenant.id) as uow:
        await reset_tokens_end(uow, tenant_id=tenant.id, user_id=user.id)
        await uow.session.execute(
            insert(PasswordResetToken).values(
                tenant_id=tenant.id,
                id=new_id(),
                user_id=user.id,
                token_hash=token_hash(token),
                created_at=now,
                expires_at=expires,
                attempts=0,
            )
        )
        await emit(
            uow,
            tenant_id=tenant.id,
            type=RESET_EVENT,
            subject=f"user/{user.id}",
            payload={
                "user_id": str(user.id),
                "tenant": tenant.slug,
                "expires_at": expires.isoformat(),
                "token_sealed": event_token_seal(
                    identity.keyring, event=RESET_EVENT, subject_id=user.id, token=token
                ),
            },
        )
        await audit_record(
            uow,
            ctx=client_context(tenant.id, user.id, client),
            action="user.password_reset_requested",
            object_type="user",
            object_id=user.id,
        )


def reset_token_unseal(keyring: KeyRing, payload: dict[str, Any]) -> str:
    """The reset token of a `user.password_reset_requested` payload (for the email only)."""
    return event_token_unseal(keyring, event=RESET_EVENT, payload=payload, subject_field="user_id")


async def _token_owner(db: Database, token: str) -> tuple[uuid.UUID, uuid.UUID, bytes, bool]:
    """(tenant, user, email hash, MFA on) of a reset token, before the tenant is known."""
    if not token.startswith(RESET_PREFIX):
        raise InvalidToken(_INVALID)
    async with db.uow() as lookup:
        found = (
            await lookup.session.execute(
                select(
                    PasswordResetToken.tenant_id,
                    PasswordResetToken.user_id,
                    User.email_hash,
                    User.totp_enabled,
                )
                .join(
                    User,
                    (User.tenant_id == PasswordResetToken.tenant_id)
                    & (User.id == PasswordResetToken.user_id),
                )
                .where(
                    PasswordResetToken.token_hash == token_hash(token),
                    PasswordResetToken.used_at.is_(None),
                    PasswordResetToken.expires_at > clock.now(),
                )
            )
        ).first()
    if found is None:
        raise InvalidToken(_INVALID)
    return found[0], found[1], bytes(found[2]), bool(found[3])


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
    tenant_id, user_id, email_hash, mfa_on = await _token_owner(db, token)
    if mfa_on and not code:
        raise InvalidMfaCode("MFA is on: send a code from your app or a backup code.")
    subjects = guess_subjects(tenant_id, user_id, email_hash)
    await identity.throttle.login_check(subjects=subjects, ip=client.ip)
    try:
        async with db.uow(tenant_id=tenant_id) as uow:
            await _reset(uow, identity, token=token, new_password=new_password, code=code)
            await audit_record(
                uow,
                ctx=client_context(tenant_id, user_id, client),
                action="user.password_reset",
                object_type="user",
                object_id=user_id,
            )
    except InvalidMfaCode:
        async with db.uow(tenant_id=tenant_id) as uow:
            await one_time_attempt_failed(uow, PasswordResetToken, token=token)
            await audit_record(
                uow,
                ctx=client_context(tenant_id, user_id, client),
                action="user.password_reset_refused",
                object_type="user",
                object_id=user_id,
                outcome="failure",
                details={"reason": "bad_mfa_code"},
            )
        await guess_failed(
            db,
            identity,
            tenant_id=tenant_id,
            user_id=user_id,
            subjects=subjects,
            client=client,
            kind="mfa",
        )
        raise


async def _reset(
    uow: UnitOfWork, identity: Identity, *, token: str, new_password: str, code: str | None
) -> None:
    """The reset itself, with the token row locked: concurrent uses are serialised."""
    row = await one_time_claim(
        uow,
        PasswordResetToken,
        token=token,
        max_attempts=identity.config.password_reset_max_attempts,
        refused=_INVALID,
    )
    user = (
        await uow.session.execute(
            select(User)
            .where(User.tenant_id == row.tenant_id, User.id == row.user_id)
            .with_for_update()
        )
    ).scalar_one()
    if user.totp_enabled:
        await mfa_code_accept(uow, identity, user=user, code=code or "")
    # Only now, with a live token (and the second factor) proven, is argon2 worth its cost.
    checked = password_check(new_password)
    hashed = await password_hash_pooled(checked)
    await reset_tokens_end(uow, tenant_id=row.tenant_id, user_id=user.id)
    now = clock.now()
    user.password_hash, user.password_changed_at, user.updated_at = hashed, now, now
    await sessions_revoke(uow, tenant_id=row.tenant_id, user_id=user.id, reason="password_reset")
