"""Administration routes: the tenant's users and API keys."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Request, status
from starlette.responses import Response

from fiscus.access.context import Context
from fiscus.access.deps import authorized
from fiscus.core.errors import NotFound
from fiscus.core.http import problem_responses
from fiscus.core.idempotency import idempotent, model_response
from fiscus.core.pagination import Cursor, Limit, Page
from fiscus.deps import DatabaseDep, IdempotencyDep
from fiscus.identity import queries, service
from fiscus.identity.api._deps import IdentityDep
from fiscus.identity.schemas import (
    ApiKeyCreate,
    ApiKeyCreated,
    ApiKeyRead,
    UserCreate,
    UserRead,
    UserUpdate,
)

router = APIRouter(prefix="/v1", tags=["users and API keys"])


def _id(value: str, what: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        raise NotFound(f"No such {what}.") from None


@router.get("/users", summary="List the tenant's users", responses=problem_responses(400, 401, 403))
async def users(
    db: DatabaseDep,
    identity: IdentityDep,
    ctx: Annotated[Context, authorized("users:read")],
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Page[UserRead]:
    """Accounts of this tenant with their role and status."""
    data, next_cursor = await queries.users_list(
        db, identity.keyring, ctx=ctx, limit=limit, cursor=cursor
    )
    return Page(data=data, next_cursor=next_cursor)


@router.post(
    "/users",
    summary="Add an account to the tenant",
    status_code=status.HTTP_201_CREATED,
    response_model=UserRead,
    responses=problem_responses(400, 401, 403, 409),
)
async def add_user(
    body: UserCreate,
    request: Request,
    db: DatabaseDep,
    identity: IdentityDep,
    store: IdempotencyDep,
    ctx: Annotated[Context, authorized("users:manage")],
) -> Response:
    """A new account in this tenant, with the password given (accounts are per tenant: an
    address used in another tenant is another account, neither found nor changed here).
    409 `email-in-use` if this tenant already has an account with the address."""

    async def handler() -> Response:
        created = await service.user_add(db, identity.keyring, ctx=ctx, payload=body)
        return model_response(created, status_code=201)

    return await idempotent(
        request, store=store, tenant_id=ctx.tenant_id, required=False, handler=handler
    )


@router.get("/users/{user_id}", summary="One user", responses=problem_responses(401, 403, 404))
async def user(
    user_id: str,
    db: DatabaseDep,
    identity: IdentityDep,
    ctx: Annotated[Context, authorized("users:read")],
) -> UserRead:
    """An account of this tenant."""
    return await queries.user_get(db, identity.keyring, ctx=ctx, user_id=_id(user_id, "user"))


@router.patch(
    "/users/{user_id}",
    summary="Change a user's role or status",
    responses=problem_responses(400, 401, 403, 404),
)
async def update_user(
    user_id: str,
    body: UserUpdate,
    db: DatabaseDep,
    identity: IdentityDep,
    ctx: Annotated[Context, authorized("users:manage")],
) -> UserRead:
    """Disabling ends the user's sessions at once and suspends the API keys they made;
    demoting caps those keys to the new role."""
    return await service.user_update(
        db, identity.keyring, ctx=ctx, user_id=_id(user_id, "user"), payload=body
    )


@router.post(
    "/users/{user_id}/mfa/reset",
    summary="Reset a user's second factors",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problem_responses(401, 403, 404),
)
async def reset_user_mfa(
    user_id: str,
    db: DatabaseDep,
    identity: IdentityDep,
    ctx: Annotated[Context, authorized("users:reset_mfa")],
) -> None:
    """Staff-assisted recovery for a person who lost every factor: TOTP, backup codes and
    email/SMS factors are removed, their sessions end, they are told by email, and it is
    audited. Needs your own re-authentication within 10 minutes (403
    `reauthentication-required`), never works on yourself, and only on a role you could
    grant."""
    await service.mfa_reset_by_staff(db, identity, ctx=ctx, user_id=_id(user_id, "user"))


@router.get("/api-keys", summary="List API keys", responses=problem_responses(400, 401, 403))
async def api_keys(
    db: DatabaseDep,
    ctx: Annotated[Context, authorized("api_keys:manage")],
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Page[ApiKeyRead]:
    """Keys of this tenant, without their secrets, with who made them and their status."""
    data, next_cursor = await queries.api_keys_list(db, ctx=ctx, limit=limit, cursor=cursor)
    return Page(data=data, next_cursor=next_cursor)


@router.post(
    "/api-keys",
    summary="Create an API key",
    status_code=status.HTTP_201_CREATED,
    response_model=ApiKeyCreated,
    responses=problem_responses(400, 401, 403),
)
async def create_api_key(
    body: ApiKeyCreate, db: DatabaseDep, ctx: Annotated[Context, authorized("api_keys:manage")]
) -> Response:
    """The `key` is shown in this response only; send it as `Authorization: Bearer fsk_...`.

    Not replayed through Idempotency-Key: that would store the key in the replay table.
    """
    created = await service.api_key_create(db, ctx=ctx, payload=body)
    return model_response(created, status_code=201)


@router.get("/api-keys/{key_id}", summary="One API key", responses=problem_responses(401, 403, 404))
async def api_key(
    key_id: str, db: DatabaseDep, ctx: Annotated[Context, authorized("api_keys:manage")]
) -> ApiKeyRead:
    """Name, role, prefix and last use of a key."""
    return await queries.api_key_get(db, ctx=ctx, key_id=_id(key_id, "API key"))


@router.delete(
    "/api-keys/{key_id}",
    summary="Revoke an API key",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problem_responses(401, 403, 404),
)
async def revoke_api_key(
    key_id: str, db: DatabaseDep, ctx: Annotated[Context, authorized("api_keys:manage")]
) -> None:
    """The key stops working at once."""
    await service.api_key_revoke(db, ctx=ctx, key_id=_id(key_id, "API key"))
