"""Public authentication routes: login, MFA step, refresh, logout, password reset."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, status

from fiscus.access.context import Context
from fiscus.access.deps import authorized
from fiscus.core.http import problem_responses
from fiscus.deps import DatabaseDep
from fiscus.identity import service
from fiscus.identity.api._deps import ClientDep, IdentityDep
from fiscus.identity.schemas import (
    Accepted,
    LoginRequest,
    MfaChallenge,
    MfaCodeSend,
    MfaPasskeyOptions,
    MfaPasskeyVerify,
    MfaVerifyRequest,
    PasskeyLogin,
    PasskeyLoginOptions,
    PasswordResetConfirm,
    PasswordResetRequest,
    RefreshRequest,
    TokenPair,
)

router = APIRouter(prefix="/v1/auth", tags=["authentication"])


@router.post(
    "/login",
    summary="Log in with tenant, email and password",
    response_model=TokenPair | MfaChallenge,
    responses=problem_responses(400, 401, 429),
)
async def login(
    body: LoginRequest, db: DatabaseDep, identity: IdentityDep, client: ClientDep
) -> TokenPair | MfaChallenge:
    """A token pair, or `{"mfa_required": true, "mfa_token"}` when MFA is on.

    Ten failures in a row on the account, or ten on the email address within 30 minutes in
    any tenant, lock it for 30 minutes (429 `account-locked`, Retry-After); after the
    fifth, each attempt must wait longer (429 `login-throttled`).
    """
    return await service.auth_login(
        db,
        identity,
        tenant_slug=body.tenant,
        email=body.email,
        password=body.password,
        client=client,
    )


@router.post(
    "/mfa/send",
    summary="Second login step: send a code by email or SMS",
    status_code=status.HTTP_202_ACCEPTED,
    responses=problem_responses(400, 401, 404, 429),
)
async def mfa_send(
    body: MfaCodeSend, db: DatabaseDep, identity: IdentityDep, client: ClientDep
) -> Accepted:
    """Sends a 6-digit code (valid 5 minutes, once) to the chosen enrolled factor; then
    send it to `/v1/auth/mfa/verify` with `"factor"`. One code per 30 seconds and five per
    hour per person (429 `mfa-code-resend-throttled`, Retry-After)."""
    await service.auth_mfa_send(
        db, identity, mfa_token=body.mfa_token, factor=body.factor, client=client
    )
    return Accepted()


@router.post(
    "/mfa/verify",
    summary="Second login step: a code of one of your factors",
    responses=problem_responses(400, 401, 422, 429),
)
async def mfa_verify(
    body: MfaVerifyRequest, db: DatabaseDep, identity: IdentityDep, client: ClientDep
) -> TokenPair:
    """Exchange the MFA challenge token and a code for a token pair.

    `factor` names the factor the code is from (`totp`, `backup_code`, `email`, `sms`);
    without it a TOTP or backup code is expected. The first correct code spends the
    challenge. Wrong codes count per challenge (five end it), per emailed or texted code
    (five end it) and towards the account's lockout, as wrong passwords do (429
    `account-locked`).
    """
    return await service.auth_mfa_verify(
        db, identity, mfa_token=body.mfa_token, code=body.code, client=client, factor=body.factor
    )


@router.post(
    "/mfa/passkey/options",
    summary="Second login step: passkey options",
    responses=problem_responses(400, 401),
)
async def mfa_passkey_options(
    body: MfaPasskeyOptions, db: DatabaseDep, identity: IdentityDep
) -> dict[str, Any]:
    """`PublicKeyCredentialRequestOptions` (JSON) listing your passkeys, with a challenge
    that works once within 5 minutes."""
    return await service.auth_mfa_passkey_options(db, identity, mfa_token=body.mfa_token)


@router.post(
    "/mfa/passkey",
    summary="Second login step: a passkey",
    responses=problem_responses(400, 401, 429),
)
async def mfa_passkey(
    body: MfaPasskeyVerify, db: DatabaseDep, identity: IdentityDep, client: ClientDep
) -> TokenPair:
    """The assertion from `navigator.credentials.get()`; a refused one (replayed, wrong
    origin, a signature count that went backwards) is 401 `passkey-invalid` and counts
    towards the account's lockout."""
    return await service.auth_mfa_passkey(
        db, identity, mfa_token=body.mfa_token, credential=body.credential, client=client
    )


@router.post(
    "/passkey/options",
    summary="Passwordless login: passkey options",
    responses=problem_responses(400, 401),
)
async def passkey_options(
    body: PasskeyLoginOptions, db: DatabaseDep, identity: IdentityDep
) -> dict[str, Any]:
    """`PublicKeyCredentialRequestOptions` (JSON) for a discoverable passkey of the tenant."""
    return await service.passkey_login_options(db, identity, tenant_slug=body.tenant)


@router.post(
    "/passkey/login",
    summary="Passwordless login with a passkey",
    responses=problem_responses(400, 401, 429),
)
async def passkey_login(
    body: PasskeyLogin, db: DatabaseDep, identity: IdentityDep, client: ClientDep
) -> TokenPair:
    """A token pair for the passkey's owner in this tenant (a passkey of another tenant is
    never found); 401 `passkey-invalid` when the assertion is refused."""
    return await service.auth_passkey_login(
        db, identity, tenant_slug=body.tenant, credential=body.credential, client=client
    )


@router.post(
    "/refresh",
    summary="Rotate a refresh token for a new token pair",
    responses=problem_responses(400, 401),
)
async def refresh(body: RefreshRequest, db: DatabaseDep, identity: IdentityDep) -> TokenPair:
    """Each refresh token works once; reusing one ends the whole session."""
    return await service.session_refresh(db, identity, refresh_token=body.refresh_token)


@router.post(
    "/logout",
    summary="End the current session",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problem_responses(401, 403),
)
async def logout(db: DatabaseDep, ctx: Annotated[Context, authorized("self:manage")]) -> None:
    """The access and refresh tokens of this session stop working at once."""
    if ctx.session_id is not None:
        await service.session_end(db, ctx=ctx, session_id=ctx.session_id, reason="logout")


@router.post(
    "/password-reset",
    summary="Ask for a password reset email",
    status_code=status.HTTP_202_ACCEPTED,
    responses=problem_responses(400),
)
async def password_reset(
    body: PasswordResetRequest, db: DatabaseDep, identity: IdentityDep, client: ClientDep
) -> Accepted:
    """Always 202: whether the account exists is not revealed."""
    await service.password_reset_request(
        db, identity, tenant_slug=body.tenant, email=body.email, client=client
    )
    return Accepted()


@router.post(
    "/password-reset/confirm",
    summary="Set a new password with the emailed token",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problem_responses(400, 401, 422, 429),
)
async def password_reset_confirm(
    body: PasswordResetConfirm, db: DatabaseDep, identity: IdentityDep, client: ClientDep
) -> None:
    """The token works once within 30 minutes, and only the newest one of the account;
    with MFA on a code is required too, and wrong codes count on the token (five end it)
    and towards the account's lockout (429 while it is locked)."""
    await service.password_reset_confirm(
        db,
        identity,
        token=body.token,
        new_password=body.new_password,
        code=body.code,
        client=client,
    )
