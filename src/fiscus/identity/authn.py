"""The authenticator installed on `app.state.authenticator`: request -> Context.

`Authorization: Bearer <access JWT>` or `Authorization: Bearer fsk_...` (API key); the
query string is never read for credentials. Every request re-checks the server-side
session, so logout, password change and account disable take effect at once; an API key
is re-checked against its creator the same way (capped to their current permissions,
suspended while they are disabled).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from fastapi import Request

from fiscus.access.context import Context
from fiscus.access.errors import TenantNotFound
from fiscus.access.policy import SELF
from fiscus.access.queries import (
    ACCESS_COLUMNS,
    TenantInfo,
    access_joins,
    access_of,
    role_permissions_of,
)
from fiscus.audit.service import audit_record
from fiscus.core import clock
from fiscus.core.db import Database
from fiscus.core.errors import RateLimited
from fiscus.core.http import request_id_var
from fiscus.identity.bearer_failures import bearer_failure_note
from fiscus.identity.crypto import token_hash
from fiscus.identity.errors import ApiKeySuspended, InvalidToken
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


# The whole credential check is one statement, sent with its transaction framing in one
# round trip (a single-statement unit of work): the session or key, its person, their
# membership, the tenant and the custom roles, as plain columns (no ORM entities). The
# checks themselves run below in Python on that one row, on every request, so logout,
# disable, revoke, role and password changes take effect at once (no cache to expire).
# Both statements end with the same columns, read by `_Person.of`: the user, then access's
# columns (the tenant, the membership and its custom role), which access defines.
SESSION_SQL = (
    "SELECT s.id, s.user_id, s.revoked_at, s.expires_at, s.last_seen_at, s.authenticated_at,"  # noqa: S608 - constants only
    f" s.mfa, u.status, u.totp_enabled, u.password_changed_at, {ACCESS_COLUMNS}"
    " FROM auth_sessions s"
    " LEFT JOIN users u ON u.tenant_id = s.tenant_id AND u.id = s.user_id"
    + access_joins(tenant="s.tenant_id", user="s.user_id")
    + " WHERE s.tenant_id = %s AND s.id = %s"
)
API_KEY_SQL = (
    "SELECT k.tenant_id, k.id, k.role, k.created_by, k.revoked_at, k.expires_at,"  # noqa: S608 - constants only
    " k.last_used_at, kr.permissions,"
    f" u.status, u.totp_enabled, u.password_changed_at, {ACCESS_COLUMNS}"
    " FROM api_keys k"
    " LEFT JOIN users u ON u.tenant_id = k.tenant_id AND u.id = k.created_by"
    + access_joins(tenant="k.tenant_id", user="k.created_by")
    + " LEFT JOIN roles kr ON kr.tenant_id = k.tenant_id AND kr.name = k.role"
    + " WHERE k.key_hash = %b"
)
# last_seen_at / last_used_at are written at most once a minute, in their own statement.
SESSION_TOUCH_SQL = (
    "UPDATE auth_sessions SET last_seen_at = %s"
    " WHERE tenant_id = %s AND id = %s AND last_seen_at < %s"
)
API_KEY_TOUCH_SQL = (
    "UPDATE api_keys SET last_used_at = %s WHERE tenant_id = %s AND id = %s"
    " AND (last_used_at IS NULL OR last_used_at < %s)"
)


@dataclass(frozen=True, slots=True)
class _Person:
    """The tenant, and a user with their membership in it, as the credential row gives them."""

    tenant: TenantInfo | None
    user_status: str | None
    totp_enabled: bool
    password_changed_at: datetime | None
    role: str | None
    membership_status: str | None
    permissions: frozenset[str] | None

    @classmethod
    def of(cls, row: tuple[Any, ...]) -> _Person:
        user_status, totp, changed_at = row[:3]
        access = access_of(row[3:])
        return cls(
            tenant=access.tenant,
            user_status=user_status,
            totp_enabled=bool(totp),
            password_changed_at=changed_at,
            role=access.role,
            membership_status=access.status,
            permissions=access.permissions,
        )

    @property
    def active(self) -> bool:
        """The user exists, is active, and is an active member of the tenant."""
        return self.user_status == "active" and self.membership_status == "active"

    def capped(self, *, mfa_done: bool) -> frozenset[str]:
        """What this person may do now (only manage themselves until MFA, if required)."""
        assert self.tenant is not None and self.role is not None
        return _permissions(self.tenant, self.role, self.permissions, mfa_done=mfa_done)


async def _touch(db: Database, sql: str, *, tenant_id: uuid.UUID, id: uuid.UUID) -> None:
    now = clock.now()
    async with db.uow(tenant_id=tenant_id, single_statement=True) as uow:
        await uow.fetch_one(sql, (now, tenant_id, id, now - TOUCH_EVERY))


async def _user_context(
    db: Database, identity: Identity, *, claims: AccessClaims, request: Request
) -> Context:
    config = identity.config
    async with db.uow(tenant_id=claims.tenant_id, single_statement=True) as uow:
        row = await uow.fetch_one(SESSION_SQL, (claims.tenant_id, claims.session_id))
    now = clock.now()
    if row is None:
        raise InvalidToken("The session has ended; log in again.")
    session_id, user_id, revoked_at, expires_at, last_seen_at, authenticated_at, mfa = row[:7]
    person = _Person.of(row[7:])
    if user_id != claims.user_id or revoked_at is not None or expires_at <= now:
        raise InvalidToken("The session has ended; log in again.")
    if now - last_seen_at > timedelta(seconds=config.session_idle_timeout_s):
        raise InvalidToken("The session timed out; log in again.")
    if (
        person.tenant is None
        or person.role is None
        or not person.active
        or person.password_changed_at is None
        or authenticated_at < person.password_changed_at
    ):
        raise InvalidToken("The session has ended; log in again.")
    tenant = person.tenant
    if tenant.status != "active":
        raise InvalidToken("The tenant is suspended.")
    if now - last_seen_at > TOUCH_EVERY:
        await _touch(db, SESSION_TOUCH_SQL, tenant_id=tenant.id, id=session_id)
    request.state.fiscus_plan = tenant.settings.plan
    return Context(
        tenant_id=tenant.id,
        actor_type="user",
        actor_id=user_id,
        role=person.role,
        permissions=person.capped(mfa_done=mfa or person.totp_enabled),
        request_id=request_id_var.get(),
        client_ip=_client_ip(request),
        user_agent=request.headers.get("user-agent"),
        session_id=session_id,
    )


async def _api_key_context(db: Database, *, token: str, request: Request) -> Context:
    # Keys are found by their hash across tenants, so this statement runs as the login role.
    async with db.uow(single_statement=True) as lookup:
        row = await lookup.fetch_one(API_KEY_SQL, (token_hash(token),))
    now = clock.now()
    if row is None:
        raise InvalidToken("The API key is not valid.")
    _, key_id, role, created_by, revoked_at, expires_at, last_used_at, stored = row[:8]
    if revoked_at is not None or (expires_at is not None and expires_at <= now):
        raise InvalidToken("The API key is not valid.")
    person = _Person.of(row[8:])
    if person.tenant is None:
        raise TenantNotFound("No such tenant.")
    tenant = person.tenant
    granted = role_permissions_of(role, stored) or frozenset()
    if created_by is not None:
        # Capped to what its creator may do now; suspended while the creator is disabled or
        # no longer a member (so a suspended key cannot mint keys).
        if person.role is None or not person.active:
            raise ApiKeySuspended(
                "The API key is suspended: the person who made it is disabled or no longer a "
                "member of the tenant."
            )
        granted &= person.capped(mfa_done=person.totp_enabled)
    # Otherwise made before keys recorded their creator, by a key whose creator was not found
    # in the audit trail (migration 0108): there is no person to cap it by.
    if tenant.status != "active":
        raise InvalidToken("The tenant is suspended.")
    if last_used_at is None or now - last_used_at > TOUCH_EVERY:
        await _touch(db, API_KEY_TOUCH_SQL, tenant_id=tenant.id, id=key_id)
    request.state.fiscus_plan = tenant.settings.plan
    return Context(
        tenant_id=tenant.id,
        actor_type="api_key",
        actor_id=None,
        role=role,
        permissions=granted,
        request_id=request_id_var.get(),
        client_ip=_client_ip(request),
        user_agent=request.headers.get("user-agent"),
        api_key_id=key_id,
    )


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
            ctx = await _user_context(db, identity, claims=claims, request=request)
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
