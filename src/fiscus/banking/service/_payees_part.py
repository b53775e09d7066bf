"""Payees: the outside accounts a customer pays, per customer, soft-deleted.

The payee's name is personal data: sealed with the key ring under associated data naming
the column, tenant and payee. IBAN and BIC are checked with schwifty and kept in their
electronic form. A portal owner manages its customers' payees, a viewer reads them, staff
act on every customer of the tenant; another customer's payee answers 404.
"""

from __future__ import annotations

import uuid
from typing import Any

from schwifty import BIC
from schwifty.exceptions import SchwiftyException
from sqlalchemy import select

from fiscus.access.context import Context
from fiscus.audit.service import audit_record
from fiscus.banking._personal import row_text_open, row_text_seal
from fiscus.banking._scope import PAY_ROLES, is_portal, scope_customers
from fiscus.banking.errors import BicInvalid, CustomerNotFound, PayeeNotFound
from fiscus.banking.models import PAYEE_NAME, BankCustomer, BankPayee
from fiscus.banking.schemas import PayeeCreate, PayeeRead
from fiscus.banking.service._transfers_part import iban_normal
from fiscus.core import clock
from fiscus.core.db import Database, UnitOfWork
from fiscus.core.errors import PermissionDenied
from fiscus.core.ids import new_id
from fiscus.core.keyring import KeyRing
from fiscus.core.pagination import keyset_page

PAYEE_CREATED = "banking.payee.created"
PAYEE_DELETED = "banking.payee.deleted"


def bic_normal(value: str, field: str = "bic") -> str:
    """The BIC in upper case, after checking its form and country (schwifty)."""
    try:
        return str(BIC(value.strip().upper()))
    except (SchwiftyException, ValueError) as error:
        raise BicInvalid(f"Not a valid BIC: {error}", field=field) from None


async def customer_acting_check(uow: UnitOfWork, ctx: Context, customer_id: uuid.UUID) -> None:
    """CustomerNotFound unless the caller may see the customer; PermissionDenied unless a
    portal caller owns it (staff act for every customer of the tenant)."""
    stmt = select(BankCustomer.id).where(
        BankCustomer.tenant_id == ctx.tenant_id, BankCustomer.id == customer_id
    )
    if (await uow.session.execute(scope_customers(stmt, BankCustomer.id, ctx))).first() is None:
        raise CustomerNotFound(f"Customer {customer_id} was not found.")
    if is_portal(ctx):
        paying = scope_customers(stmt, BankCustomer.id, ctx, PAY_ROLES)
        if (await uow.session.execute(paying)).first() is None:
            raise PermissionDenied("Only an owner of the customer may do this for it.")


def payee_read(payee: BankPayee, keyring: KeyRing) -> PayeeRead:
    """The API view of a payee, its name opened for this response."""
    name = row_text_open(
        keyring, PAYEE_NAME, payee.name_sealed, tenant_id=payee.tenant_id, row_id=payee.id
    )
    return PayeeRead(
        id=payee.id,
        customer_id=payee.customer_id,
        name=name,
        iban=payee.iban,
        bic=payee.bic,
        nickname=payee.nickname,
        first_paid_at=payee.first_paid_at,
        created_at=payee.created_at,
    )


async def payee_create(
    db: Database, ctx: Context, *, keyring: KeyRing, request: PayeeCreate
) -> BankPayee:
    """Add a payee to a customer (a portal caller: a customer it owns)."""
    iban = iban_normal(request.iban, field="iban")
    bic = bic_normal(request.bic) if request.bic is not None else None
    payee_id = new_id()
    payee = BankPayee(
        tenant_id=ctx.tenant_id,
        id=payee_id,
        customer_id=request.customer_id,
        name_sealed=row_text_seal(
            keyring, PAYEE_NAME, request.name, tenant_id=ctx.tenant_id, row_id=payee_id
        ),
        iban=iban,
        bic=bic,
        nickname=request.nickname,
        created_by=ctx.actor_id,
        created_at=clock.now(),
    )
    async with db.uow(tenant_id=ctx.tenant_id) as uow:
        await customer_acting_check(uow, ctx, request.customer_id)
        uow.session.add(payee)
        await uow.session.flush()
        # The name stays out of the audit trail: it is personal data.
        await audit_record(
            uow,
            ctx=ctx,
            action=PAYEE_CREATED,
            object_type="bank_payee",
            object_id=payee.id,
            after={"customer_id": str(payee.customer_id), "iban": iban, "bic": bic},
        )
    return payee


def _visible(ctx: Context) -> Any:
    stmt = select(BankPayee).where(
        BankPayee.tenant_id == ctx.tenant_id, BankPayee.deleted_at.is_(None)
    )
    return scope_customers(stmt, BankPayee.customer_id, ctx)


async def payee_find(uow: UnitOfWork, ctx: Context, payee_id: uuid.UUID) -> BankPayee:
    """A live payee the caller may see, or PayeeNotFound (inside the caller's unit of work)."""
    stmt = _visible(ctx).where(BankPayee.id == payee_id)
    payee: BankPayee | None = (await uow.session.execute(stmt)).scalar_one_or_none()
    if payee is None:
        raise PayeeNotFound(f"Payee {payee_id} was not found.")
    return payee


async def payee_get(db: Database, ctx: Context, *, payee_id: uuid.UUID) -> BankPayee:
    """One live payee the caller may see, or PayeeNotFound."""
    async with db.uow(tenant_id=ctx.tenant_id) as uow:
        return await payee_find(uow, ctx, payee_id)


async def payee_list(
    db: Database, ctx: Context, *, customer_id: uuid.UUID | None, cursor: str | None, limit: int
) -> tuple[list[BankPayee], str | None]:
    """The live payees the caller may see, oldest first, optionally of one customer."""
    stmt = _visible(ctx)
    if customer_id is not None:
        stmt = stmt.where(BankPayee.customer_id == customer_id)
    async with db.uow(tenant_id=ctx.tenant_id) as uow:
        rows: list[BankPayee]
        rows, next_cursor = await keyset_page(
            uow.session,
            stmt,
            keys=[BankPayee.__table__.c.id],
            cursor=cursor,
            limit=limit,
            key_of=lambda p: [str(p.id)],
        )
    return rows, next_cursor


async def payee_delete(db: Database, ctx: Context, *, payee_id: uuid.UUID) -> None:
    """Delete a payee (kept for the payments that name it; no longer listed or payable)."""
    async with db.uow(tenant_id=ctx.tenant_id) as uow:
        payee = await payee_find(uow, ctx, payee_id)
        await customer_acting_check(uow, ctx, payee.customer_id)
        payee.deleted_at = clock.now()
        await uow.session.flush()
        await audit_record(
            uow,
            ctx=ctx,
            action=PAYEE_DELETED,
            object_type="bank_payee",
            object_id=payee.id,
            before={"customer_id": str(payee.customer_id), "iban": payee.iban},
        )
