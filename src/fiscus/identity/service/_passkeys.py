"""Passkeys (WebAuthn, with py_webauthn): registration, a second factor, passwordless login.

Each ceremony is options -> the authenticator's response -> verification. The options
carry a fresh 32-byte challenge, stored as its SHA-256 (`webauthn_challenges`) for one
purpose, one tenant (and one person, except for passwordless login), living
`webauthn_challenge_ttl_s`; the response's clientDataJSON names the challenge, which is
spent in its own transaction before anything is verified, so a replayed response finds it
used whatever the outcome. The relying-party id and origin come from settings
(FISCUS_WEBAUTHN_RP_ID, FISCUS_WEBAUTHN_ORIGIN, by default FISCUS_PUBLIC_URL's).

Credentials are tenant-scoped: a credential id is looked up in the tenant named by the
login only, so a passkey of tenant A never logs into tenant B. A signature count that
does not grow (a cloned authenticator) is refused and audited
(`auth.passkey_sign_count_regressed`). User verification is required (a passkey is then
possession and a PIN or biometric: both factors). Failed assertions count as failed
second-factor guesses of the person, like wrong codes.
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import timedelta
from typing import Any

from sqlalchemy import insert, select
from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers import (
    base64url_to_bytes,
    options_to_json_dict,
    parse_authenticator_data,
    parse_client_data_json,
)
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import (
    AuthenticatorSelectionCriteria,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from fiscus.access.context import Context
from fiscus.access.queries import TenantInfo, membership_get, tenant_by_slug
from fiscus.audit.service import audit_record
from fiscus.core import clock
from fiscus.core.db import Database, UnitOfWork
from fiscus.core.errors import NotFound
from fiscus.core.ids import new_id
from fiscus.identity import sealed
from fiscus.identity.errors import InvalidCredentials, InvalidPasskey
from fiscus.identity.models import Passkey, User, WebauthnChallenge
from fiscus.identity.runtime import Identity
from fiscus.identity.schemas import PasskeyRead
from fiscus.identity.service._factors import announce_factor
from fiscus.identity.service._guard import (
    Client,
    client_context,
    guess_failed,
    guess_subjects,
    login_event_record,
)
from fiscus.identity.service._mfa import own_rows, require_recent_auth, user_for_update
from fiscus.identity.throttle import account_subject

_REFUSED = "The passkey was not accepted."


def _digest(challenge: bytes) -> bytes:
    return hashlib.sha256(challenge).digest()


async def _challenge_store(
    uow: UnitOfWork,
    identity: Identity,
    *,
    tenant_id: uuid.UUID,
    user_id: uuid.UUID | None,
    purpose: str,
    challenge: bytes,
) -> None:
    now = clock.now()
    await uow.session.execute(
        insert(WebauthnChallenge).values(
            tenant_id=tenant_id,
            id=new_id(),
            user_id=user_id,
            purpose=purpose,
            challenge_hash=_digest(challenge),
            created_at=now,
            expires_at=now + timedelta(seconds=identity.config.webauthn_challenge_ttl_s),
        )
    )


def _challenge_of(credential: dict[str, Any]) -> bytes:
    """The challenge the response's clientDataJSON answers (not yet trusted)."""
    try:
        raw = base64url_to_bytes(str(credential["response"]["clientDataJSON"]))
        return parse_client_data_json(raw).challenge
    except (KeyError, TypeError, ValueError, WebAuthnException):
        raise InvalidPasskey("The response is not a WebAuthn credential.") from None


async def _challenge_spend(
    db: Database,
    *,
    tenant_id: uuid.UUID,
    purpose: str,
    challenge: bytes,
    user_id: uuid.UUID | None,
) -> None:
    """Mark the ceremony's challenge used, committed before any verification: a replayed
    or second response finds it spent (InvalidPasskey)."""
    async with db.uow(tenant_id=tenant_id) as uow:
        row = (
            await uow.session.execute(
                select(WebauthnChallenge)
                .where(
                    WebauthnChallenge.tenant_id == tenant_id,
                    WebauthnChallenge.challenge_hash == _digest(challenge),
                )
                .with_for_update()
            )
        ).scalar()
        if (
            row is None
            or row.purpose != purpose
            or row.user_id != user_id
            or row.used_at is not None
            or row.expires_at <= clock.now()
        ):
            raise InvalidPasskey("The ceremony's challenge was used, has expired or is not yours.")
        row.used_at = clock.now()


