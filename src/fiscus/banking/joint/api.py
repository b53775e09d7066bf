"""Joint accounts over HTTP: /v1/accounts/{id}/holders, the signing rule, /v1/approvals."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from fiscus.access.context import Context
from fiscus.access.deps import authorized
from fiscus.banking import service
from fiscus.banking.joint.schemas import (
    ApprovalPage,
    ApprovalRead,
    ApprovalStatus,
    HolderCreate,
    HolderPage,
    HolderRead,
    HolderUpdate,
    SignerRead,
    SigningRuleWrite,
)
from fiscus.banking.schemas import AccountRead
from fiscus.core.http import problem_responses
from fiscus.core.idempotency import REPLAYED_HEADER, model_response
from fiscus.core.pagination import Cursor, Limit
from fiscus.deps import DatabaseDep, KeyRingDep, SettingsDep

holders_router = APIRouter(prefix="/v1/accounts", tags=["banking"])
approvals_router = APIRouter(prefix="/v1/approvals", tags=["banking"])
AccountReader = Annotated[Context, authorized("bank_accounts:read")]
AccountManager = Annotated[Context, authorized("bank_accounts:manage")]
Reader = Annotated[Context, authorized("bank_approvals:read")]
Decider = Annotated[Context, authorized("bank_approvals:decide")]


def _holder(holder: service.Holder) -> HolderRead:
    return HolderRead(
        customer_id=holder.customer_id,
        role=holder.role,
        nickname=holder.nickname,
        primary=holder.primary,
        added_at=holder.added_at,
    )


def approval_read(made: service.Approval) -> ApprovalRead:
    """The API view of an approval with its signers."""
    approval = made.approval
    return ApprovalRead(
        id=approval.id,
        account_id=approval.account_id,
        kind=approval.kind,
        status=made.status,
        amount=approval.amount,
        currency=approval.currency,
        request=approval.request,
        requested_by=approval.requested_by,
        signers=[SignerRead.model_validate(s) for s in made.signers],
        result_id=approval.result_id,
        expires_at=approval.expires_at,
        created_at=approval.created_at,
        updated_at=approval.updated_at,
    )


def approval_response(made: service.Approval) -> Response:
    """202 with the approval a money request from an all-sign account opened (or found)."""
    response = model_response(approval_read(made), status_code=202)
    if made.replayed:
        response.headers[REPLAYED_HEADER] = "true"
    return response


@holders_router.get(
    "/{account_id}/holders",
    summary="List an account's holders",
    response_model=HolderPage,
    responses=problem_responses(401, 403, 404),
)
async def list_holders(account_id: uuid.UUID, ctx: AccountReader, db: DatabaseDep) -> HolderPage:
    """The primary holder (the account's customer) first, then the others (at most 10)."""
    holders = await service.holder_list(db, ctx, account_id=account_id)
    return HolderPage(data=[_holder(h) for h in holders])


@holders_router.post(
    "/{account_id}/holders",
    status_code=201,
    summary="Make another customer a holder of an account (a joint account)",
    response_model=HolderRead,
    responses=problem_responses(400, 401, 403, 404, 409, 422),
)
async def add_holder(
    account_id: uuid.UUID, body: HolderCreate, ctx: AccountManager, db: DatabaseDep
) -> Response:
    """`owner` and `co_owner` holders sign (move money), a `viewer` only reads; each holder
    has its own nickname. Closes the account's pending approvals (its signers changed)."""
    holder = await service.holder_add(db, ctx, account_id=account_id, request=body)
    return model_response(_holder(holder), status_code=201)


@holders_router.patch(
    "/{account_id}/holders/{customer_id}",
    summary="Change a holder's role or nickname",
    response_model=HolderRead,
    responses=problem_responses(400, 401, 403, 404, 409),
)
async def update_holder(
    account_id: uuid.UUID,
    customer_id: uuid.UUID,
    body: HolderUpdate,
    ctx: AccountManager,
    db: DatabaseDep,
) -> HolderRead:
    """The primary holder cannot be changed here (`account-holder-primary`)."""
    holder = await service.holder_update(
        db, ctx, account_id=account_id, customer_id=customer_id, request=body
    )
    return _holder(holder)


@holders_router.delete(
    "/{account_id}/holders/{customer_id}",
    status_code=204,
    summary="Remove a holder from an account",
    responses=problem_responses(401, 403, 404, 409),
)
async def remove_holder(
    account_id: uuid.UUID, customer_id: uuid.UUID, ctx: AccountManager, db: DatabaseDep
) -> Response:
    """Its portal users lose access at once; the primary holder cannot be removed
    (`account-holder-primary`)."""
    await service.holder_remove(db, ctx, account_id=account_id, customer_id=customer_id)
    return Response(status_code=204)


@holders_router.put(
    "/{account_id}/signing-rule",
    summary="Set who signs money out of an account: any holder, or all",
    response_model=AccountRead,
    responses=problem_responses(400, 401, 403, 404),
)
async def set_signing_rule(
    account_id: uuid.UUID, body: SigningRuleWrite, ctx: AccountManager, db: DatabaseDep
) -> AccountRead:
    """`all`: a transfer or payment a signing holder asks for waits (202, an approval) for
    every other signing holder's approval. Closes the account's pending approvals."""
    account = await service.account_signing_set(
        db, ctx, account_id=account_id, signing_rule=body.signing_rule
    )
    return AccountRead.model_validate(account)


@approvals_router.get(
    "",
    summary="List approvals of joint-account payments",
    response_model=ApprovalPage,
    responses=problem_responses(400, 401, 403),
)
async def list_approvals(
    ctx: Reader,
    db: DatabaseDep,
    account_id: uuid.UUID | None = None,
    status: Annotated[ApprovalStatus | None, Query()] = None,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> ApprovalPage:
    """Oldest first; a portal user sees those of the accounts it sees. `status` filters on
    the recorded status (a pending one past `expires_at` reads `expired`)."""
    rows, next_cursor = await service.approval_list(
        db, ctx, account_id=account_id, status=status, cursor=cursor, limit=limit
    )
    return ApprovalPage(data=[approval_read(a) for a in rows], next_cursor=next_cursor)


@approvals_router.get(
    "/{approval_id}",
    summary="One approval",
    response_model=ApprovalRead,
    responses=problem_responses(401, 403, 404),
)
async def get_approval(approval_id: uuid.UUID, ctx: Reader, db: DatabaseDep) -> ApprovalRead:
    """With every signing holder's decision so far."""
    return approval_read(await service.approval_get(db, ctx, approval_id=approval_id))


@approvals_router.post(
    "/{approval_id}/approve",
    summary="Approve a joint-account payment (the last approval moves the money)",
    response_model=ApprovalRead,
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def approve(
    approval_id: uuid.UUID,
    request: Request,
    ctx: Decider,
    db: DatabaseDep,
    keyring: KeyRingDep,
    settings: SettingsDep,
) -> ApprovalRead:
    """Signs for the holders the caller owns. When every signing holder approved, the
    transfer or payment is made now, with the checks of a direct one (refusals such as
    `insufficient-funds` or `account-frozen` leave the approval pending). Approving again
    changes nothing; the asker cannot approve (`approval-by-requester`); a rejected one is
    `approval-status-conflict`, an expired one `approval-expired`."""
    rules = service.PaymentRules(
        keyring=keyring,
        threshold=settings.sanctions_match_threshold,
        step_up_window_s=request.app.state.identity.config.reauth_window_s,
    )
    made = await service.approval_approve(db, ctx, approval_id=approval_id, rules=rules)
    return approval_read(made)


@approvals_router.post(
    "/{approval_id}/reject",
    summary="Reject a joint-account payment: nothing moves",
    response_model=ApprovalRead,
    responses=problem_responses(401, 403, 404, 409),
)
async def reject(approval_id: uuid.UUID, ctx: Decider, db: DatabaseDep) -> ApprovalRead:
    """By an owner of a signing holder, or by the asker (withdrawing it). Rejecting again
    changes nothing."""
    return approval_read(await service.approval_reject(db, ctx, approval_id=approval_id))
