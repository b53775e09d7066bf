"""MFA: TOTP enrolment with a QR code, code checks without replay, backup codes, and the
signed-in person's email and SMS code factors (`_factors`)."""

from __future__ import annotations

import hmac
import secrets
import uuid
from datetime import timedelta
from typing import TypeVar

import pyotp
import segno
from sqlalchemy import and_, delete, insert, or_, select, update

from fiscus.access.context import Context
from fiscus.access.queries import membership_get, tenant_get
from fiscus.access.service import role_check_grantable
from fiscus.audit.service import audit_record
from fiscus.core import clock
from fiscus.core.db import Database, UnitOfWork
from fiscus.core.errors import NotFound, PermissionDenied
from fiscus.core.events import emit
from fiscus.identity import sealed
from fiscus.identity.crypto import keyed_hash
from fiscus.identity.errors import (
    InvalidMfaCode,
    MfaFactorNotFound,
    MfaState,
    ReauthenticationRequired,
)
from fiscus.identity.models import AuthSession, BackupCode, MfaFactor, Passkey, User
from fiscus.identity.runtime import Identity
from fiscus.identity.schemas import BackupCodes, FactorRead, TotpEnrolment
from fiscus.identity.service._factors import (
    CodeKind,
    code_send,
    factor_code_accept,
    factor_enrol_confirm,
    factor_enrol_start,
    factor_read,
    factor_remove,
    factors_drop,
)
from fiscus.identity.service._guard import ctx_guess_failed, ctx_ip, guess_subjects
from fiscus.identity.service._sessions import sessions_revoke

TOTP_STEP_S = 30
TOTP_DIGITS = 6
SECRET_BASE32_CHARS = 32  # 160 bits, RFC 4226's recommended secret length
BACKUP_CODE_COUNT = 10
# Mailed to the person whose second factors a staff member reset.
MFA_RESET_EVENT = "user.mfa_reset_by_staff"
# Crockford-style alphabet without look-alikes; 12 characters carry 60 bits.
_BACKUP_ALPHABET = "ABCDEFGHJKMNPQRSTVWXYZ23456789"
BACKUP_CODE_CHARS = 12
# Codes from one step before and after now are accepted (clock drift, RFC 6238 section 6).
DRIFT_STEPS = 1


def _totp(secret: str) -> pyotp.TOTP:
    return pyotp.TOTP(secret, digits=TOTP_DIGITS, interval=TOTP_STEP_S)


def _normalise_backup(code: str) -> str:
    return "".join(ch for ch in code.upper() if ch.isalnum())


def _backup_code() -> str:
    raw = "".join(secrets.choice(_BACKUP_ALPHABET) for _ in range(BACKUP_CODE_CHARS))
    return "-".join(raw[i : i + 4] for i in range(0, BACKUP_CODE_CHARS, 4))


def totp_matching_step(secret: str, code: str, *, after_step: int | None) -> int | None:
    """The time-step `code` belongs to (now +- drift), if later than `after_step`."""
    totp = _totp(secret)
    now_step = int(clock.now().timestamp()) // TOTP_STEP_S
    for step in range(now_step - DRIFT_STEPS, now_step + DRIFT_STEPS + 1):
        if after_step is not None and step <= after_step:
            continue  # that step's code was already used: replay
        if hmac.compare_digest(totp.at(step * TOTP_STEP_S), code):
            return step
    return None


def _secret_of(identity: Identity, user: User) -> str:
    assert user.totp_secret_sealed is not None
    return sealed.unseal(
        identity.keyring,
        sealed.USER_TOTP,
        tenant_id=user.tenant_id,
        row_id=user.id,
        sealed=user.totp_secret_sealed,
    )


def _backup_hash(identity: Identity, code: str) -> bytes:
    return sealed.backup_code_hash(identity.keyring, _normalise_backup(code))


