"""Second factors by one-time code: an email address or a phone number (SMS).

A code is 6 digits from `secrets`, stored only as a keyed hash bound to its factor
(`sealed.one_time_code_hash`), lives `mfa_code_ttl_s` (5 minutes), works once, and takes
`mfa_code_max_attempts` (5) wrong tries. Every wrong code also counts as a failed
second-factor guess of the person (`guess_failed(kind="mfa")`, shared with TOTP and backup
codes), so asking for a new code never resets the person's failure count, and every
failed second-factor guess counts an attempt on each of the person's live codes.

Codes leave through messaging (`user.mfa_email_code_requested` to the factor's address by
SMTP, `user.mfa_sms_code_requested` to its number by the SMS provider), sealed in the
event payload, with system-only templates. Sending is throttled per person: one code per
`mfa_code_resend_s` (30 s) per factor, `mfa_codes_per_hour` (5) over all factors.

Enrolment proves the address: the factor counts only once the first code sent to it came
back (`verified_at`). TOTP stays the recommended factor.
"""

from __future__ import annotations

import hmac
import re
import secrets
import uuid
from datetime import timedelta
from typing import Any, Literal

from sqlalchemy import delete, func, select, update

from fiscus.access.context import Context
from fiscus.access.queries import tenant_get
from fiscus.audit.service import audit_record
from fiscus.core import clock
from fiscus.core.db import UnitOfWork
from fiscus.core.errors import ValidationProblem
from fiscus.core.events import emit
from fiscus.core.ids import new_id
from fiscus.core.keyring import KeyRing
from fiscus.identity import sealed
from fiscus.identity.errors import (
    InvalidMfaCode,
    MfaCodeResendThrottled,
    MfaFactorNotFound,
    MfaState,
)
from fiscus.identity.models import MfaFactor, Passkey, User
from fiscus.identity.runtime import Identity
from fiscus.identity.schemas import FactorRead
from fiscus.identity.service._event_tokens import event_token_seal, event_token_unseal
from fiscus.identity.throttle import account_subject

CodeKind = Literal["email", "sms"]
CODE_DIGITS = 6
EMAIL_CODE_EVENT = "user.mfa_email_code_requested"
SMS_CODE_EVENT = "user.mfa_sms_code_requested"
CODE_EVENTS: dict[str, str] = {"email": EMAIL_CODE_EVENT, "sms": SMS_CODE_EVENT}
FACTOR_ENROLLED_EVENT = "user.mfa_factor_enrolled"
FACTOR_REMOVED_EVENT = "user.mfa_factor_removed"
FACTOR_EVENTS: dict[str, str] = {"enrolled": FACTOR_ENROLLED_EVENT, "removed": FACTOR_REMOVED_EVENT}
RECOMMENDED = "totp"
_E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")
_WRONG = "The code is wrong, was already used or has expired."


def _new_code() -> str:
    return f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"


def _address_normal(kind: CodeKind, address: str) -> str:
    value = address.strip()
    if kind == "email":
        value = sealed.email_normal(value)
        if "@" not in value or len(value) > 320:
            raise ValidationProblem("Give an email address.", field="address")
        return value
    value = value.replace(" ", "").replace("-", "")
    if not _E164.match(value):
        raise ValidationProblem(
            "Give the phone number in E.164 form, e.g. +4915112345678.", field="address"
        )
    return value


def _masked(kind: str, address: str) -> str:
    """Enough of the address for its owner to recognise it, not enough to use it."""
    if kind == "email":
        local, _, domain = address.partition("@")
        return f"{local[:1]}***@{domain}"
    return f"{address[:3]}***{address[-2:]}"


def factor_address(identity: Identity, factor: MfaFactor) -> str:
    """The factor's email address or phone number."""
    return sealed.unseal(
        identity.keyring,
        sealed.FACTOR_ADDRESS,
        tenant_id=factor.tenant_id,
        row_id=factor.id,
        sealed=factor.address_sealed,
    )


def factor_read(identity: Identity, factor: MfaFactor) -> FactorRead:
    """The API shape of a factor (its address masked)."""
    return FactorRead(
        id=str(factor.id),
        kind=factor.kind,
        address=_masked(factor.kind, factor_address(identity, factor)),
        status="active" if factor.verified_at is not None else "pending",
        created_at=factor.created_at,
        last_used_at=factor.last_used_at,
        recommended=RECOMMENDED,
    )


