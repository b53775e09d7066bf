"""Banking reads: customers (opened for the response), products, accounts, transfers.

Every read of a customer's object goes through `_scope.scope_customers`: a portal user sees
only the customers they are linked to, and their accounts and transfers.
"""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from fiscus.banking._personal import email_hash, notes_open, personal_open, phone_hash, tax_id_hash
from fiscus.banking._scope import (
    ACCOUNT_VISIBLE_SQL,
    is_portal,
    linked_customers,
    scope_accounts,
    scope_customers,
)
from fiscus.banking.errors import (
    BankAccountNotFound,
    BankTransferNotFound,
    CustomerNotFound,
    ProductNotFound,
    StandingOrderNotFound,
)
from fiscus.banking.joint.models import BankAccountHolder
from fiscus.banking.models import (
    BankAccount,
    BankCustomer,
    BankCustomerUser,
    BankLimit,
    BankProduct,
    BankSettings,
    BankStandingOrder,
    BankStandingOrderExecution,
    BankTransfer,
)
from fiscus.banking.schemas import Address, CustomerRead, KycRead
from fiscus.core.context import Context
from fiscus.core.db import Database
from fiscus.core.keyring import KeyRing
from fiscus.core.pagination import keyset_page

# Without settings of its own, a tenant's IBANs are German with this bank code (a test
# code: a production tenant sets its own with PUT /v1/banking/settings).
DEFAULT_IBAN_COUNTRY = "DE"
DEFAULT_BANK_CODE = "99999999"


def customer_read(customer: BankCustomer, keyring: KeyRing) -> CustomerRead:
    """The API view of a customer: the sealed personal data opened for this response."""
    personal = personal_open(
        keyring, customer.personal_sealed, tenant_id=customer.tenant_id, customer_id=customer.id
    )
    notes = notes_open(
        keyring, customer.kyc_notes_sealed, tenant_id=customer.tenant_id, customer_id=customer.id
    )
    return CustomerRead(
        id=customer.id,
        kind=customer.kind,
        name=personal.name,
        email=personal.email,
        phone=personal.phone,
        birth_date=personal.birth(),
        registration_number=personal.registration_number,
        tax_id=personal.tax_id,
        tax_residence=customer.tax_residence,
        address=Address.model_validate(personal.address) if personal.address else None,
        kyc=KycRead(
            status=customer.kyc_status,
            reviewed_by=customer.kyc_reviewed_by,
            reviewed_at=customer.kyc_reviewed_at,
            notes=notes,
        ),
        risk_rating=customer.risk_rating,
        created_at=customer.created_at,
        updated_at=customer.updated_at,
    )


_CUSTOMER_COLUMNS = (
    "tenant_id, id, kind, personal_sealed, email_hash, phone_hash, tax_id_hash, tax_residence,"
    " kyc_status, kyc_reviewed_by, kyc_reviewed_at, kyc_notes_sealed, risk_rating, created_at,"
    " updated_at"
)
assert set(_CUSTOMER_COLUMNS.split(", ")) == set(BankCustomer.__table__.columns.keys())
_CUSTOMER_SQL = (
    "SELECT tenant_id, id, kind, personal_sealed, email_hash, phone_hash, tax_id_hash,"
    " tax_residence, kyc_status, kyc_reviewed_by, kyc_reviewed_at, kyc_notes_sealed,"
    " risk_rating, created_at, updated_at FROM banking_customers x"
    " WHERE x.tenant_id = %s AND x.id = %s"
    # Staff see every customer; a portal user those it is linked to.
    " AND (NOT %s OR EXISTS (SELECT 1 FROM banking_customer_users u"
    " WHERE u.tenant_id = x.tenant_id AND u.customer_id = x.id AND u.user_id = %s))"
)


async def customer_get(db: Database, ctx: Context, *, customer_id: uuid.UUID) -> BankCustomer:
    """One customer the caller may see, or CustomerNotFound; one round trip."""
    params = (ctx.tenant_id, customer_id, is_portal(ctx), ctx.actor_id)
    async with db.uow(tenant_id=ctx.tenant_id, single_statement=True) as uow:
        row = await uow.fetch_one(_CUSTOMER_SQL, params)
    if row is None:
        raise CustomerNotFound(f"Customer {customer_id} was not found.")
    return BankCustomer(**dict(zip(_CUSTOMER_COLUMNS.split(", "), row, strict=True)))


