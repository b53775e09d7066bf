"""Ledger test factories: a Context with the ledger permissions, accounts, transfers."""

from __future__ import annotations

import uuid
from typing import Any

from fiscus.access.context import Context
from fiscus.core.db import Database
from fiscus.ledger import service
from fiscus.ledger.models import LedgerAccount
from fiscus.ledger.schemas import AccountCreate, TransferCreate
from fiscus.ledger.service import TransferOutcome

LEDGER_PERMISSIONS = frozenset(
    {
        "ledger_accounts:read",
        "ledger_accounts:create",
        "ledger_accounts:manage",
        "transfers:read",
        "transfers:create",
        "transfers:manage",
    }
)


def ledger_context(tenant_id: uuid.UUID | None = None) -> Context:
    """A system actor in a (new) tenant holding every ledger permission."""
    return Context.system(tenant_id or uuid.uuid4(), permissions=LEDGER_PERMISSIONS)


async def open_account(
    db: Database,
    ctx: Context,
    *,
    code: str | None = None,
    currency: str = "EUR",
    normal_side: str = "credit",
    flags: list[str] | None = None,
    overdraft_limit: int | None = None,
    metadata: dict[str, Any] | None = None,
) -> LedgerAccount:
    """An account; `flags=["debits_must_not_exceed_credits"]` makes it a funded wallet."""
    request = AccountCreate.model_validate(
        {
            "code": code or f"acc-{uuid.uuid4().hex[:10]}",
            "name": "Test account",
            "currency": currency,
            "type": "liability" if normal_side == "credit" else "asset",
            "normal_side": normal_side,
            "flags": flags or [],
            "overdraft_limit": overdraft_limit,
            "metadata": metadata or {},
        }
    )
    return await service.account_create(db=db, ctx=ctx, request=request)


async def move(
    db: Database,
    ctx: Context,
    debit: uuid.UUID,
    credit: uuid.UUID,
    amount: int,
    **fields: Any,
) -> TransferOutcome:
    """A two-leg transfer through the service."""
    request = TransferCreate.model_validate(
        {
            "debit_account_id": debit,
            "credit_account_id": credit,
            "amount": amount,
            "currency": fields.pop("currency", "EUR"),
            **fields,
        }
    )
    return await service.transfer_create(db=db, ctx=ctx, request=request)


def two_legs(debit: uuid.UUID, credit: uuid.UUID, amount: int, **fields: Any) -> TransferCreate:
    """A TransferCreate for the batch tests."""
    return TransferCreate.model_validate(
        {
            "debit_account_id": debit,
            "credit_account_id": credit,
            "amount": amount,
            "currency": fields.pop("currency", "EUR"),
            **fields,
        }
    )