async def factors_verified(
    uow: UnitOfWork, *, tenant_id: uuid.UUID, user_id: uuid.UUID
) -> list[str]:
    """The kinds of the person's enrolled (verified) code factors."""
    rows = await uow.session.execute(
        select(MfaFactor.kind)
        .where(
            MfaFactor.tenant_id == tenant_id,
            MfaFactor.user_id == user_id,
            MfaFactor.verified_at.is_not(None),
        )
        .order_by(MfaFactor.kind)
    )
    return [str(kind) for kind in rows.scalars()]


async def factors_offered(uow: UnitOfWork, user: User) -> list[str]:
    """Every second factor the person can log in with, TOTP (recommended) first."""
    offered = ["totp", "backup_code"] if user.totp_enabled else []
    offered += await factors_verified(uow, tenant_id=user.tenant_id, user_id=user.id)
    passkeys = await uow.session.scalar(
        select(func.count())
        .select_from(Passkey)
        .where(Passkey.tenant_id == user.tenant_id, Passkey.user_id == user.id)
    )
    return [*offered, "passkey"] if passkeys else offered


async def _factor_for_update(
    uow: UnitOfWork,
    *,
    tenant_id: uuid.UUID,
    user_id: uuid.UUID,
    kind: str | None = None,
    factor_id: uuid.UUID | None = None,
) -> MfaFactor | None:
    query = select(MfaFactor).where(MfaFactor.tenant_id == tenant_id, MfaFactor.user_id == user_id)
    if kind is not None:
        query = query.where(MfaFactor.kind == kind)
    if factor_id is not None:
        query = query.where(MfaFactor.id == factor_id)
    return (await uow.session.execute(query.with_for_update())).scalar()


async def code_send(uow: UnitOfWork, identity: Identity, *, factor: MfaFactor) -> None:
    """Send a fresh code to the factor (the previous one stops working); throttled."""
    config, now = identity.config, clock.now()
    if factor.code_sent_at is not None:
        wait = factor.code_sent_at + timedelta(seconds=config.mfa_code_resend_s) - now
        if wait.total_seconds() > 0:
            raise MfaCodeResendThrottled(
                "A code was sent a moment ago; wait before asking for another.",
                retry_after_s=int(wait.total_seconds()) + 1,
            )
    allowed = await identity.throttle.requests_allowed(
        kind="mfa-code",
        limits=[(account_subject(factor.tenant_id, factor.user_id), config.mfa_codes_per_hour)],
        window_s=3600,
    )
    if not allowed:
        raise MfaCodeResendThrottled(
            "Too many codes were sent this hour; use another factor or wait.", retry_after_s=600
        )
    code = _new_code()
    expires = now + timedelta(seconds=config.mfa_code_ttl_s)
    factor.code_hash = sealed.one_time_code_hash(identity.keyring, factor.id, code)
    factor.code_sent_at, factor.code_expires_at, factor.code_attempts = now, expires, 0
    tenant = await tenant_get(uow, tenant_id=factor.tenant_id)
    event = CODE_EVENTS[factor.kind]
    await emit(
        uow,
        tenant_id=factor.tenant_id,
        type=CODE_EVENTS[factor.kind],
        subject=f"user/{factor.user_id}",
        payload={
            "user_id": str(factor.user_id),
            "factor_id": str(factor.id),
            "tenant": tenant.slug,
            "expires_at": expires.isoformat(),
            "token_sealed": event_token_seal(
                identity.keyring, event=event, subject_id=factor.id, token=code
            ),
        },
    )


def factor_code_unseal(keyring: KeyRing, event: str, payload: dict[str, Any]) -> str:
    """The code of a `user.mfa_*_code_requested` payload (for the message only)."""
    return event_token_unseal(keyring, event=event, payload=payload, subject_field="factor_id")


def _code_matches(identity: Identity, factor: MfaFactor, code: str) -> bool:
    digits = code.strip().replace(" ", "")
    return (
        factor.code_hash is not None
        and factor.code_expires_at is not None
        and factor.code_expires_at > clock.now()
        and factor.code_attempts < identity.config.mfa_code_max_attempts
        and len(digits) == CODE_DIGITS
        and digits.isdigit()
        and hmac.compare_digest(
            bytes(factor.code_hash), sealed.one_time_code_hash(identity.keyring, factor.id, digits)
        )
    )


async def factor_code_accept(
    uow: UnitOfWork, identity: Identity, *, user: User, kind: str, code: str
) -> None:
    """Spend the live code of the person's enrolled `kind` factor; InvalidMfaCode if it is
    wrong, used, expired or out of attempts (the caller counts the failed guess)."""
    factor = await _factor_for_update(uow, tenant_id=user.tenant_id, user_id=user.id, kind=kind)
    if factor is None or factor.verified_at is None or not _code_matches(identity, factor, code):
        raise InvalidMfaCode(_WRONG)
    factor.code_hash = factor.code_expires_at = None
    factor.last_used_at = clock.now()


