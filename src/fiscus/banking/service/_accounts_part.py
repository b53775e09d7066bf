"""Products, banking settings, the general ledger of a currency, and account lifecycles.

The tenant's general ledger accounts for banking (settlement, fee income, interest
expense, FX position, FX income, suspense, clearing, interest income, tax payable) are
created per currency, idempotently, when the first product in that currency is created
(and, for a purpose added later, on its first use): that is the first moment banking knows
the currency, and tenant creation (in `access`) cannot call banking without an import
cycle.
"""

from __future__ import annotations

import uuid
from typing import Any

from schwifty import IBAN
from schwifty.exceptions import SchwiftyException
from sqlalchemy import select, text
from sqlalchemy.dialects.postgresql import insert

from fiscus.access.context import Context
from fiscus.audit.service import audit_record
from fiscus.banking._scope import PAY_ROLES, is_portal, scope_customers
from fiscus.banking.errors import (
    AccountBalanceNotZero,
    AccountStatusConflict,
    BankAccountNotFound,
    BankSettingsInvalid,
    CustomerNotFound,
    CustomerNotVerified,
    ProductNotFound,
)
from fiscus.banking.models import (
    BankAccount,
    BankCustomer,
    BankLedgerAccount,
    BankProduct,
    BankSettings,
)
from fiscus.banking.queries import DEFAULT_BANK_CODE, DEFAULT_IBAN_COUNTRY
from fiscus.banking.schemas import AccountCreate, ProductCreate, SettingsWrite
from fiscus.core import clock
from fiscus.core.db import Database, UnitOfWork
from fiscus.core.errors import PermissionDenied
from fiscus.core.events import emit
from fiscus.core.ids import new_id
from fiscus.ledger.queries import balance_in
from fiscus.ledger.schemas import AccountCreate as LedgerAccountCreate
from fiscus.ledger.service import account_close_in, account_create_in

PRODUCT_CREATED = "banking.product.created"
ACCOUNT_OPENED = "banking.account.opened"
ACCOUNT_FROZEN = "banking.account.frozen"
ACCOUNT_UNFROZEN = "banking.account.unfrozen"
ACCOUNT_DORMANT = "banking.account.dormant"
ACCOUNT_CLOSED = "banking.account.closed"
ACCOUNT_ACTIVATED = "banking.account.activated"
# purpose -> (ledger type, normal side). None of them is limited: each can go either way.
GENERAL_LEDGER: dict[str, tuple[str, str]] = {
    "settlement": ("asset", "debit"),
    "fee_income": ("income", "credit"),
    "interest_expense": ("expense", "debit"),
    "fx_position": ("asset", "debit"),
    "fx_income": ("income", "credit"),
    "suspense": ("liability", "credit"),
    # What outgoing payments owe the payment rail until they settle (or come back).
    "clearing": ("liability", "credit"),
    # Overdraft interest the bank earns, and tax withheld from interest until paid over.
    "interest_income": ("income", "credit"),
    "tax_payable": ("liability", "credit"),
}
# First the new settings row (account number 1), or the next number: one locked upsert.
_NEXT_NUMBER_SQL = text(
    "INSERT INTO banking_settings (tenant_id, iban_country, bank_code, next_account_number,"
    " updated_at) VALUES (:tenant, :country, :bank, 2, :now)"
    " ON CONFLICT (tenant_id) DO UPDATE"
    " SET next_account_number = banking_settings.next_account_number + 1"
    " RETURNING iban_country, bank_code, next_account_number - 1"
)


def iban_generate(country: str, bank_code: str, number: int) -> str:
    """The IBAN of account `number` at the bank, with its check digits (schwifty)."""
    return str(IBAN.generate(country, bank_code=bank_code, account_code=str(number)))


