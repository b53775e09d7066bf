"""Log-in: the password step with throttling and lockout, the MFA step, login history.

The MFA step is a server-side challenge (`mfa_challenges`): an opaque token that the first
successful code spends, in the same transaction that opens the session, so one challenge
never opens two sessions. Wrong codes count on the challenge (it dies after a few) and on
the account and address like wrong passwords, but separately: a correct password never
wipes the count of wrong codes.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, insert, select, update

from fiscus.access.queries import TenantInfo, membership_get, tenant_by_slug, tenant_get
from fiscus.core import clock
from fiscus.core.db import Database, UnitOfWork
from fiscus.core.errors import DomainError
from fiscus.core.ids import new_id
from fiscus.identity import sealed
from fiscus.identity.crypto import new_token, token_hash
from fiscus.identity.errors import (
    InvalidCredentials,
    InvalidMfaCode,
    InvalidToken,
    MfaFactorNotFound,
    PasswordHashingBusy,
)
from fiscus.identity.models import MfaChallenge, MfaFactor, User
from fiscus.identity.passwords import (
    password_hash_pooled,
    password_needs_rehash,
    password_verify_pooled,
)
from fiscus.identity.runtime import Identity
from fiscus.identity.schemas import MfaChallenge as MfaChallengeRead
from fiscus.identity.schemas import TokenPair
from fiscus.identity.service._factors import code_send, factors_offered
from fiscus.identity.service._guard import (
    Client,
    guess_failed,
    guess_subjects,
    login_event_record,
)
from fiscus.identity.service._mfa import mfa_code_accept
from fiscus.identity.service._one_time import one_time_attempt_failed, one_time_claim
from fiscus.identity.service._passkeys import (
    passkey_assertion_check,
    passkey_assertion_options,
    passkey_login_person,
)
from fiscus.identity.service._sessions import session_open
from fiscus.identity.throttle import account_subject

_REFUSED = "The tenant, email or password is wrong."
MFA_PREFIX = "fsm_"


async def _throttled(
    db: Database,
    identity: Identity,
    *,
    tenant_id: uuid.UUID,
    subjects: list[str],
    user_id: uuid.UUID | None,
    client: Client,
) -> None:
    try:
        await identity.throttle.login_check(subjects=subjects, ip=client.ip)
    except DomainError as error:
        async with db.uow(tenant_id=tenant_id) as uow:
            await login_event_record(
                uow,
                tenant_id=tenant_id,
                user_id=user_id,
                client=client,
                outcome="throttled",
                reason=error.type_slug,
            )
        raise


async def account_find(db: Database, *, tenant_id: uuid.UUID, email_hash: bytes) -> User | None:
    """The tenant's active account with this address (and an active membership), or None."""
    async with db.uow(tenant_id=tenant_id) as uow:
        user = (
            await uow.session.execute(
                select(User).where(User.tenant_id == tenant_id, User.email_hash == email_hash)
            )
        ).scalar()
        if user is None:
            return None
        membership = await membership_get(uow, tenant_id=tenant_id, user_id=user.id)
        if membership is None or membership.status != "active" or user.status != "active":
            return None
        return user