async def customer_list(
    db: Database,
    ctx: Context,
    *,
    keyring: KeyRing,
    email: str | None,
    phone: str | None,
    tax_id: str | None,
    cursor: str | None,
    limit: int,
) -> tuple[list[BankCustomer], str | None]:
    """The customers the caller may see, oldest first; `email`, `phone` and `tax_id`
    (already normalised) are exact matches through their blind indexes."""
    stmt = select(BankCustomer).where(BankCustomer.tenant_id == ctx.tenant_id)
    if email is not None:
        stmt = stmt.where(BankCustomer.email_hash == email_hash(keyring, email))
    if phone is not None:
        stmt = stmt.where(BankCustomer.phone_hash == phone_hash(keyring, phone))
    if tax_id is not None:
        stmt = stmt.where(BankCustomer.tax_id_hash == tax_id_hash(keyring, tax_id))
    async with db.uow(tenant_id=ctx.tenant_id) as uow:
        rows: list[BankCustomer]
        rows, next_cursor = await keyset_page(
            uow.session,
            scope_customers(stmt, BankCustomer.id, ctx),
            keys=[BankCustomer.__table__.c.id],
            cursor=cursor,
            limit=limit,
            key_of=lambda c: [str(c.id)],
        )
    return rows, next_cursor


async def customer_users_list(
    db: Database, ctx: Context, *, customer_id: uuid.UUID
) -> list[BankCustomerUser]:
    """The portal users of a customer (at most a few per customer)."""
    async with db.uow(tenant_id=ctx.tenant_id) as uow:
        found = (
            await uow.session.execute(
                select(BankCustomer.id).where(
                    BankCustomer.tenant_id == ctx.tenant_id, BankCustomer.id == customer_id
                )
            )
        ).first()
        if found is None:
            raise CustomerNotFound(f"Customer {customer_id} was not found.")
        rows = (
            await uow.session.execute(
                select(BankCustomerUser)
                .where(
                    BankCustomerUser.tenant_id == ctx.tenant_id,
                    BankCustomerUser.customer_id == customer_id,
                )
                .order_by(BankCustomerUser.created_at)
                .limit(200)
            )
        ).scalars()
        return list(rows)


async def limits_list(db: Database, ctx: Context, *, customer_id: uuid.UUID) -> list[BankLimit]:
    """A customer's outgoing limits (a portal user sees their own customers' limits)."""
    async with db.uow(tenant_id=ctx.tenant_id) as uow:
        stmt = select(BankCustomer.id).where(
            BankCustomer.tenant_id == ctx.tenant_id, BankCustomer.id == customer_id
        )
        if (await uow.session.execute(scope_customers(stmt, BankCustomer.id, ctx))).first() is None:
            raise CustomerNotFound(f"Customer {customer_id} was not found.")
        rows = (
            await uow.session.execute(
                select(BankLimit)
                .where(BankLimit.tenant_id == ctx.tenant_id, BankLimit.customer_id == customer_id)
                .order_by(BankLimit.channel, BankLimit.currency)
            )
        ).scalars()
        return list(rows)


async def product_get(db: Database, ctx: Context, *, product_id: uuid.UUID) -> BankProduct:
    """One product of the tenant, or ProductNotFound."""
    async with db.uow(tenant_id=ctx.tenant_id) as uow:
        product = await uow.session.get(BankProduct, (ctx.tenant_id, product_id))
    if product is None:
        raise ProductNotFound(f"Product {product_id} was not found.")
    return product


async def product_list(
    db: Database, ctx: Context, *, cursor: str | None, limit: int
) -> tuple[list[BankProduct], str | None]:
    """The tenant's products, oldest first."""
    async with db.uow(tenant_id=ctx.tenant_id) as uow:
        rows: list[BankProduct]
        rows, next_cursor = await keyset_page(
            uow.session,
            select(BankProduct).where(BankProduct.tenant_id == ctx.tenant_id),
            keys=[BankProduct.__table__.c.id],
            cursor=cursor,
            limit=limit,
            key_of=lambda p: [str(p.id)],
        )
    return rows, next_cursor


async def settings_get(db: Database, ctx: Context) -> tuple[str, str, int | None]:
    """The tenant's IBAN country and bank code (the defaults until it sets its own), and
    the days a joint account's approval waits (None: the default)."""
    async with db.uow(tenant_id=ctx.tenant_id) as uow:
        row = await uow.session.get(BankSettings, ctx.tenant_id)
    if row is None:
        return DEFAULT_IBAN_COUNTRY, DEFAULT_BANK_CODE, None
    return row.iban_country, row.bank_code, row.approval_expiry_days