async def mfa_code_accept(
    uow: UnitOfWork, identity: Identity, *, user: User, code: str, factor: str | None = None
) -> str:
    """Spend a second-factor code of `user` (row locked by the caller): of the `factor`
    named ('totp', 'backup_code', 'email', 'sms'), or without one a TOTP or backup code;
    returns the factor used ('totp', 'backup', 'email', 'sms').

    The caller counts an InvalidMfaCode as a failed second-factor guess (`guess_failed`).
    """
    assert uow.active
    if factor in ("email", "sms"):
        await factor_code_accept(uow, identity, user=user, kind=factor, code=code)
        return factor
    if factor is not None and not user.totp_enabled:
        raise InvalidMfaCode("The code is wrong or was already used.")
    digits = code.strip().replace(" ", "")
    if (
        factor != "backup_code"
        and user.totp_secret_sealed is not None
        and digits.isdigit()
        and len(digits) == TOTP_DIGITS
    ):
        step = totp_matching_step(
            _secret_of(identity, user), digits, after_step=user.totp_last_step
        )
        if step is not None:
            user.totp_last_step = step
            return "totp"
        raise InvalidMfaCode("The code is wrong or was already used.")
    normal = _normalise_backup(code)
    if not normal or factor == "totp":
        raise InvalidMfaCode("The code is wrong or was already used.")
    legacy = [keyed_hash(key, normal) for key in identity.legacy_backup_code_keys]
    result = await uow.session.execute(
        update(BackupCode)
        .where(
            BackupCode.tenant_id == user.tenant_id,
            BackupCode.user_id == user.id,
            BackupCode.used_at.is_(None),
            or_(
                and_(
                    BackupCode.code_hash == _backup_hash(identity, code),
                    BackupCode.legacy_hash.is_(False),
                ),
                and_(BackupCode.code_hash.in_(legacy), BackupCode.legacy_hash.is_(True)),
            ),
        )
        .values(used_at=clock.now())
    )
    if getattr(result, "rowcount", 0) != 1:
        raise InvalidMfaCode("The code is wrong or was already used.")
    return "backup"


async def user_for_update(uow: UnitOfWork, ctx: Context) -> User:
    """The signed-in person's account row, locked; API keys have none."""
    if ctx.actor_type != "user" or ctx.actor_id is None:
        raise PermissionDenied("Only people have a password, a profile and MFA; API keys do not.")
    user = (
        await uow.session.execute(
            select(User)
            .where(User.tenant_id == ctx.tenant_id, User.id == ctx.actor_id)
            .with_for_update()
        )
    ).scalar_one()
    return user


async def require_recent_auth(uow: UnitOfWork, identity: Identity, *, ctx: Context) -> None:
    """Refuse unless the session proved a password (and MFA) within the re-auth window."""
    if ctx.session_id is None:
        raise ReauthenticationRequired("This change needs a signed-in session.")
    proved = (
        await uow.session.execute(
            select(AuthSession.authenticated_at).where(
                AuthSession.tenant_id == ctx.tenant_id, AuthSession.id == ctx.session_id
            )
        )
    ).scalar()
    window = timedelta(seconds=identity.config.reauth_window_s)
    if proved is None or clock.now() - proved > window:
        raise ReauthenticationRequired(
            "Confirm your password at POST /v1/me/reauthenticate, then try again."
        )


async def totp_enroll_start(db: Database, identity: Identity, *, ctx: Context) -> TotpEnrolment:
    """Start TOTP enrolment: a fresh 160-bit secret, its otpauth URI and a QR code."""
    async with db.uow(tenant_id=ctx.tenant_id) as uow:
        await require_recent_auth(uow, identity, ctx=ctx)
        user = await user_for_update(uow, ctx)
        if user.totp_enabled:
            raise MfaState("TOTP is already on; turn it off first to enrol a new device.")
        secret = pyotp.random_base32(length=SECRET_BASE32_CHARS)
        user.totp_secret_sealed = sealed.seal(
            identity.keyring,
            sealed.USER_TOTP,
            tenant_id=user.tenant_id,
            row_id=user.id,
            value=secret,
        )
        user.totp_last_step = None
        user.updated_at = clock.now()
        await audit_record(
            uow, ctx=ctx, action="mfa.totp_enrolment_started", object_type="user", object_id=user.id
        )
        email = sealed.unseal(
            identity.keyring,
            sealed.USER_EMAIL,
            tenant_id=user.tenant_id,
            row_id=user.id,
            sealed=user.email_sealed,
        )
    uri = _totp(secret).provisioning_uri(name=email, issuer_name=identity.config.issuer)
    svg = segno.make(uri, error="m").svg_inline(scale=4)
    return TotpEnrolment(secret=secret, otpauth_uri=uri, qr_svg=svg)


async def _replace_backup_codes(uow: UnitOfWork, identity: Identity, *, user: User) -> list[str]:
    codes = [_backup_code() for _ in range(BACKUP_CODE_COUNT)]
    await _backup_codes_drop(uow, user)
    now = clock.now()
    await uow.session.execute(
        insert(BackupCode),
        [
            {
                "tenant_id": user.tenant_id,
                "user_id": user.id,
                "code_hash": _backup_hash(identity, c),
                "created_at": now,
                "legacy_hash": False,
            }
            for c in codes
        ],
    )
    return codes


