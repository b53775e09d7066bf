"""The authenticator installed on `app.state.authenticator`: request -> Context.

`Authorization: Bearer <access JWT>` or `Authorization: Bearer fsk_...` (API key); the
query string is never read for credentials. Every request re-checks the server-side
session, so logout, password change and account disable take effect at once; an API key
is re-checked against its creator the same way (capped to their current permissions,
suspended while they are disabled).
"""

from __future__ import annotations

from datetime import timedelta

from fastapi import Request
from sqlalchemy import select

from fiscus.access.context import Context
from fiscus.access.policy import SELF
from fiscus.access.queries import (
    TenantInfo,
    role_permissions,
    tenant_and_membership,
    tenant_get,
)
from fiscus.audit.service import audit_record
from fiscus.core import clock
from fiscus.core.db import Database, UnitOfWork
from fiscus.core.errors import RateLimited
from fiscus.core.http import request_id_var
from fiscus.identity.bearer_failures import bearer_failure_note
from fiscus.identity.crypto import token_hash
from fiscus.identity.errors import ApiKeySuspended, InvalidToken
from fiscus.identity.models import ApiKey, AuthSession, User
from fiscus.identity.runtime import Identity
from fiscus.identity.service._api_keys import API_KEY_PREFIX
from fiscus.identity.throttle import Budget
from fiscus.identity.tokens import AccessClaims, access_token_verify

# last_seen_at / last_used_at are written at most this often, not on every request.
TOUCH_EVERY = timedelta(seconds=60)
STATE_CONTEXT = "fiscus_context"
STATE_BUDGET = "fiscus_rate_budget"


def _bearer(request: Request) -> str:
    for value in request.query_params.values():
        if value.startswith(API_KEY_PREFIX):
            raise InvalidToken("API keys are accepted only in the Authorization header.")
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise InvalidToken("Send `Authorization: Bearer <access token or API key>`.")
    return token.strip()


def _client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _permissions(
    tenant: TenantInfo, role: str, granted: frozenset[str] | None, *, mfa_done: bool
) -> frozenset[str]:
    if granted is None:
        return frozenset()
    if role in tenant.settings.mfa_required_roles and not mfa_done:
        # Until this person enrols MFA they may only manage themselves (and so enrol).
        return granted & SELF
    return granted


async def _user_context(
    uow: UnitOfWork, identity: Identity, *, claims: AccessClaims, request: Request
) -> Context:
    config = identity.config
    if claims.tenant_id != uow.tenant_id:
        raise InvalidToken("The token is not valid.")
    # Two round trips for the whole check: the session with its user, the tenant with the
    # membership (each module reads its own tables).
    found = (
        await uow.session.execute(
            select(AuthSession, User)
            .join(
                User, (User.tenant_id == AuthSession.tenant_id) & (User.id == AuthSession.user_id)
            )
            .where(AuthSession.tenant_id == claims.tenant_id, AuthSession.id == claims.session_id)
        )
    ).first()
    now = clock.now()
    if found is None:
        raise InvalidToken("The session has ended; log in again.")
    session, user = found
    if (
        session.user_id != claims.user_id
        or session.revoked_at is not None
        or session.expires_at <= now
    ):
        raise InvalidToken("The session has ended; log in again.")
    if now - session.last_seen_at > timedelta(seconds=config.session_idle_timeout_s):
        raise InvalidToken("The session timed out; log in again.")
    tenant, membership = await tenant_and_membership(
        uow, tenant_id=claims.tenant_id, user_id=claims.user_id
    )
    if (
        membership is None
        or user.status != "active"
        or membership.status != "active"
        or session.authenticated_at < user.password_changed_at
    ):
        raise InvalidToken("The session has ended; log in again.")
    if tenant.status != "active":
        raise InvalidToken("The tenant is suspended.")
    if now - session.last_seen_at > TOUCH_EVERY:
        session.last_seen_at = now
    granted = await role_permissions(uow, tenant_id=tenant.id, role=membership.role)
    request.state.fiscus_plan = tenant.settings.plan
    return Context(
        tenant_id=tenant.id,
        actor_type="user",
        actor_id=user.id,
        role=membership.role,
        permissions=_permissions(
            tenant, membership.role, granted, mfa_done=session.mfa or user.totp_enabled
        ),
        request_id=request_id_var.get(),
        client_ip=_client_ip(request),
        user_agent=request.headers.get("user-agent"),
        session_id=session.id,
    )