_ACCOUNT_COLUMNS = (
    "tenant_id, id, customer_id, product_id, ledger_account_id, currency, iban, nickname,"
    " status, signing_rule, created_at, updated_at, closed_at"
)
_ACCOUNT_SQL = (
    "SELECT tenant_id, id, customer_id, product_id, ledger_account_id, currency, iban,"  # noqa: S608 (ACCOUNT_VISIBLE_SQL: constant)
    # A portal user who acts for a holder other than the primary sees that holder's nickname.
    " CASE WHEN NOT %s OR EXISTS (SELECT 1 FROM banking_customer_users u"
    " WHERE u.tenant_id = x.tenant_id AND u.customer_id = x.customer_id AND u.user_id = %s)"
    " THEN x.nickname ELSE (SELECT h.nickname FROM banking_account_holders h"
    " JOIN banking_customer_users u ON u.tenant_id = h.tenant_id"
    " AND u.customer_id = h.customer_id AND u.user_id = %s"
    " WHERE h.tenant_id = x.tenant_id AND h.account_id = x.id ORDER BY h.added_at LIMIT 1) END,"
    " status, signing_rule, created_at, updated_at, closed_at FROM banking_accounts x"
    " WHERE x.tenant_id = %s AND x.id = %s"
    # Staff see every account; a portal user those of any holder it acts for.
    f" AND (NOT %s OR {ACCOUNT_VISIBLE_SQL})"
)
assert set(_ACCOUNT_COLUMNS.split(", ")) == set(BankAccount.__table__.columns.keys())


async def account_get(db: Database, ctx: Context, *, account_id: uuid.UUID) -> BankAccount:
    """One account the caller may see, or BankAccountNotFound; one round trip."""
    portal = is_portal(ctx)
    params = (portal, ctx.actor_id, ctx.actor_id, ctx.tenant_id, account_id, portal, ctx.actor_id)
    async with db.uow(tenant_id=ctx.tenant_id, single_statement=True) as uow:
        row = await uow.fetch_one(_ACCOUNT_SQL, params)
    if row is None:
        raise BankAccountNotFound(f"Account {account_id} was not found.")
    return BankAccount(**dict(zip(_ACCOUNT_COLUMNS.split(", "), row, strict=True)))


async def account_list(
    db: Database,
    ctx: Context,
    *,
    customer_id: uuid.UUID | None,
    status: str | None,
    cursor: str | None,
    limit: int,
) -> tuple[list[BankAccount], str | None]:
    """The accounts the caller may see, oldest first, optionally of one customer."""
    stmt = select(BankAccount).where(BankAccount.tenant_id == ctx.tenant_id)
    if customer_id is not None:
        stmt = stmt.where(BankAccount.customer_id == customer_id)
    if status is not None:
        stmt = stmt.where(BankAccount.status == status)
    async with db.uow(tenant_id=ctx.tenant_id) as uow:
        rows: list[BankAccount]
        rows, next_cursor = await keyset_page(
            uow.session,
            scope_accounts(stmt, BankAccount.id, BankAccount.customer_id, ctx),
            keys=[BankAccount.__table__.c.id],
            cursor=cursor,
            limit=limit,
            key_of=lambda a: [str(a.id)],
        )
        names = await _holder_nicknames(uow.session, ctx, rows) if is_portal(ctx) else {}
    # Detached now (the unit of work is over): the holder's own nickname is for this view.
    for row in rows:
        if row.id in names:
            row.nickname = names[row.id]
    return rows, next_cursor


async def _holder_nicknames(
    session: AsyncSession, ctx: Context, rows: list[BankAccount]
) -> dict[uuid.UUID, str | None]:
    """The nicknames of the holders the portal user acts for, on the joint accounts in
    `rows` whose primary customer it does not act for."""
    mine = set((await session.execute(linked_customers(ctx))).scalars())
    joint = [row.id for row in rows if row.customer_id not in mine]
    if not joint:
        return {}
    found = await session.execute(
        select(BankAccountHolder.account_id, BankAccountHolder.nickname)
        .where(
            BankAccountHolder.tenant_id == ctx.tenant_id,
            BankAccountHolder.account_id.in_(joint),
            BankAccountHolder.customer_id.in_(list(mine)),
        )
        .order_by(BankAccountHolder.added_at.desc())
    )
    return dict(found.all())


_TRANSFER_COLUMNS = (
    "tenant_id, id, kind, idempotency_key, from_account_id, to_account_id, amount, currency,"
    " reference, channel, customer_id, initiated_by, created_at"
)
assert set(_TRANSFER_COLUMNS.split(", ")) == set(BankTransfer.__table__.columns.keys())
# A portal user sees a transfer from or to an account of a customer it is linked to.
_TRANSFER_SQL = (
    "SELECT t.tenant_id, t.id, t.kind, t.idempotency_key, t.from_account_id,"  # noqa: S608 (ACCOUNT_VISIBLE_SQL: constant)
    " t.to_account_id, t.amount, t.currency, t.reference, t.channel, t.customer_id,"
    " t.initiated_by, t.created_at FROM banking_transfers t"
    " WHERE t.tenant_id = %s AND t.id = %s AND (NOT %s OR EXISTS ("
    "   SELECT 1 FROM banking_accounts x"
    "   WHERE x.tenant_id = t.tenant_id AND x.id IN (t.from_account_id, t.to_account_id)"
    f"  AND {ACCOUNT_VISIBLE_SQL}))"
)