async def auth_login(
    db: Database,
    identity: Identity,
    *,
    tenant_slug: str,
    email: str,
    password: str,
    client: Client,
) -> TokenPair | MfaChallengeRead:
    """Check a password login; a token pair, or an MFA challenge when MFA is on."""
    async with db.uow() as uow:
        tenant = await tenant_by_slug(uow, slug=tenant_slug.strip().lower())
    if tenant is None or tenant.status != "active":
        await password_verify_pooled(None, password)  # same time as a real check
        raise InvalidCredentials(_REFUSED)
    digest = sealed.email_hash(identity.keyring, email)
    user = await account_find(db, tenant_id=tenant.id, email_hash=digest)
    user_id = user.id if user is not None else None
    subjects = guess_subjects(tenant.id, user_id, digest)
    await _throttled(
        db, identity, tenant_id=tenant.id, subjects=subjects, user_id=user_id, client=client
    )
    ok = await password_verify_pooled(user.password_hash if user else None, password)
    if user is None or not ok:
        async with db.uow(tenant_id=tenant.id) as uow:
            await login_event_record(
                uow,
                tenant_id=tenant.id,
                user_id=user_id,
                client=client,
                outcome="failure",
                reason="unknown_account" if user is None else "bad_password",
            )
        await guess_failed(
            db,
            identity,
            tenant_id=tenant.id,
            user_id=user_id,
            subjects=subjects,
            client=client,
            kind="password",
        )
        raise InvalidCredentials(_REFUSED)
    await identity.throttle.login_succeeded(
        subject=account_subject(tenant.id, user.id), kind="password"
    )
    rehashed = await _rehash(user.password_hash, password)
    async with db.uow(tenant_id=tenant.id) as uow:
        offered = await factors_offered(uow, user)
    if offered:
        return await _challenge_issue(
            db,
            identity,
            tenant_id=tenant.id,
            user=user,
            client=client,
            rehashed=rehashed,
            factors=offered,
        )
    async with db.uow(tenant_id=tenant.id) as uow:
        await _rehash_store(uow, user=user, rehashed=rehashed)
        return await _session_start(
            uow, identity, tenant=tenant, user_id=user.id, mfa=False, client=client
        )


async def _rehash(stored_hash: str, password: str) -> str | None:
    """A new hash of a just-verified password when the stored one was made with other
    argon2id parameters than the configured ones (made before the transaction opens)."""
    if not password_needs_rehash(stored_hash):
        return None
    try:
        return await password_hash_pooled(password)
    except PasswordHashingBusy:
        return None  # the log-in succeeded; the next one replaces the hash


async def _rehash_store(uow: UnitOfWork, *, user: User, rehashed: str | None) -> None:
    """Replace the hash, unless the password changed meanwhile (then the new one stays).
    `password_changed_at` is untouched: the password is the same, so no session ends."""
    if rehashed is None:
        return
    await uow.session.execute(
        update(User)
        .where(
            User.tenant_id == user.tenant_id,
            User.id == user.id,
            User.password_hash == user.password_hash,
        )
        .values(password_hash=rehashed)
    )


async def _challenge_issue(
    db: Database,
    identity: Identity,
    *,
    tenant_id: uuid.UUID,
    user: User,
    client: Client,
    rehashed: str | None,
    factors: list[str],
) -> MfaChallengeRead:
    token = new_token(MFA_PREFIX)
    now = clock.now()
    ttl_s = identity.config.mfa_token_ttl_s
    async with db.uow(tenant_id=tenant_id) as uow:
        await _rehash_store(uow, user=user, rehashed=rehashed)
        # Expired challenges of this account are of no further use.
        await uow.session.execute(
            delete(MfaChallenge).where(
                MfaChallenge.tenant_id == tenant_id,
                MfaChallenge.user_id == user.id,
                MfaChallenge.expires_at <= now,
            )
        )
        await uow.session.execute(
            insert(MfaChallenge).values(
                tenant_id=tenant_id,
                id=new_id(),
                user_id=user.id,
                token_hash=token_hash(token),
                created_at=now,
                expires_at=now + timedelta(seconds=ttl_s),
                attempts=0,
            )
        )
        await login_event_record(
            uow, tenant_id=tenant_id, user_id=user.id, client=client, outcome="mfa_required"
        )
    return MfaChallengeRead(
        mfa_token=token,
        expires_in=ttl_s,
        factors=factors,
    )


async def _session_start(
    uow: UnitOfWork,
    identity: Identity,
    *,
    tenant: TenantInfo,
    user_id: uuid.UUID,
    mfa: bool,
    client: Client,
) -> TokenPair:
    pair, _ = await session_open(
        uow,
        identity,
        tenant_id=tenant.id,
        user_id=user_id,
        mfa=mfa,
        ip=client.ip,
        user_agent=client.user_agent,
        max_sessions=tenant.settings.max_sessions_per_user,
    )
    await login_event_record(
        uow, tenant_id=tenant.id, user_id=user_id, client=client, outcome="success"
    )
    return pair