async def settings_set(db: Database, ctx: Context, *, request: SettingsWrite) -> SettingsWrite:
    """Set how new IBANs are built; refused unless the pair makes valid IBANs."""
    try:
        iban_generate(request.iban_country, request.bank_code, 1)
    except (SchwiftyException, ValueError) as error:
        raise BankSettingsInvalid(f"These settings make no valid IBAN: {error}") from None
    async with db.uow(tenant_id=ctx.tenant_id) as uow:
        values = {**request.model_dump(), "updated_at": clock.now()}
        await uow.session.execute(
            insert(BankSettings)
            .values(tenant_id=ctx.tenant_id, next_account_number=1, **values)
            .on_conflict_do_update(index_elements=["tenant_id"], set_=values)
        )
        await audit_record(
            uow,
            ctx=ctx,
            action="banking.settings.changed",
            object_type="banking_settings",
            object_id=ctx.tenant_id,
            after=request.model_dump(),
        )
    return request


async def general_ledger_ensure(
    uow: UnitOfWork, ctx: Context, *, currency: str
) -> dict[str, uuid.UUID]:
    """The tenant's banking general ledger accounts in `currency`, created on first use.

    Serialised per tenant by the settings row's lock (taken by the same upsert that hands
    out account numbers), so two first uses never both create them.
    """
    assert uow.active
    await uow.session.execute(
        insert(BankSettings)
        .values(
            tenant_id=ctx.tenant_id,
            iban_country=DEFAULT_IBAN_COUNTRY,
            bank_code=DEFAULT_BANK_CODE,
            next_account_number=1,
            updated_at=clock.now(),
        )
        .on_conflict_do_update(index_elements=["tenant_id"], set_={"tenant_id": ctx.tenant_id})
    )
    rows = await uow.session.execute(
        select(BankLedgerAccount.purpose, BankLedgerAccount.ledger_account_id).where(
            BankLedgerAccount.tenant_id == ctx.tenant_id, BankLedgerAccount.currency == currency
        )
    )
    found: dict[str, uuid.UUID] = dict(rows.all())
    for purpose, (type_, side) in GENERAL_LEDGER.items():
        if purpose in found:
            continue
        account = await account_create_in(
            uow,
            ctx=ctx,
            request=LedgerAccountCreate(
                code=f"banking:{currency}:{purpose}",
                name=f"Banking {purpose.replace('_', ' ')} ({currency})",
                currency=currency,
                type=type_,
                normal_side=side,
            ),
        )
        uow.session.add(
            BankLedgerAccount(
                tenant_id=ctx.tenant_id,
                currency=currency,
                purpose=purpose,
                ledger_account_id=account.id,
            )
        )
        found[purpose] = account.id
    await uow.session.flush()
    return found


async def product_create(db: Database, ctx: Context, *, request: ProductCreate) -> BankProduct:
    """Create a deposit product (and the currency's general ledger on first use)."""
    product = BankProduct(
        tenant_id=ctx.tenant_id,
        id=new_id(),
        created_at=clock.now(),
        # Fee and interest terms arrive with the interest and fees release.
        terms={},
        **{**request.model_dump(), "allowed_operations": sorted(set(request.allowed_operations))},
    )
    async with db.uow(tenant_id=ctx.tenant_id) as uow:
        await general_ledger_ensure(uow, ctx, currency=request.currency)
        uow.session.add(product)
        await uow.session.flush()
        await audit_record(
            uow,
            ctx=ctx,
            action=PRODUCT_CREATED,
            object_type="bank_product",
            object_id=product.id,
            after=request.model_dump(),
        )
        await emit(
            uow,
            tenant_id=ctx.tenant_id,
            type=PRODUCT_CREATED,
            subject=f"bank_product/{product.id}",
            payload={
                "product_id": str(product.id),
                "type": product.type,
                "currency": product.currency,
            },
        )
    return product


def _account_payload(account: BankAccount, previous: str | None = None) -> dict[str, Any]:
    return {
        "account_id": str(account.id),
        "customer_id": str(account.customer_id),
        "ledger_account_id": str(account.ledger_account_id),
        "currency": account.currency,
        "status": account.status,
        "previous_status": previous,
    }


