"""Changing your login email: verified by a token mailed to the new address.

`POST /v1/me/email` answers the same (202) whether or not the address is in use, so it
tells nobody who has an account. A free address gets a pending change and a confirmation
token by mail (a system template: no tenant can re-route the token); an address in use in
the tenant gets a notice instead, to that address. The change happens on
`POST /v1/me/email/confirm` with the token, by the same signed-in person.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError

from fiscus.access.context import Context
from fiscus.access.queries import tenant_get
from fiscus.audit.service import audit_record
from fiscus.core import clock
from fiscus.core.db import Database
from fiscus.core.events import emit
from fiscus.core.ids import new_id
from fiscus.core.keyring import KeyRing
from fiscus.identity import sealed
from fiscus.identity.crypto import new_token, token_hash
from fiscus.identity.errors import EmailInUse, InvalidToken
from fiscus.identity.models import EmailChange
from fiscus.identity.runtime import Identity
from fiscus.identity.service._event_tokens import event_token_seal, event_token_unseal
from fiscus.identity.service._mfa import require_recent_auth, user_for_update
from fiscus.identity.service._one_time import one_time_end_all
from fiscus.identity.service._reset import reset_tokens_end
from fiscus.identity.service._users import account_with_address, normalise_email

EMAIL_CHANGE_PREFIX = "fse_"
# Mailed to the NEW address with the token (system template, not overridable).
EMAIL_CHANGE_EVENT = "user.email_change_requested"
# Mailed to an address already in use in the tenant, instead of a token.
EMAIL_REQUESTED_EVENT = "user.email_address_requested"
_INVALID = "The confirmation token was used, has expired or is not yours; ask again."


async def email_change_request(
    db: Database, identity: Identity, *, ctx: Context, email: str
) -> None:
    """Start changing your email (needs a recent re-authentication); the same outcome for
    the caller whether or not the address is taken."""
    address = normalise_email(email)
    ring = identity.keyring
    digest = sealed.email_hash(ring, address)
    async with db.uow(tenant_id=ctx.tenant_id) as uow:
        await require_recent_auth(uow, identity, ctx=ctx)
        me = await user_for_update(uow, ctx)
        tenant = await tenant_get(uow, tenant_id=ctx.tenant_id)
        holder = await account_with_address(uow, tenant_id=ctx.tenant_id, email_hash=digest)
        await audit_record(
            uow, ctx=ctx, action="user.email_change_requested", object_type="user", object_id=me.id
        )
        if holder is not None:
            await emit(
                uow,
                tenant_id=ctx.tenant_id,
                type=EMAIL_REQUESTED_EVENT,
                subject=f"user/{holder}",
                payload={"user_id": str(holder), "tenant": tenant.slug},
            )
            return
        await one_time_end_all(uow, EmailChange, tenant_id=ctx.tenant_id, user_id=me.id)
        change_id, token, now = new_id(), new_token(EMAIL_CHANGE_PREFIX), clock.now()
        expires = now + timedelta(seconds=identity.config.email_change_ttl_s)
        await uow.session.execute(
            insert(EmailChange).values(
                tenant_id=ctx.tenant_id,
                id=change_id,
                user_id=me.id,
                email_hash=digest,
                email_sealed=sealed.seal(
                    ring,
                    sealed.PENDING_EMAIL,
                    tenant_id=ctx.tenant_id,
                    row_id=change_id,
                    value=address,
                ),
                token_hash=token_hash(token),
                created_at=now,
                expires_at=expires,
            )
        )
        await emit(
            uow,
            tenant_id=ctx.tenant_id,
            type=EMAIL_CHANGE_EVENT,
            subject=f"user/{me.id}",
            payload={
                "user_id": str(me.id),
                "change_id": str(change_id),
                "tenant": tenant.slug,
                "expires_at": expires.isoformat(),
                "token_sealed": event_token_seal(
                    ring, event=EMAIL_CHANGE_EVENT, subject_id=change_id, token=token
                ),
            },
        )


def email_change_token_unseal(keyring: KeyRing, payload: dict[str, Any]) -> str:
    """The token of a `user.email_change_requested` payload (for the email only)."""
    return event_token_unseal(
        keyring, event=EMAIL_CHANGE_EVENT, payload=payload, subject_field="change_id"
    )


async def email_change_confirm(
    db: Database, identity: Identity, *, ctx: Context, token: str
) -> None:
    """Finish an email change with the token mailed to the new address."""
    if not token.startswith(EMAIL_CHANGE_PREFIX):
        raise InvalidToken(_INVALID)
    ring = identity.keyring
    async with db.uow(tenant_id=ctx.tenant_id) as uow:
        me = await user_for_update(uow, ctx)
        change = (
            await uow.session.execute(
                select(EmailChange)
                .where(
                    EmailChange.tenant_id == ctx.tenant_id,
                    EmailChange.token_hash == token_hash(token),
                    EmailChange.user_id == me.id,
                )
                .with_for_update()
            )
        ).scalar()
        if change is None or change.used_at is not None or change.expires_at <= clock.now():
            raise InvalidToken(_INVALID)
        address = sealed.unseal(
            ring,
            sealed.PENDING_EMAIL,
            tenant_id=ctx.tenant_id,
            row_id=change.id,
            sealed=change.email_sealed,
        )
        change.used_at = me.updated_at = clock.now()
        me.email_hash = change.email_hash
        me.email_sealed = sealed.seal(
            ring, sealed.USER_EMAIL, tenant_id=ctx.tenant_id, row_id=me.id, value=address
        )
        try:
            await uow.session.flush()
        except IntegrityError:  # the address was taken since the change was asked for
            raise EmailInUse("This address is now used by another account of the tenant.") from None
        # A reset link mailed to the old address must not outlive the change.
        await reset_tokens_end(uow, tenant_id=ctx.tenant_id, user_id=me.id)
        await audit_record(
            uow,
            ctx=ctx,
            action="user.email_changed",
            object_type="user",
            object_id=me.id,
            details={"changed": ["email"]},
        )