async def _backup_codes_drop(uow: UnitOfWork, user: User) -> None:
    await uow.session.execute(
        delete(BackupCode).where(
            BackupCode.tenant_id == user.tenant_id, BackupCode.user_id == user.id
        )
    )


async def totp_enroll_confirm(
    db: Database, identity: Identity, *, ctx: Context, code: str
) -> BackupCodes:
    """Turn TOTP on with the first code from the app; return ten fresh backup codes."""
    async with db.uow(tenant_id=ctx.tenant_id) as uow:
        user = await user_for_update(uow, ctx)
        if user.totp_enabled or user.totp_secret_sealed is None:
            raise MfaState("Start enrolment with POST /v1/me/mfa/totp first.")
        step = totp_matching_step(_secret_of(identity, user), code.strip(), after_step=None)
        if step is None:
            raise InvalidMfaCode("The code does not match; check the device's clock.")
        user.totp_enabled, user.totp_last_step, user.updated_at = True, step, clock.now()
        codes = await _replace_backup_codes(uow, identity, user=user)
        await audit_record(
            uow, ctx=ctx, action="mfa.totp_enabled", object_type="user", object_id=user.id
        )
    return BackupCodes(backup_codes=codes)


async def totp_disable(db: Database, identity: Identity, *, ctx: Context) -> None:
    """Turn TOTP off and drop the backup codes (needs recent re-authentication)."""
    async with db.uow(tenant_id=ctx.tenant_id) as uow:
        await require_recent_auth(uow, identity, ctx=ctx)
        user = await user_for_update(uow, ctx)
        if not user.totp_enabled:
            raise MfaState("TOTP is not on.")
        user.totp_enabled, user.totp_secret_sealed, user.totp_last_step = False, None, None
        user.updated_at = clock.now()
        await _backup_codes_drop(uow, user)
        await audit_record(
            uow, ctx=ctx, action="mfa.totp_disabled", object_type="user", object_id=user.id
        )


async def backup_codes_regenerate(db: Database, identity: Identity, *, ctx: Context) -> BackupCodes:
    """Replace the backup codes (the old ones stop working); needs recent re-authentication."""
    async with db.uow(tenant_id=ctx.tenant_id) as uow:
        await require_recent_auth(uow, identity, ctx=ctx)
        user = await user_for_update(uow, ctx)
        if not user.totp_enabled:
            raise MfaState("Backup codes exist only while TOTP is on.")
        codes = await _replace_backup_codes(uow, identity, user=user)
        await audit_record(
            uow,
            ctx=ctx,
            action="mfa.backup_codes_regenerated",
            object_type="user",
            object_id=user.id,
        )
    return BackupCodes(backup_codes=codes)


async def factors_list(db: Database, identity: Identity, *, ctx: Context) -> list[FactorRead]:
    """The signed-in person's email and SMS factors, enrolled and pending."""
    async with db.uow(tenant_id=ctx.tenant_id) as uow:
        return [factor_read(identity, row) for row in await own_rows(uow, ctx, MfaFactor)]


Owned = TypeVar("Owned", MfaFactor, Passkey)


async def own_rows(uow: UnitOfWork, ctx: Context, model: type[Owned]) -> list[Owned]:
    """The signed-in person's factors or passkeys, oldest first (a handful: never paged)."""
    user = await user_for_update(uow, ctx)
    rows = await uow.session.execute(
        select(model)
        .where(model.tenant_id == user.tenant_id, model.user_id == user.id)
        .order_by(model.created_at, model.id)
    )
    return list(rows.scalars())


async def factor_enroll(
    db: Database, identity: Identity, *, ctx: Context, kind: CodeKind, address: str
) -> FactorRead:
    """Start enrolling an email or SMS factor (needs recent re-authentication): a code goes
    to the address; the factor counts once that code comes back."""
    async with db.uow(tenant_id=ctx.tenant_id) as uow:
        await require_recent_auth(uow, identity, ctx=ctx)
        user = await user_for_update(uow, ctx)
        factor = await factor_enrol_start(
            uow, identity, ctx=ctx, user=user, kind=kind, address=address
        )
        return factor_read(identity, factor)