async def _open_checks(uow: UnitOfWork, ctx: Context, request: AccountCreate) -> BankProduct:
    """The product, after checking the customer is verified and the caller may act for it."""
    stmt = select(BankCustomer.kyc_status).where(
        BankCustomer.tenant_id == ctx.tenant_id, BankCustomer.id == request.customer_id
    )
    kyc = (await uow.session.execute(scope_customers(stmt, BankCustomer.id, ctx))).scalar()
    if kyc is None:
        raise CustomerNotFound(f"Customer {request.customer_id} was not found.")
    if is_portal(ctx):
        paying = scope_customers(stmt, BankCustomer.id, ctx, PAY_ROLES)
        if (await uow.session.execute(paying)).scalar() is None:
            raise PermissionDenied("Only an owner of the customer may open accounts for it.")
    if kyc != "verified":
        raise CustomerNotVerified("Accounts are opened only for KYC-verified customers.")
    product = await uow.session.get(BankProduct, (ctx.tenant_id, request.product_id))
    if product is None:
        raise ProductNotFound(f"Product {request.product_id} was not found.")
    return product


async def account_open(db: Database, ctx: Context, *, request: AccountCreate) -> BankAccount:
    """Open an account: a new IBAN and a new ledger liability account (overdraft as the
    product says); pending until funded when the product has a minimum opening balance."""
    async with db.uow(tenant_id=ctx.tenant_id) as uow:
        product = await _open_checks(uow, ctx, request)
        country, bank_code, number = (
            await uow.session.execute(
                _NEXT_NUMBER_SQL,
                {
                    "tenant": ctx.tenant_id,
                    "country": DEFAULT_IBAN_COUNTRY,
                    "bank": DEFAULT_BANK_CODE,
                    "now": clock.now(),
                },
            )
        ).one()
        account_id, now = new_id(), clock.now()
        iban = iban_generate(country, bank_code, number)
        ledger_account = await account_create_in(
            uow,
            ctx=ctx,
            request=LedgerAccountCreate(
                code=f"banking:account:{account_id}",
                name=f"Bank account {iban}",
                currency=product.currency,
                type="liability",
                normal_side="credit",
                flags=["debits_must_not_exceed_credits"],
                overdraft_limit=product.overdraft_limit or None,
                metadata={"bank_account_id": str(account_id)},
            ),
        )
        account = BankAccount(
            tenant_id=ctx.tenant_id,
            id=account_id,
            customer_id=request.customer_id,
            product_id=product.id,
            ledger_account_id=ledger_account.id,
            currency=product.currency,
            iban=iban,
            nickname=request.nickname,
            status="pending" if product.minimum_opening_balance > 0 else "active",
            created_at=now,
            updated_at=now,
        )
        uow.session.add(account)
        await uow.session.flush()
        await audit_record(
            uow,
            ctx=ctx,
            action=ACCOUNT_OPENED,
            object_type="bank_account",
            object_id=account.id,
            after={"status": account.status, "product_id": str(product.id), "iban": iban},
        )
        await emit(
            uow,
            tenant_id=ctx.tenant_id,
            type=ACCOUNT_OPENED,
            subject=f"bank_account/{account.id}",
            payload=_account_payload(account),
        )
    return account


async def account_for_update(uow: UnitOfWork, ctx: Context, account_id: uuid.UUID) -> BankAccount:
    """The account row, locked (transfers take it in share mode, so they wait)."""
    assert uow.active
    account = (
        await uow.session.execute(
            select(BankAccount)
            .where(BankAccount.tenant_id == ctx.tenant_id, BankAccount.id == account_id)
            .with_for_update()
        )
    ).scalar_one_or_none()
    if account is None:
        raise BankAccountNotFound(f"Account {account_id} was not found.")
    return account