def _read(row: Passkey) -> PasskeyRead:
    return PasskeyRead(
        id=str(row.id),
        name=row.name,
        created_at=row.created_at,
        last_used_at=row.last_used_at,
    )


async def passkey_register_options(
    db: Database, identity: Identity, *, ctx: Context
) -> dict[str, Any]:
    """Options for `navigator.credentials.create()` (needs recent re-authentication)."""
    config = identity.config
    async with db.uow(tenant_id=ctx.tenant_id) as uow:
        await require_recent_auth(uow, identity, ctx=ctx)
        user = await user_for_update(uow, ctx)
        existing = (
            await uow.session.execute(
                select(Passkey.credential_id).where(
                    Passkey.tenant_id == user.tenant_id, Passkey.user_id == user.id
                )
            )
        ).scalars()
        email = sealed.unseal(
            identity.keyring,
            sealed.USER_EMAIL,
            tenant_id=user.tenant_id,
            row_id=user.id,
            sealed=user.email_sealed,
        )
        options = generate_registration_options(
            rp_id=config.webauthn_rp_id,
            rp_name=config.webauthn_rp_name,
            user_name=email,
            user_id=user.id.bytes,
            exclude_credentials=[PublicKeyCredentialDescriptor(id=bytes(c)) for c in existing],
            authenticator_selection=AuthenticatorSelectionCriteria(
                resident_key=ResidentKeyRequirement.REQUIRED,
                user_verification=UserVerificationRequirement.REQUIRED,
            ),
            timeout=config.webauthn_challenge_ttl_s * 1000,
        )
        await _challenge_store(
            uow,
            identity,
            tenant_id=user.tenant_id,
            user_id=user.id,
            purpose="register",
            challenge=options.challenge,
        )
    return options_to_json_dict(options)


async def passkey_register(
    db: Database, identity: Identity, *, ctx: Context, name: str, credential: dict[str, Any]
) -> PasskeyRead:
    """Verify the authenticator's attestation and keep the credential under `name`."""
    config = identity.config
    challenge = _challenge_of(credential)
    await _challenge_spend(
        db, tenant_id=ctx.tenant_id, purpose="register", challenge=challenge, user_id=ctx.actor_id
    )
    try:
        verified = verify_registration_response(
            credential=credential,
            expected_challenge=challenge,
            expected_rp_id=config.webauthn_rp_id,
            expected_origin=config.webauthn_origin,
            require_user_verification=True,
        )
    except (WebAuthnException, KeyError, TypeError, ValueError) as error:
        raise InvalidPasskey(f"The passkey was not registered: {error}") from None
    async with db.uow(tenant_id=ctx.tenant_id) as uow:
        user = await user_for_update(uow, ctx)
        taken = (
            await uow.session.execute(
                select(Passkey.id).where(
                    Passkey.tenant_id == user.tenant_id,
                    Passkey.credential_id == verified.credential_id,
                )
            )
        ).scalar()
        if taken is not None:
            raise InvalidPasskey("This passkey is already registered.")
        row = Passkey(
            tenant_id=user.tenant_id,
            id=new_id(),
            user_id=user.id,
            credential_id=verified.credential_id,
            public_key=verified.credential_public_key,
            sign_count=verified.sign_count,
            name=name,
            created_at=clock.now(),
        )
        uow.session.add(row)
        await announce_factor(uow, ctx=ctx, user=user, change="enrolled", kind="passkey")
        return _read(row)


async def passkeys_list(db: Database, *, ctx: Context) -> list[PasskeyRead]:
    """The signed-in person's passkeys (a handful: never paged)."""
    async with db.uow(tenant_id=ctx.tenant_id) as uow:
        return [_read(row) for row in await own_rows(uow, ctx, Passkey)]