async def factor_resend(
    db: Database, identity: Identity, *, ctx: Context, factor_id: uuid.UUID
) -> None:
    """Send a fresh code to a factor: to finish enrolment, or for a step-up
    (`POST /v1/me/reauthenticate` with `factor`)."""
    async with db.uow(tenant_id=ctx.tenant_id) as uow:
        user = await user_for_update(uow, ctx)
        factor = (
            await uow.session.execute(
                select(MfaFactor)
                .where(
                    MfaFactor.tenant_id == user.tenant_id,
                    MfaFactor.user_id == user.id,
                    MfaFactor.id == factor_id,
                )
                .with_for_update()
            )
        ).scalar()
        if factor is None:
            raise MfaFactorNotFound("No such second factor of yours.")
        await code_send(uow, identity, factor=factor)


async def factor_confirm(
    db: Database, identity: Identity, *, ctx: Context, factor_id: uuid.UUID, code: str
) -> FactorRead:
    """Finish enrolling a factor with the code sent to it; a wrong code counts as a failed
    second-factor guess of the person."""
    async with db.uow(tenant_id=ctx.tenant_id) as uow:
        user = await user_for_update(uow, ctx)
        subjects = guess_subjects(ctx.tenant_id, user.id, user.email_hash)
    await identity.throttle.login_check(subjects=subjects, ip=ctx_ip(ctx))
    try:
        async with db.uow(tenant_id=ctx.tenant_id) as uow:
            user = await user_for_update(uow, ctx)
            factor = await factor_enrol_confirm(
                uow, identity, ctx=ctx, user=user, factor_id=factor_id, code=code
            )
            return factor_read(identity, factor)
    except InvalidMfaCode:
        await ctx_guess_failed(db, identity, ctx=ctx, subjects=subjects, kind="mfa")
        raise


async def factor_delete(
    db: Database, identity: Identity, *, ctx: Context, factor_id: uuid.UUID
) -> None:
    """Remove one of your factors (needs recent re-authentication)."""
    async with db.uow(tenant_id=ctx.tenant_id) as uow:
        await require_recent_auth(uow, identity, ctx=ctx)
        user = await user_for_update(uow, ctx)
        await factor_remove(uow, ctx=ctx, user=user, factor_id=factor_id)


async def mfa_reset_by_staff(
    db: Database, identity: Identity, *, ctx: Context, user_id: uuid.UUID
) -> None:
    """A staff member resets another person's second factors (they lost their phone and
    their backup codes): TOTP off, backup codes, email/SMS factors and passkeys dropped, every
    session of theirs ended, the person told by email, audited.

    Needs the staff member's own recent re-authentication (a session, not an API key), the
    right to manage the person's role, and never works on oneself.
    """
    if user_id == ctx.actor_id:
        raise PermissionDenied("You cannot reset your own second factors; ask another admin.")
    async with db.uow(tenant_id=ctx.tenant_id) as uow:
        await require_recent_auth(uow, identity, ctx=ctx)
        membership = await membership_get(uow, tenant_id=ctx.tenant_id, user_id=user_id)
        if membership is None:
            raise NotFound("No such user in this tenant.")
        await role_check_grantable(uow, ctx=ctx, role=membership.role)
        user = (
            await uow.session.execute(
                select(User)
                .where(User.tenant_id == ctx.tenant_id, User.id == user_id)
                .with_for_update()
            )
        ).scalar_one()
        had_totp = user.totp_enabled
        user.totp_enabled, user.totp_secret_sealed, user.totp_last_step = False, None, None
        user.updated_at = clock.now()
        await _backup_codes_drop(uow, user)
        dropped = await factors_drop(uow, tenant_id=ctx.tenant_id, user_id=user_id)
        passkeys = await uow.session.execute(
            delete(Passkey)
            .where(Passkey.tenant_id == ctx.tenant_id, Passkey.user_id == user_id)
            .returning(Passkey.id)
        )
        if passkeys.first() is not None:
            dropped.append("passkey")
        ended = await sessions_revoke(
            uow, tenant_id=ctx.tenant_id, user_id=user_id, reason="mfa_reset_by_staff"
        )
        factors = (["totp"] if had_totp else []) + dropped
        await emit(
            uow,
            tenant_id=ctx.tenant_id,
            type=MFA_RESET_EVENT,
            subject=f"user/{user_id}",
            payload={
                "user_id": str(user_id),
                "tenant": (await tenant_get(uow, tenant_id=ctx.tenant_id)).slug,
            },
        )
        await audit_record(
            uow,
            ctx=ctx,
            action="mfa.reset_by_staff",
            object_type="user",
            object_id=user_id,
            details={"factors": factors, "sessions_ended": ended},
        )