async def _challenge_lookup(db: Database, token: str) -> tuple[uuid.UUID, uuid.UUID, bytes]:
    """(tenant, user, the user's email hash) of a challenge token, before the tenant is known."""
    if not token.startswith(MFA_PREFIX):
        raise InvalidToken("The MFA challenge is not valid; log in again.")
    async with db.uow() as lookup:
        found = (
            await lookup.session.execute(
                select(MfaChallenge.tenant_id, MfaChallenge.user_id, User.email_hash)
                .join(
                    User,
                    (User.tenant_id == MfaChallenge.tenant_id) & (User.id == MfaChallenge.user_id),
                )
                .where(MfaChallenge.token_hash == token_hash(token))
            )
        ).first()
    if found is None:
        raise InvalidToken("The MFA challenge is not valid; log in again.")
    return found[0], found[1], bytes(found[2])


async def _second_step(
    db: Database, identity: Identity, mfa_token: str, client: Client
) -> tuple[TenantInfo, uuid.UUID, list[str]]:
    """(tenant, person, guess subjects) of a challenge token, refused while throttled."""
    tenant_id, user_id, email_hash = await _challenge_lookup(db, mfa_token)
    async with db.uow() as uow:
        tenant = await tenant_get(uow, tenant_id=tenant_id)
    if tenant.status != "active":
        raise InvalidCredentials(_REFUSED)
    subjects = guess_subjects(tenant_id, user_id, email_hash)
    await _throttled(
        db, identity, tenant_id=tenant_id, subjects=subjects, user_id=user_id, client=client
    )
    return tenant, user_id, subjects


async def auth_mfa_verify(
    db: Database,
    identity: Identity,
    *,
    mfa_token: str,
    code: str,
    client: Client,
    factor: str | None = None,
) -> TokenPair:
    """Second login step: the challenge token and a code of the chosen factor."""
    tenant, user_id, subjects = await _second_step(db, identity, mfa_token, client)
    tenant_id = tenant.id
    try:
        async with db.uow(tenant_id=tenant_id) as uow:
            await _challenge_spend(
                uow, identity, token=mfa_token, user_id=user_id, code=code, factor=factor
            )
            pair = await _session_start(
                uow, identity, tenant=tenant, user_id=user_id, mfa=True, client=client
            )
    except InvalidMfaCode:
        await _challenge_failed(db, identity, tenant_id, user_id, mfa_token, subjects, client)
        raise
    await identity.throttle.login_succeeded(subject=account_subject(tenant_id, user_id), kind="mfa")
    return pair


async def auth_passkey_login(
    db: Database,
    identity: Identity,
    *,
    tenant_slug: str,
    credential: dict[str, Any],
    client: Client,
) -> TokenPair:
    """Passwordless login with a discoverable passkey of the tenant (user verification
    required, so the session counts as multi-factor)."""
    tenant, user_id = await passkey_login_person(
        db, identity, tenant_slug=tenant_slug, credential=credential, client=client
    )
    async with db.uow(tenant_id=tenant.id) as uow:
        return await _session_start(
            uow, identity, tenant=tenant, user_id=user_id, mfa=True, client=client
        )


async def auth_mfa_passkey_options(
    db: Database, identity: Identity, *, mfa_token: str
) -> dict[str, Any]:
    """Passkey options for the second login step (the person's credentials listed)."""
    tenant_id, user_id, _ = await _challenge_lookup(db, mfa_token)
    async with db.uow(tenant_id=tenant_id) as uow:
        await _challenge_live(uow, identity, mfa_token)
    return await passkey_assertion_options(
        db, identity, tenant_id=tenant_id, user_id=user_id, purpose="second_factor"
    )