async def _api_key_context(db: Database, *, token: str, request: Request) -> Context:
    digest = token_hash(token)
    async with db.uow() as lookup:
        found = (
            await lookup.session.execute(
                select(ApiKey, User)
                .outerjoin(
                    User, (User.tenant_id == ApiKey.tenant_id) & (User.id == ApiKey.created_by)
                )
                .where(ApiKey.key_hash == digest)
            )
        ).first()
        now = clock.now()
        if found is None:
            raise InvalidToken("The API key is not valid.")
        key, creator = found
        if key.revoked_at is not None or (key.expires_at is not None and key.expires_at <= now):
            raise InvalidToken("The API key is not valid.")
        granted = await _key_permissions(lookup, key=key, creator=creator)
        tenant = granted[0]
        if tenant.status != "active":
            raise InvalidToken("The tenant is suspended.")
        if key.last_used_at is None or now - key.last_used_at > TOUCH_EVERY:
            key.last_used_at = now
    request.state.fiscus_plan = tenant.settings.plan
    return Context(
        tenant_id=tenant.id,
        actor_type="api_key",
        actor_id=None,
        role=key.role,
        permissions=granted[1],
        request_id=request_id_var.get(),
        client_ip=_client_ip(request),
        user_agent=request.headers.get("user-agent"),
        api_key_id=key.id,
    )


async def _key_permissions(
    uow: UnitOfWork, *, key: ApiKey, creator: User | None
) -> tuple[TenantInfo, frozenset[str]]:
    """The key's permissions, capped to what its creator may do now; ApiKeySuspended while
    the creator is disabled or no longer a member (so a suspended key cannot mint keys)."""
    granted = await role_permissions(uow, tenant_id=key.tenant_id, role=key.role) or frozenset()
    if key.created_by is None:
        # Made before keys recorded their creator, by a key whose creator was not found in
        # the audit trail (migration 0108): there is no person to cap it by.
        return await tenant_get(uow, tenant_id=key.tenant_id), granted
    tenant, membership = await tenant_and_membership(
        uow, tenant_id=key.tenant_id, user_id=key.created_by
    )
    if (
        creator is None
        or membership is None
        or creator.status != "active"
        or membership.status != "active"
    ):
        raise ApiKeySuspended(
            "The API key is suspended: the person who made it is disabled or no longer a "
            "member of the tenant."
        )
    held = await role_permissions(uow, tenant_id=tenant.id, role=membership.role)
    cap = _permissions(tenant, membership.role, held, mfa_done=creator.totp_enabled)
    return tenant, granted & cap


async def _spend(identity: Identity, request: Request, ctx: Context) -> None:
    plan = getattr(request.state, "fiscus_plan", identity.config.default_plan)
    per_minute, burst = identity.config.plan_budget(plan)
    who = f"k:{ctx.api_key_id}" if ctx.api_key_id else f"u:{ctx.actor_id}"
    budget: Budget = await identity.throttle.spend(
        identity=who, per_minute=per_minute, burst_per_s=burst
    )
    setattr(request.state, STATE_BUDGET, budget)
    if not budget.allowed:
        raise RateLimited(
            "The request budget of your plan is spent; slow down.", retry_after_s=budget.reset_s
        )


async def authenticate(request: Request) -> Context:
    """`app.state.authenticator`: the Context of the request's credentials, or 401."""
    cached = getattr(request.state, STATE_CONTEXT, None)
    if isinstance(cached, Context):
        return cached
    identity: Identity = request.app.state.identity
    db: Database = request.app.state.db
    token = _bearer(request)
    try:
        if token.startswith(API_KEY_PREFIX):
            ctx = await _api_key_context(db, token=token, request=request)
        else:
            config = identity.config
            claims = access_token_verify(
                identity.ring, token, issuer=config.issuer, audience=config.audience
            )  # verified once; its tenant opens the unit of work
            async with db.uow(tenant_id=claims.tenant_id) as uow:
                ctx = await _user_context(uow, identity, claims=claims, request=request)
    except (InvalidToken, ApiKeySuspended) as refused:
        await bearer_failure_note(request, token=token, error=refused)
        raise
    setattr(request.state, STATE_CONTEXT, ctx)
    await _spend(identity, request, ctx)
    return ctx


async def record_denied(request: Request, ctx: Context, permission: str) -> None:
    """`app.state.on_denied`: every refused authorisation goes into the audit trail."""
    db: Database = request.app.state.db
    async with db.uow(tenant_id=ctx.tenant_id) as uow:
        await audit_record(
            uow,
            ctx=ctx,
            action="access.denied",
            object_type="route",
            object_id=f"{request.method} {request.url.path}",
            outcome="denied",
            details={"permission": permission},
        )