async def transfer_get(db: Database, ctx: Context, *, transfer_id: uuid.UUID) -> BankTransfer:
    """One transfer the caller may see (a portal user: to or from their accounts); one
    round trip."""
    params = (ctx.tenant_id, transfer_id, is_portal(ctx), ctx.actor_id)
    async with db.uow(tenant_id=ctx.tenant_id, single_statement=True) as uow:
        row = await uow.fetch_one(_TRANSFER_SQL, params)
    if row is None:
        raise BankTransferNotFound(f"Transfer {transfer_id} was not found.")
    return BankTransfer(**dict(zip(_TRANSFER_COLUMNS.split(", "), row, strict=True)))


# An account the caller may see, for the reads whose numbers come from the ledger.
_BRIEF_SQL = (
    "SELECT x.ledger_account_id, x.status, x.currency FROM banking_accounts x"  # noqa: S608 (ACCOUNT_VISIBLE_SQL: constant)
    " WHERE x.tenant_id = %s AND x.id = %s"
    # Staff see every account; a portal user those of any holder it acts for.
    f" AND (NOT %s OR {ACCOUNT_VISIBLE_SQL})"
)


async def account_brief(
    db: Database, ctx: Context, *, account_id: uuid.UUID
) -> tuple[uuid.UUID, str, str]:
    """(ledger account id, status, currency) of an account the caller may see; one round
    trip, or BankAccountNotFound."""
    params = (ctx.tenant_id, account_id, is_portal(ctx), ctx.actor_id)
    async with db.uow(tenant_id=ctx.tenant_id, single_statement=True) as uow:
        row = await uow.fetch_one(_BRIEF_SQL, params)
    if row is None:
        raise BankAccountNotFound(f"Account {account_id} was not found.")
    return row[0], row[1], row[2]


# --- Standing orders --------------------------------------------------------------------


async def standing_order_get(
    db: Database, ctx: Context, *, order_id: uuid.UUID
) -> BankStandingOrder:
    """One standing order the caller may see (a portal user: their customers'), or 404."""
    stmt = select(BankStandingOrder).where(
        BankStandingOrder.tenant_id == ctx.tenant_id, BankStandingOrder.id == order_id
    )
    async with db.uow(tenant_id=ctx.tenant_id) as uow:
        order: BankStandingOrder | None = (
            await uow.session.execute(
                scope_accounts(
                    stmt, BankStandingOrder.from_account_id, BankStandingOrder.customer_id, ctx
                )
            )
        ).scalar_one_or_none()
    if order is None:
        raise StandingOrderNotFound(f"Standing order {order_id} was not found.")
    return order


async def standing_order_list(
    db: Database,
    ctx: Context,
    *,
    account_id: uuid.UUID | None,
    status: str | None,
    cursor: str | None,
    limit: int,
) -> tuple[list[BankStandingOrder], str | None]:
    """The standing orders the caller may see, oldest first, optionally from one account."""
    stmt = select(BankStandingOrder).where(BankStandingOrder.tenant_id == ctx.tenant_id)
    if account_id is not None:
        stmt = stmt.where(BankStandingOrder.from_account_id == account_id)
    if status is not None:
        stmt = stmt.where(BankStandingOrder.status == status)
    async with db.uow(tenant_id=ctx.tenant_id) as uow:
        rows: list[BankStandingOrder]
        rows, next_cursor = await keyset_page(
            uow.session,
            scope_accounts(
                stmt, BankStandingOrder.from_account_id, BankStandingOrder.customer_id, ctx
            ),
            keys=[BankStandingOrder.__table__.c.id],
            cursor=cursor,
            limit=limit,
            key_of=lambda o: [str(o.id)],
        )
    return rows, next_cursor


MAX_EXECUTIONS_LISTED = 100


async def standing_order_executions(
    db: Database, ctx: Context, *, order_id: uuid.UUID
) -> list[BankStandingOrderExecution]:
    """An order's occurrences so far, newest first (the last MAX_EXECUTIONS_LISTED)."""
    await standing_order_get(db, ctx, order_id=order_id)
    async with db.uow(tenant_id=ctx.tenant_id) as uow:
        rows = (
            await uow.session.execute(
                select(BankStandingOrderExecution)
                .where(
                    BankStandingOrderExecution.tenant_id == ctx.tenant_id,
                    BankStandingOrderExecution.order_id == order_id,
                )
                .order_by(BankStandingOrderExecution.due_date.desc())
                .limit(MAX_EXECUTIONS_LISTED)
            )
        ).scalars()
        return list(rows)