async def _status_change(
    uow: UnitOfWork, ctx: Context, account: BankAccount, *, to: str, action: str
) -> dict[str, Any]:
    """Move the account to status `to`, audited; the event payload to emit."""
    previous = account.status
    account.status = to
    account.updated_at = clock.now()
    if to == "closed":
        account.closed_at = account.updated_at
    await uow.session.flush()
    await audit_record(
        uow,
        ctx=ctx,
        action=action,
        object_type="bank_account",
        object_id=account.id,
        before={"status": previous},
        after={"status": to},
    )
    return _account_payload(account, previous)


def _refuse_unless(account: BankAccount, allowed: tuple[str, ...], verb: str) -> None:
    if account.status not in allowed:
        raise AccountStatusConflict(f"A {account.status} account cannot be {verb}.")


async def account_freeze(db: Database, ctx: Context, *, account_id: uuid.UUID) -> BankAccount:
    """Freeze an account: it keeps receiving money but sends none."""
    async with db.uow(tenant_id=ctx.tenant_id) as uow:
        account = await account_for_update(uow, ctx, account_id)
        _refuse_unless(account, ("pending", "active", "dormant"), "frozen")
        payload = await _status_change(uow, ctx, account, to="frozen", action=ACCOUNT_FROZEN)
        await emit(
            uow,
            tenant_id=ctx.tenant_id,
            type=ACCOUNT_FROZEN,
            subject=f"bank_account/{account.id}",
            payload=payload,
        )
    return account


async def account_unfreeze(db: Database, ctx: Context, *, account_id: uuid.UUID) -> BankAccount:
    """Make a frozen (or dormant) account active again."""
    async with db.uow(tenant_id=ctx.tenant_id) as uow:
        account = await account_for_update(uow, ctx, account_id)
        _refuse_unless(account, ("frozen", "dormant"), "unfrozen")
        payload = await _status_change(uow, ctx, account, to="active", action=ACCOUNT_UNFROZEN)
        await emit(
            uow,
            tenant_id=ctx.tenant_id,
            type=ACCOUNT_UNFROZEN,
            subject=f"bank_account/{account.id}",
            payload=payload,
        )
    return account


async def account_mark_dormant(db: Database, ctx: Context, *, account_id: uuid.UUID) -> BankAccount:
    """Mark an active account dormant (no activity): it receives but sends nothing until
    unfrozen. For the inactivity job of a later release."""
    async with db.uow(tenant_id=ctx.tenant_id) as uow:
        account = await account_for_update(uow, ctx, account_id)
        _refuse_unless(account, ("active",), "marked dormant")
        payload = await _status_change(uow, ctx, account, to="dormant", action=ACCOUNT_DORMANT)
        await emit(
            uow,
            tenant_id=ctx.tenant_id,
            type=ACCOUNT_DORMANT,
            subject=f"bank_account/{account.id}",
            payload=payload,
        )
    return account


async def account_close(db: Database, ctx: Context, *, account_id: uuid.UUID) -> BankAccount:
    """Close an account at a zero balance with nothing pending; its ledger account closes
    with it, so the ledger refuses every later transfer touching it."""
    async with db.uow(tenant_id=ctx.tenant_id) as uow:
        account = await account_for_update(uow, ctx, account_id)
        _refuse_unless(account, ("pending", "active", "frozen", "dormant"), "closed")
        # The row lock keeps banking's transfers out until commit, so the balance holds.
        balance = await balance_in(
            uow, tenant_id=ctx.tenant_id, account_id=account.ledger_account_id
        )
        if balance.balance != 0 or balance.debits_pending or balance.credits_pending:
            raise AccountBalanceNotZero(
                f"The account holds {balance.balance} minor units {balance.currency}"
                " (or has pending amounts); it closes only at zero."
            )
        await account_close_in(uow, ctx=ctx, account_id=account.ledger_account_id)
        payload = await _status_change(uow, ctx, account, to="closed", action=ACCOUNT_CLOSED)
        await emit(
            uow,
            tenant_id=ctx.tenant_id,
            type=ACCOUNT_CLOSED,
            subject=f"bank_account/{account.id}",
            payload=payload,
        )
    return account