async def factor_codes_attempted(
    uow: UnitOfWork, *, tenant_id: uuid.UUID, user_id: uuid.UUID
) -> None:
    """A failed second-factor guess of the person: one attempt on each of their live codes."""
    await uow.session.execute(
        update(MfaFactor)
        .where(
            MfaFactor.tenant_id == tenant_id,
            MfaFactor.user_id == user_id,
            MfaFactor.code_hash.is_not(None),
        )
        .values(code_attempts=MfaFactor.code_attempts + 1)
    )


async def factor_enrol_start(
    uow: UnitOfWork, identity: Identity, *, ctx: Context, user: User, kind: CodeKind, address: str
) -> MfaFactor:
    """Add (or re-address) a pending factor and send it a code; an enrolled one must be
    removed first."""
    value = _address_normal(kind, address)
    factor = await _factor_for_update(uow, tenant_id=user.tenant_id, user_id=user.id, kind=kind)
    if factor is not None and factor.verified_at is not None:
        raise MfaState(f"An {kind} factor is already enrolled; remove it first to change it.")
    if factor is None:
        factor = MfaFactor(
            tenant_id=user.tenant_id,
            id=new_id(),
            user_id=user.id,
            kind=kind,
            code_attempts=0,
            created_at=clock.now(),
        )
        uow.session.add(factor)
    factor.address_sealed = sealed.seal(
        identity.keyring,
        sealed.FACTOR_ADDRESS,
        tenant_id=user.tenant_id,
        row_id=factor.id,
        value=value,
    )
    await uow.session.flush()
    await code_send(uow, identity, factor=factor)
    await audit_record(
        uow,
        ctx=ctx,
        action="mfa.factor_enrolment_started",
        object_type="user",
        object_id=user.id,
        details={"factor": kind},
    )
    return factor


async def factor_enrol_confirm(
    uow: UnitOfWork,
    identity: Identity,
    *,
    ctx: Context,
    user: User,
    factor_id: uuid.UUID,
    code: str,
) -> MfaFactor:
    """Mark a pending factor enrolled with the code sent to it."""
    factor = await _factor_for_update(
        uow, tenant_id=user.tenant_id, user_id=user.id, factor_id=factor_id
    )
    if factor is None:
        raise MfaFactorNotFound("No such second factor of yours.")
    if factor.verified_at is not None:
        raise MfaState("This factor is already enrolled.")
    if not _code_matches(identity, factor, code):
        raise InvalidMfaCode(_WRONG)
    now = clock.now()
    factor.code_hash = factor.code_expires_at = None
    factor.verified_at = factor.last_used_at = now
    await announce_factor(uow, ctx=ctx, user=user, change="enrolled", kind=factor.kind)
    return factor


async def factor_remove(uow: UnitOfWork, *, ctx: Context, user: User, factor_id: uuid.UUID) -> None:
    """Drop one of the person's code factors (pending or enrolled)."""
    factor = await _factor_for_update(
        uow, tenant_id=user.tenant_id, user_id=user.id, factor_id=factor_id
    )
    if factor is None:
        raise MfaFactorNotFound("No such second factor of yours.")
    await uow.session.delete(factor)
    if factor.verified_at is not None:
        await announce_factor(uow, ctx=ctx, user=user, change="removed", kind=factor.kind)


async def factors_drop(uow: UnitOfWork, *, tenant_id: uuid.UUID, user_id: uuid.UUID) -> list[str]:
    """Drop every code factor of the person; the kinds that were enrolled."""
    dropped = await uow.session.execute(
        delete(MfaFactor)
        .where(MfaFactor.tenant_id == tenant_id, MfaFactor.user_id == user_id)
        .returning(MfaFactor.kind, MfaFactor.verified_at)
    )
    return sorted(str(kind) for kind, verified in dropped if verified is not None)


async def announce_factor(
    uow: UnitOfWork, *, ctx: Context, user: User, change: str, kind: str
) -> None:
    """Emit and audit a factor enrolled or removed (`change`) of `kind`."""
    await emit(
        uow,
        tenant_id=user.tenant_id,
        type=FACTOR_EVENTS[change],
        subject=f"user/{user.id}",
        payload={"user_id": str(user.id), "factor": kind},
    )
    await audit_record(
        uow,
        ctx=ctx,
        action=f"mfa.factor_{change}",
        object_type="user",
        object_id=user.id,
        details={"factor": kind},
    )