async def passkey_delete(
    db: Database, identity: Identity, *, ctx: Context, passkey_id: uuid.UUID
) -> None:
    """Remove one of your passkeys (needs recent re-authentication)."""
    async with db.uow(tenant_id=ctx.tenant_id) as uow:
        await require_recent_auth(uow, identity, ctx=ctx)
        user = await user_for_update(uow, ctx)
        row = (
            await uow.session.execute(
                select(Passkey).where(
                    Passkey.tenant_id == user.tenant_id,
                    Passkey.user_id == user.id,
                    Passkey.id == passkey_id,
                )
            )
        ).scalar()
        if row is None:
            raise NotFound("No such passkey of yours.")
        await uow.session.delete(row)
        await announce_factor(uow, ctx=ctx, user=user, change="removed", kind="passkey")


async def passkey_assertion_options(
    db: Database,
    identity: Identity,
    *,
    tenant_id: uuid.UUID,
    user_id: uuid.UUID | None,
    purpose: str,
) -> dict[str, Any]:
    """Options for `navigator.credentials.get()`: the person's credentials (second factor)
    or none listed (passwordless: the authenticator offers its discoverable ones)."""
    config = identity.config
    async with db.uow(tenant_id=tenant_id) as uow:
        allowed: list[PublicKeyCredentialDescriptor] = []
        if user_id is not None:
            allowed = [
                PublicKeyCredentialDescriptor(id=bytes(c))
                for c in (
                    await uow.session.execute(
                        select(Passkey.credential_id).where(
                            Passkey.tenant_id == tenant_id, Passkey.user_id == user_id
                        )
                    )
                ).scalars()
            ]
        options = generate_authentication_options(
            rp_id=config.webauthn_rp_id,
            allow_credentials=allowed,
            user_verification=UserVerificationRequirement.REQUIRED,
            timeout=config.webauthn_challenge_ttl_s * 1000,
        )
        await _challenge_store(
            uow,
            identity,
            tenant_id=tenant_id,
            user_id=user_id,
            purpose=purpose,
            challenge=options.challenge,
        )
    return options_to_json_dict(options)


async def passkey_assertion_check(
    db: Database,
    identity: Identity,
    *,
    tenant_id: uuid.UUID,
    user_id: uuid.UUID | None,
    purpose: str,
    credential: dict[str, Any],
    client: Client,
) -> uuid.UUID:
    """Verify an assertion of a passkey of the tenant (of `user_id` when given): spends the
    challenge, checks signature, origin, RP id, user verification and the sign count,
    stores the new count; the person's id. Refusals are InvalidPasskey, counted as failed
    second-factor guesses of the credential's owner."""
    challenge = _challenge_of(credential)
    await _challenge_spend(
        db, tenant_id=tenant_id, purpose=purpose, challenge=challenge, user_id=user_id
    )
    try:
        raw_id = base64url_to_bytes(str(credential["rawId"]))
    except (KeyError, ValueError):
        raise InvalidPasskey(_REFUSED) from None
    async with db.uow(tenant_id=tenant_id) as uow:
        row = (
            await uow.session.execute(
                select(Passkey)
                .where(Passkey.tenant_id == tenant_id, Passkey.credential_id == raw_id)
                .with_for_update()
            )
        ).scalar()
        # Failures count against the person logging in (a second factor), else against
        # the credential's owner (passwordless).
        owner = user_id if user_id is not None else (row.user_id if row is not None else None)
        problem = _assertion_problem(identity, row, user_id, challenge, credential)
        if problem is None and row is not None:
            return row.user_id
    await _assertion_refused(
        db, identity, tenant_id=tenant_id, owner=owner, problem=problem, client=client
    )
    raise InvalidPasskey(_REFUSED)


def _assertion_problem(
    identity: Identity,
    row: Passkey | None,
    user_id: uuid.UUID | None,
    challenge: bytes,
    credential: dict[str, Any],
) -> str | None:
    """Why the assertion is refused (None: accepted, and `row` updated)."""
    if row is None or (user_id is not None and row.user_id != user_id):
        return "unknown_credential"
    handle = credential.get("response", {}).get("userHandle")
    if handle and base64url_to_bytes(str(handle)) != row.user_id.bytes:
        return "user_handle_mismatch"
    try:
        data = parse_authenticator_data(
            base64url_to_bytes(str(credential["response"]["authenticatorData"]))
        )
        if (data.sign_count or row.sign_count) and data.sign_count <= row.sign_count:
            return "sign_count_regressed"
        verified = verify_authentication_response(
            credential=credential,
            expected_challenge=challenge,
            expected_rp_id=identity.config.webauthn_rp_id,
            expected_origin=identity.config.webauthn_origin,
            credential_public_key=bytes(row.public_key),
            credential_current_sign_count=row.sign_count,
            require_user_verification=True,
        )
    except (WebAuthnException, KeyError, TypeError, ValueError):
        return "invalid_assertion"
    row.sign_count, row.last_used_at = verified.new_sign_count, clock.now()
    return None


