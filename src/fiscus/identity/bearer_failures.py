"""Failed bearer checks in the audit trail, without letting a flood flood it.

A refused access token or API key (bad, expired, revoked, suspended) is recorded in the
tenant it belongs to, as `auth.bearer_rejected`, at most once per minute per source
address, credential kind (`api_key` or `jwt`) and tenant; the record counts the failures
since the previous one. The credential is never recorded, only its kind, the key's id or
the session's id. A credential fiscus did not issue (a forged token, an unknown key)
belongs to no tenant: it is logged (kind and count, no address) instead, under the same
limit, since its claims are only the sender's word.
"""

from __future__ import annotations

import uuid

from fastapi import Request
from sqlalchemy import select

from fiscus.access.context import Context
from fiscus.audit.service import audit_record
from fiscus.core.db import Database
from fiscus.core.errors import DomainError
from fiscus.core.http import request_id_var
from fiscus.core.logging import get_logger
from fiscus.identity.crypto import token_hash
from fiscus.identity.models import ApiKey
from fiscus.identity.runtime import Identity
from fiscus.identity.service._api_keys import API_KEY_PREFIX
from fiscus.identity.tokens import access_token_tenant

log = get_logger("fiscus.identity.bearer")
ACTION = "auth.bearer_rejected"


async def _owner(
    db: Database, identity: Identity, *, token: str, kind: str
) -> tuple[uuid.UUID, str, uuid.UUID] | None:
    """(tenant, object type, object id) of a credential fiscus issued, else None."""
    if kind == "jwt":
        config = identity.config
        found = access_token_tenant(
            identity.ring, token, issuer=config.issuer, audience=config.audience
        )
        return None if found is None else (found[0], "session", found[1])
    async with db.uow() as lookup:
        row = (
            await lookup.session.execute(
                select(ApiKey.tenant_id, ApiKey.id).where(ApiKey.key_hash == token_hash(token))
            )
        ).first()
    return None if row is None else (row[0], "api_key", row[1])


async def bearer_failure_note(request: Request, *, token: str, error: DomainError) -> None:
    """Count a refused bearer credential; record it when its window allows. Never raises:
    the caller answers 401 whatever happens here."""
    identity: Identity = request.app.state.identity
    db: Database = request.app.state.db
    kind = "api_key" if token.startswith(API_KEY_PREFIX) else "jwt"
    ip = request.client.host if request.client else "unknown"
    try:
        owner = await _owner(db, identity, token=token, kind=kind)
        tenant = owner[0] if owner else None
        failures = await identity.throttle.failure_tally(
            subject=f"bearer:{ip}:{kind}:{tenant or '-'}",
            window_s=identity.config.bearer_failure_window_s,
        )
        if failures is None:
            return
        if owner is None:
            log.warning("bearer_rejected_unattributed", credential=kind, failures=failures)
            return
        tenant_id, object_type, object_id = owner
        ctx = Context(
            tenant_id=tenant_id,
            actor_type="api_key" if kind == "api_key" else "user",
            actor_id=None,
            role="-",
            permissions=frozenset(),
            request_id=request_id_var.get(),
            client_ip=ip,
            user_agent=request.headers.get("user-agent"),
            api_key_id=object_id if kind == "api_key" else None,
        )
        async with db.uow(tenant_id=tenant_id) as uow:
            await audit_record(
                uow,
                ctx=ctx,
                action=ACTION,
                object_type=object_type,
                object_id=object_id,
                outcome="failure",
                details={
                    "reason": error.type_slug,
                    "credential": kind,
                    "failures": failures,
                    "window_s": identity.config.bearer_failure_window_s,
                },
            )
    except Exception as failure:  # auditing must not turn a 401 into a 500
        log.warning("bearer_rejection_not_recorded", cause=type(failure).__name__)
