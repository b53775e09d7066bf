"""Routes for the signed-in user: profile, password, MFA, sessions, login history."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, status

from fiscus.access.context import Context
from fiscus.access.deps import authorized
from fiscus.core.errors import NotFound
from fiscus.core.http import problem_responses
from fiscus.core.ids import parse_id
from fiscus.core.pagination import Cursor, Limit, Page
from fiscus.deps import DatabaseDep
from fiscus.identity import queries, service
from fiscus.identity.api._deps import IdentityDep
from fiscus.identity.errors import MfaFactorNotFound
from fiscus.identity.schemas import (
    Accepted,
    BackupCodes,
    EmailChange,
    EmailChangeConfirm,
    FactorConfirm,
    FactorCreate,
    FactorRead,
    LoginEventRead,
    MeRead,
    PasskeyRead,
    PasskeyRegister,
    PasswordChange,
    Reauthenticate,
    SessionRead,
    TotpConfirm,
    TotpEnrolment,
)

router = APIRouter(prefix="/v1/me", tags=["me"])
Reader = Annotated[Context, authorized("self:read")]
Manager = Annotated[Context, authorized("self:manage")]
NO_CONTENT = status.HTTP_204_NO_CONTENT


@router.get("", summary="Who am I", responses=problem_responses(401, 403))
async def me(db: DatabaseDep, identity: IdentityDep, ctx: Reader) -> MeRead:
    """The signed-in user, their role and permissions in this tenant."""
    return await queries.me_get(db, identity.keyring, ctx=ctx)


@router.post(
    "/password",
    summary="Change your password",
    status_code=NO_CONTENT,
    responses=problem_responses(400, 401, 403, 429),
)
async def change_password(
    body: PasswordChange, db: DatabaseDep, identity: IdentityDep, ctx: Manager
) -> None:
    """Needs the current password (wrong ones count towards the lockout); every other
    session and any password-reset link end."""
    await service.password_change(
        db,
        identity,
        ctx=ctx,
        current_password=body.current_password,
        new_password=body.new_password,
    )


@router.post(
    "/email",
    summary="Start changing your email",
    status_code=status.HTTP_202_ACCEPTED,
    responses=problem_responses(400, 401, 403),
)
async def change_email(
    body: EmailChange, db: DatabaseDep, identity: IdentityDep, ctx: Manager
) -> Accepted:
    """Needs a re-authentication within the last 10 minutes. Always 202: a confirmation
    token is mailed to the new address, or, if an account of this tenant already uses it, a
    notice is mailed there instead; nothing changes until `POST /v1/me/email/confirm`."""
    await service.email_change_request(db, identity, ctx=ctx, email=str(body.email))
    return Accepted()


@router.post(
    "/email/confirm",
    summary="Confirm your new email with the mailed token",
    status_code=NO_CONTENT,
    responses=problem_responses(400, 401, 403, 409),
)
async def confirm_email(
    body: EmailChangeConfirm, db: DatabaseDep, identity: IdentityDep, ctx: Manager
) -> None:
    """The token works once, for the account that asked, within an hour; 409
    `email-in-use` if another account took the address meanwhile."""
    await service.email_change_confirm(db, identity, ctx=ctx, token=body.token)


@router.post(
    "/reauthenticate",
    summary="Confirm your password (and MFA) again",
    status_code=NO_CONTENT,
    responses=problem_responses(400, 401, 403, 429),
)
async def reauthenticate(
    body: Reauthenticate, db: DatabaseDep, identity: IdentityDep, ctx: Manager
) -> None:
    """Opens a 10-minute window for changing email or MFA."""
    await service.reauthenticate(
        db,
        identity,
        ctx=ctx,
        password=body.password,
        code=body.code,
        factor=body.factor,
        credential=body.credential,
    )


@router.post(
    "/mfa/totp", summary="Start TOTP enrolment", responses=problem_responses(401, 403, 409)
)
async def totp_start(db: DatabaseDep, identity: IdentityDep, ctx: Manager) -> TotpEnrolment:
    """A new secret with its otpauth URI and QR code (SVG); confirm with a first code."""
    return await service.totp_enroll_start(db, identity, ctx=ctx)


@router.post(
    "/mfa/totp/confirm",
    summary="Confirm TOTP with a first code",
    responses=problem_responses(400, 401, 403, 409, 422),
)
async def totp_confirm(
    body: TotpConfirm, db: DatabaseDep, identity: IdentityDep, ctx: Manager
) -> BackupCodes:
    """Turns MFA on and returns ten single-use backup codes (shown once)."""
    return await service.totp_enroll_confirm(db, identity, ctx=ctx, code=body.code)


@router.delete(
    "/mfa/totp",
    summary="Turn TOTP off",
    status_code=NO_CONTENT,
    responses=problem_responses(401, 403, 409),
)
async def totp_off(db: DatabaseDep, identity: IdentityDep, ctx: Manager) -> None:
    """Needs a recent re-authentication; the backup codes are dropped too."""
    await service.totp_disable(db, identity, ctx=ctx)


@router.post(
    "/mfa/backup-codes",
    summary="Regenerate backup codes",
    responses=problem_responses(401, 403, 409),
)
async def backup_codes(db: DatabaseDep, identity: IdentityDep, ctx: Manager) -> BackupCodes:
    """Ten new codes; the old ones stop working. Needs a recent re-authentication."""
    return await service.backup_codes_regenerate(db, identity, ctx=ctx)


def _factor_id(value: str) -> uuid.UUID:
    parsed = parse_id(value)
    if parsed is None:
        raise MfaFactorNotFound("No such second factor of yours.")
    return parsed


@router.get(
    "/mfa/factors",
    summary="List your email and SMS factors",
    responses=problem_responses(401, 403),
)
async def factors(db: DatabaseDep, identity: IdentityDep, ctx: Reader) -> list[FactorRead]:
    """Enrolled (`active`) and `pending` factors, addresses masked (a person has at most
    one of each kind, so the list is never paged)."""
    return await service.factors_list(db, identity, ctx=ctx)


@router.post(
    "/mfa/factors",
    summary="Enrol an email or SMS factor",
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(400, 401, 403, 409, 429),
)
async def factor_add(
    body: FactorCreate, db: DatabaseDep, identity: IdentityDep, ctx: Manager
) -> FactorRead:
    """Needs a recent re-authentication. A 6-digit code goes to the address (by email or
    SMS); the factor counts once confirmed with it. TOTP stays the recommended factor."""
    return await service.factor_enroll(db, identity, ctx=ctx, kind=body.kind, address=body.address)


@router.post(
    "/mfa/factors/{factor_id}/confirm",
    summary="Confirm a factor with the code sent to it",
    responses=problem_responses(400, 401, 403, 404, 409, 422, 429),
)
async def factor_confirm(
    factor_id: str, body: FactorConfirm, db: DatabaseDep, identity: IdentityDep, ctx: Manager
) -> FactorRead:
    """Wrong codes count on the code (five end it) and towards your lockout."""
    return await service.factor_confirm(
        db, identity, ctx=ctx, factor_id=_factor_id(factor_id), code=body.code
    )


@router.post(
    "/mfa/factors/{factor_id}/code",
    summary="Send a fresh code to a factor",
    status_code=status.HTTP_202_ACCEPTED,
    responses=problem_responses(401, 403, 404, 429),
)
async def factor_code(
    factor_id: str, db: DatabaseDep, identity: IdentityDep, ctx: Manager
) -> Accepted:
    """For enrolment, or for a step-up (`POST /v1/me/reauthenticate` with `factor`); one
    per 30 seconds and five per hour (429 `mfa-code-resend-throttled`)."""
    await service.factor_resend(db, identity, ctx=ctx, factor_id=_factor_id(factor_id))
    return Accepted()


@router.delete(
    "/mfa/factors/{factor_id}",
    summary="Remove an email or SMS factor",
    status_code=NO_CONTENT,
    responses=problem_responses(401, 403, 404),
)
async def factor_remove(
    factor_id: str, db: DatabaseDep, identity: IdentityDep, ctx: Manager
) -> None:
    """Needs a recent re-authentication."""
    await service.factor_delete(db, identity, ctx=ctx, factor_id=_factor_id(factor_id))


@router.post(
    "/passkey-options",
    summary="Start registering a passkey",
    responses=problem_responses(401, 403),
)
async def passkey_options(db: DatabaseDep, identity: IdentityDep, ctx: Manager) -> dict[str, Any]:
    """`PublicKeyCredentialCreationOptions` (JSON) for `navigator.credentials.create()`;
    needs a recent re-authentication; the challenge works once within 5 minutes."""
    return await service.passkey_register_options(db, identity, ctx=ctx)


@router.post(
    "/passkeys",
    summary="Register a passkey",
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(400, 401, 403),
)
async def passkey_add(
    body: PasskeyRegister, db: DatabaseDep, identity: IdentityDep, ctx: Manager
) -> PasskeyRead:
    """The credential from `navigator.credentials.create()`, with a name; 401
    `passkey-invalid` when the attestation is refused (challenge, origin, RP id)."""
    return await service.passkey_register(
        db, identity, ctx=ctx, name=body.name, credential=body.credential
    )


@router.post(
    "/passkey-assertion",
    summary="Passkey options for a step-up",
    responses=problem_responses(401, 403),
)
async def passkey_step_up(db: DatabaseDep, identity: IdentityDep, ctx: Manager) -> dict[str, Any]:
    """`PublicKeyCredentialRequestOptions` (JSON) listing your passkeys; send the assertion
    as `credential` to `POST /v1/me/reauthenticate` with your password."""
    return await service.passkey_step_up_options(db, identity, ctx=ctx)


@router.get("/passkeys", summary="List your passkeys", responses=problem_responses(401, 403))
async def passkeys(db: DatabaseDep, ctx: Reader) -> list[PasskeyRead]:
    """Your passkeys with their names and last use (a handful: never paged)."""
    return await service.passkeys_list(db, ctx=ctx)


@router.delete(
    "/passkeys/{passkey_id}",
    summary="Remove a passkey",
    status_code=NO_CONTENT,
    responses=problem_responses(401, 403, 404),
)
async def passkey_remove(
    passkey_id: str, db: DatabaseDep, identity: IdentityDep, ctx: Manager
) -> None:
    """Needs a recent re-authentication."""
    parsed = parse_id(passkey_id)
    if parsed is None:
        raise NotFound("No such passkey of yours.")
    await service.passkey_delete(db, identity, ctx=ctx, passkey_id=parsed)


@router.get("/sessions", summary="List your sessions", responses=problem_responses(401, 403))
async def sessions(db: DatabaseDep, ctx: Reader) -> list[SessionRead]:
    """Live sessions in this tenant; `current` marks the one making this request."""
    return await queries.sessions_list(db, ctx=ctx)


@router.delete(
    "/sessions",
    summary="End all your other sessions",
    status_code=NO_CONTENT,
    responses=problem_responses(401, 403),
)
async def end_other_sessions(db: DatabaseDep, ctx: Manager) -> None:
    """Every session but the current one ends at once."""
    await service.sessions_end_others(db, ctx=ctx)


@router.delete(
    "/sessions/{session_id}",
    summary="End one of your sessions",
    status_code=NO_CONTENT,
    responses=problem_responses(401, 403, 404),
)
async def end_session(session_id: str, db: DatabaseDep, ctx: Manager) -> None:
    """Its tokens stop working at once."""
    try:
        parsed = uuid.UUID(session_id)
    except ValueError:
        raise NotFound("No such session.") from None
    await service.session_end(db, ctx=ctx, session_id=parsed, reason="revoked_by_user")


@router.get(
    "/login-history", summary="Your login history", responses=problem_responses(400, 401, 403)
)
async def login_history(
    db: DatabaseDep, ctx: Reader, limit: Limit = 50, cursor: Cursor = None
) -> Page[LoginEventRead]:
    """Time, IP, user agent and outcome of each login attempt, newest first."""
    data, next_cursor = await queries.login_history(db, ctx=ctx, limit=limit, cursor=cursor)
    return Page(data=data, next_cursor=next_cursor)