async def _assertion_refused(
    db: Database,
    identity: Identity,
    *,
    tenant_id: uuid.UUID,
    owner: uuid.UUID | None,
    problem: str | None,
    client: Client,
) -> None:
    async with db.uow(tenant_id=tenant_id) as uow:
        await audit_record(
            uow,
            ctx=client_context(tenant_id, owner, client),
            action=(
                "auth.passkey_sign_count_regressed"
                if problem == "sign_count_regressed"
                else "auth.passkey_refused"
            ),
            object_type="user",
            object_id=owner,
            outcome="failure",
            details={"reason": problem},
        )
        email_hash = None
        if owner is not None:
            email_hash = (
                await uow.session.execute(
                    select(User.email_hash).where(User.tenant_id == tenant_id, User.id == owner)
                )
            ).scalar()
    if owner is not None and email_hash is not None:
        await guess_failed(
            db,
            identity,
            tenant_id=tenant_id,
            user_id=owner,
            subjects=guess_subjects(tenant_id, owner, bytes(email_hash)),
            client=client,
            kind="mfa",
        )


async def passkey_step_up_options(
    db: Database, identity: Identity, *, ctx: Context
) -> dict[str, Any]:
    """Options for re-authenticating with one of your passkeys."""
    return await passkey_assertion_options(
        db, identity, tenant_id=ctx.tenant_id, user_id=ctx.actor_id, purpose="second_factor"
    )


async def passkey_login_options(
    db: Database, identity: Identity, *, tenant_slug: str
) -> dict[str, Any]:
    """Passwordless login, step one: options for a discoverable credential of the tenant."""
    tenant = await _active_tenant(db, tenant_slug)
    return await passkey_assertion_options(
        db, identity, tenant_id=tenant.id, user_id=None, purpose="login"
    )


async def _active_tenant(db: Database, slug: str) -> TenantInfo:
    async with db.uow() as uow:
        tenant = await tenant_by_slug(uow, slug=slug.strip().lower())
    if tenant is None or tenant.status != "active":
        raise InvalidCredentials("The tenant or passkey is wrong.")
    return tenant


async def passkey_login_person(
    db: Database,
    identity: Identity,
    *,
    tenant_slug: str,
    credential: dict[str, Any],
    client: Client,
) -> tuple[TenantInfo, uuid.UUID]:
    """Passwordless login, step two: the tenant and the person the assertion proves (an
    active member, not locked out)."""
    tenant = await _active_tenant(db, tenant_slug)
    user_id = await passkey_assertion_check(
        db,
        identity,
        tenant_id=tenant.id,
        user_id=None,
        purpose="login",
        credential=credential,
        client=client,
    )
    async with db.uow(tenant_id=tenant.id) as uow:
        user = (
            await uow.session.execute(
                select(User).where(User.tenant_id == tenant.id, User.id == user_id)
            )
        ).scalar_one()
        membership = await membership_get(uow, tenant_id=tenant.id, user_id=user_id)
        active = (
            user.status == "active" and membership is not None and membership.status == "active"
        )
        if not active:
            await login_event_record(
                uow,
                tenant_id=tenant.id,
                user_id=user_id,
                client=client,
                outcome="failure",
                reason="account_inactive",
            )
    if not active:
        raise InvalidCredentials("The tenant or passkey is wrong.")
    await identity.throttle.login_check(
        subjects=guess_subjects(tenant.id, user_id, bytes(user.email_hash)), ip=client.ip
    )
    await identity.throttle.login_succeeded(subject=account_subject(tenant.id, user_id), kind="mfa")
    return tenant, user_id