async def auth_mfa_passkey(
    db: Database,
    identity: Identity,
    *,
    mfa_token: str,
    credential: dict[str, Any],
    client: Client,
) -> TokenPair:
    """Second login step with a passkey of the person: spends the challenge, opens the
    session."""
    tenant, user_id, _ = await _second_step(db, identity, mfa_token, client)
    tenant_id = tenant.id
    await passkey_assertion_check(
        db,
        identity,
        tenant_id=tenant_id,
        user_id=user_id,
        purpose="second_factor",
        credential=credential,
        client=client,
    )
    async with db.uow(tenant_id=tenant_id) as uow:
        await _challenge_spend(
            uow, identity, token=mfa_token, user_id=user_id, code="", factor="passkey"
        )
        pair = await _session_start(
            uow, identity, tenant=tenant, user_id=user_id, mfa=True, client=client
        )
    await identity.throttle.login_succeeded(subject=account_subject(tenant_id, user_id), kind="mfa")
    return pair


async def _challenge_live(uow: UnitOfWork, identity: Identity, token: str) -> MfaChallenge:
    """The live challenge of `token`, locked (InvalidToken if used, expired or spent)."""
    return await one_time_claim(
        uow,
        MfaChallenge,
        token=token,
        max_attempts=identity.config.mfa_challenge_max_attempts,
        refused="The MFA challenge was used or has expired; log in again.",
    )


async def _challenge_spend(
    uow: UnitOfWork,
    identity: Identity,
    *,
    token: str,
    user_id: uuid.UUID,
    code: str,
    factor: str | None,
) -> None:
    """Check the challenge (row locked: concurrent codes on one challenge are serialised)
    and the code; mark the challenge used."""
    challenge = await _challenge_live(uow, identity, token)
    user = (
        await uow.session.execute(
            select(User)
            .where(User.tenant_id == challenge.tenant_id, User.id == user_id)
            .with_for_update()
        )
    ).scalar()
    membership = await membership_get(uow, tenant_id=challenge.tenant_id, user_id=user_id)
    if (
        user is None
        or user.status != "active"
        or membership is None
        or membership.status != "active"
        or not await factors_offered(uow, user)
    ):
        raise InvalidCredentials(_REFUSED)
    if factor != "passkey":  # a passkey's assertion was verified by the caller
        await mfa_code_accept(uow, identity, user=user, code=code, factor=factor)
    challenge.used_at = clock.now()


async def auth_mfa_send(
    db: Database, identity: Identity, *, mfa_token: str, factor: str, client: Client
) -> None:
    """Send a code to the email or SMS factor the person chose at the second login step
    (the challenge stays live; sending is throttled per person)."""
    tenant_id, user_id, email_hash = await _challenge_lookup(db, mfa_token)
    subjects = guess_subjects(tenant_id, user_id, email_hash)
    await _throttled(
        db, identity, tenant_id=tenant_id, subjects=subjects, user_id=user_id, client=client
    )
    async with db.uow(tenant_id=tenant_id) as uow:
        await _challenge_live(uow, identity, mfa_token)
        found = (
            await uow.session.execute(
                select(MfaFactor)
                .where(
                    MfaFactor.tenant_id == tenant_id,
                    MfaFactor.user_id == user_id,
                    MfaFactor.kind == factor,
                    MfaFactor.verified_at.is_not(None),
                )
                .with_for_update()
            )
        ).scalar()
        if found is None:
            raise MfaFactorNotFound(f"No {factor} factor is enrolled; choose another one.")
        await code_send(uow, identity, factor=found)


async def _challenge_failed(
    db: Database,
    identity: Identity,
    tenant_id: uuid.UUID,
    user_id: uuid.UUID,
    token: str,
    subjects: list[str],
    client: Client,
) -> None:
    async with db.uow(tenant_id=tenant_id) as uow:
        await one_time_attempt_failed(uow, MfaChallenge, token=token)
        await login_event_record(
            uow,
            tenant_id=tenant_id,
            user_id=user_id,
            client=client,
            outcome="failure",
            reason="bad_mfa_code",
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
