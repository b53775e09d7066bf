"""Guessing protection shared by every place a password or a second factor is checked.

Log-in, the MFA step, re-authentication, password change and password-reset confirmation
all count their failures here, per account and per address (whatever the tenant), and
refuse while either is locked; a lockout is recorded in the login history and emitted as
`user.locked_out` (ids only) in the tenant where it happened.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import insert

from fiscus.access.context import Context
from fiscus.audit.service import audit_record
from fiscus.core import clock
from fiscus.core.db import Database, UnitOfWork
from fiscus.core.events import emit
from fiscus.core.ids import new_id
from fiscus.identity.models import LoginEvent
from fiscus.identity.runtime import Identity
from fiscus.identity.service._factors import factor_codes_attempted
from fiscus.identity.throttle import Kind, account_subject, address_subject

LOCKED_OUT_EVENT = "user.locked_out"


@dataclass(frozen=True, slots=True)
class Client:
    """Where a request comes from."""

    ip: str
    user_agent: str | None
    request_id: str = "-"


def client_context(tenant_id: uuid.UUID, user_id: uuid.UUID | None, client: Client) -> Context:
    """The Context of an unauthenticated step (log-in, reset) acting for `user_id`."""
    return Context(
        tenant_id=tenant_id,
        actor_type="user",
        actor_id=user_id,
        role="-",
        permissions=frozenset(),
        request_id=client.request_id,
        client_ip=client.ip,
        user_agent=client.user_agent,
    )


def guess_subjects(tenant_id: uuid.UUID, user_id: uuid.UUID | None, email_hash: bytes) -> list[str]:
    """What a guess counts against: the address in every tenant, and the account if any."""
    subjects = [address_subject(email_hash)]
    if user_id is not None:
        subjects.append(account_subject(tenant_id, user_id))
    return subjects


async def login_event_record(
    uow: UnitOfWork,
    *,
    tenant_id: uuid.UUID,
    user_id: uuid.UUID | None,
    client: Client,
    outcome: str,
    reason: str | None = None,
) -> None:
    """One row of login history, and the matching audit record."""
    await uow.session.execute(
        insert(LoginEvent).values(
            tenant_id=tenant_id,
            id=new_id(),
            user_id=user_id,
            occurred_at=clock.now(),
            ip=client.ip,
            user_agent=(client.user_agent or "")[:500] or None,
            outcome=outcome,
            reason=reason,
        )
    )
    await audit_record(
        uow,
        ctx=client_context(tenant_id, user_id, client),
        action=f"auth.login_{outcome}",
        object_type="user",
        object_id=user_id,
        outcome="success" if outcome in ("success", "mfa_required") else "failure",
        details={"reason": reason} if reason else None,
    )


async def guess_failed(
    db: Database,
    identity: Identity,
    *,
    tenant_id: uuid.UUID,
    user_id: uuid.UUID | None,
    subjects: list[str],
    client: Client,
    kind: Kind,
) -> None:
    """Count a failed guess; when it locks the account or address, record and announce it."""
    locked = await identity.throttle.login_failed(subjects=subjects, ip=client.ip, kind=kind)
    if kind == "mfa" and user_id is not None:
        # Each failed second-factor guess costs every live email/SMS code an attempt.
        async with db.uow(tenant_id=tenant_id) as uow:
            await factor_codes_attempted(uow, tenant_id=tenant_id, user_id=user_id)
    if not locked or user_id is None:
        return
    async with db.uow(tenant_id=tenant_id) as uow:
        await login_event_record(
            uow,
            tenant_id=tenant_id,
            user_id=user_id,
            client=client,
            outcome="locked",
            reason=f"too_many_{kind}_failures",
        )
        # The owner's notification; ids only (no email, no address: docs/identity.md).
        await emit(
            uow,
            tenant_id=tenant_id,
            type=LOCKED_OUT_EVENT,
            subject=f"user/{user_id}",
            payload={"user_id": str(user_id), "locked_for_s": identity.config.lockout_s},
        )


def ctx_ip(ctx: Context) -> str:
    """The signed-in caller's address, as the guess counters key it."""
    return ctx.client_ip or "unknown"


async def ctx_guess_failed(
    db: Database, identity: Identity, *, ctx: Context, subjects: list[str], kind: Kind
) -> None:
    """`guess_failed` for a signed-in person (re-authentication, password change, factor
    enrolment)."""
    client = Client(ip=ctx_ip(ctx), user_agent=ctx.user_agent, request_id=ctx.request_id)
    await guess_failed(
        db,
        identity,
        tenant_id=ctx.tenant_id,
        user_id=ctx.actor_id,
        subjects=subjects,
        client=client,
        kind=kind,
    )
