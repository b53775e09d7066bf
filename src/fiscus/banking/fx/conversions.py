"""Conversions between two accounts of one customer, at the rate in force.

One unit of work: the two accounts share-locked (as transfers lock them), the rate in
force read, one ledger transfer with FX legs (the customer's debit against the FX
position in the sold currency; the position's debit at mid against the customer's
credit and FX income in the bought one), the conversion row, its event and audit record.

Idempotency as for transfers: the key is kept on the conversion (unique per tenant) and
handed to the ledger (`banking:fx:<key>`) in the same transaction; a retry with the same
body returns the first conversion, a different body is refused with 409.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from fiscus.access.context import Context
from fiscus.audit.service import audit_record
from fiscus.banking._scope import is_portal, scope_customers
from fiscus.banking.alerts.service import Movement, alerts_check
from fiscus.banking.errors import BankAccountNotFound, TransferKeyReused
from fiscus.banking.fx.convert import ConversionAccounts, conversion, conversion_legs, rate_text
from fiscus.banking.fx.errors import ConversionNotAllowed, ConversionNotFound, ConversionTooSmall
from fiscus.banking.fx.models import FxConversion
from fiscus.banking.fx.queries import rate_in_force
from fiscus.banking.insights.service import movements_categorise
from fiscus.banking.models import BankLedgerAccount
from fiscus.banking.service import channel_of, general_ledger_ensure
from fiscus.banking.service._holders_part import signatures_check
from fiscus.banking.service._transfers_part import (
    Side,
    check_receiving,
    check_sending,
    insufficient,
    key_race,
    minimum_balance_check,
    sides_locked,
)
from fiscus.core import clock
from fiscus.core.db import Database, UnitOfWork
from fiscus.core.events import emit
from fiscus.ledger.codes import ResultCode
from fiscus.ledger.errors import TransferRefused
from fiscus.ledger.schemas import TransferCreate as LedgerTransfer
from fiscus.ledger.service import transfer_create_in

CONVERSION_COMPLETED = "banking.fx_conversion.completed"
LEDGER_KEY_PREFIX = "banking:fx:"


@dataclass(frozen=True, slots=True)
class Converted:
    """A conversion; `replayed` when a retry found the first one."""

    conversion: FxConversion
    replayed: bool


async def _general_ledger(
    uow: UnitOfWork, ctx: Context, currencies: tuple[str, str]
) -> dict[tuple[str, str], uuid.UUID]:
    """(currency, purpose) -> ledger account, for both currencies (created on first use)."""
    rows = await uow.session.execute(
        select(
            BankLedgerAccount.currency,
            BankLedgerAccount.purpose,
            BankLedgerAccount.ledger_account_id,
        ).where(
            BankLedgerAccount.tenant_id == ctx.tenant_id,
            BankLedgerAccount.currency.in_(currencies),
        )
    )
    found = {(currency, purpose): account for currency, purpose, account in rows.all()}
    for currency in currencies:
        if (currency, "fx_position") not in found or (currency, "fx_income") not in found:
            ensured = await general_ledger_ensure(uow, ctx, currency=currency)
            found |= {(currency, purpose): account for purpose, account in ensured.items()}
    return found


def _pick(
    ctx: Context, sides: list[Side], source_id: uuid.UUID, target_id: uuid.UUID
) -> tuple[Side, Side]:
    by_id = {side.id: side for side in sides}
    for wanted in (source_id, target_id):
        side = by_id.get(wanted)
        if side is None or (is_portal(ctx) and side.portal_role is None):
            raise BankAccountNotFound(f"Account {wanted} was not found.")
    source, target = by_id[source_id], by_id[target_id]
    if source.customer_id != target.customer_id:
        raise ConversionNotAllowed("A conversion moves money between one customer's own accounts.")
    if source.currency == target.currency:
        raise ConversionNotAllowed(
            f"Both accounts hold {source.currency}: use a transfer, not a conversion."
        )
    return source, target


async def _replay(
    uow: UnitOfWork, ctx: Context, key: str, expected: dict[str, Any]
) -> FxConversion | None:
    found = (
        await uow.session.execute(
            select(FxConversion).where(
                FxConversion.tenant_id == ctx.tenant_id, FxConversion.idempotency_key == key
            )
        )
    ).scalar_one_or_none()
    if found is None:
        return None
    if any(getattr(found, name) != value for name, value in expected.items()):
        raise TransferKeyReused("This Idempotency-Key was used for a different conversion.")
    return found


async def conversion_create(
    db: Database,
    ctx: Context,
    *,
    from_account_id: uuid.UUID,
    to_account_id: uuid.UUID,
    amount: int,
    currency: str,
    key: str,
) -> Converted:
    """Sell `amount` minor units of `currency` from one account into another account of
    the same customer, at the rate in force less the spread."""
    if from_account_id == to_account_id:
        raise ConversionNotAllowed("The accounts must differ.")
    expected = {
        "from_account_id": from_account_id,
        "to_account_id": to_account_id,
        "sell_amount": amount,
        "sell_currency": currency,
    }

    async def operation(uow: UnitOfWork) -> Converted:
        if (first := await _replay(uow, ctx, key, expected)) is not None:
            return Converted(first, True)
        sides = await sides_locked(uow, ctx, ids=[from_account_id, to_account_id], iban=None)
        source, target = _pick(ctx, sides, from_account_id, to_account_id)
        check_sending(ctx, source, currency)
        check_receiving(target, target.currency, "transfer_in")
        if source.signing_rule == "all":
            await signatures_check(uow, ctx, source.id)
        now = clock.now()
        rate = await rate_in_force(
            uow, tenant_id=ctx.tenant_id, base=source.currency, quote=target.currency, at=now
        )
        figures = conversion(
            amount=amount,
            mid=rate.mid,
            spread=rate.spread,
            from_currency=source.currency,
            to_currency=target.currency,
        )
        if figures.delivered <= 0:
            raise ConversionTooSmall(
                f"{amount} minor units of {source.currency} buy nothing in {target.currency}."
            )
        gl = await _general_ledger(uow, ctx, (source.currency, target.currency))
        legs, fx = conversion_legs(
            figures,
            ConversionAccounts(
                source=source.ledger_account_id,
                target=target.ledger_account_id,
                position_from=gl[(source.currency, "fx_position")],
                position_to=gl[(target.currency, "fx_position")],
                income=gl[(target.currency, "fx_income")],
            ),
        )
        try:
            outcome = await transfer_create_in(
                uow,
                ctx=ctx,
                request=LedgerTransfer(
                    legs=legs,
                    currency=source.currency,
                    fx=fx,
                    description=f"Conversion {source.currency} to {target.currency}",
                ),
                idempotency_key=LEDGER_KEY_PREFIX + key,
            )
        except TransferRefused as refused:
            if refused.code in (ResultCode.EXCEEDS_OVERDRAFT_LIMIT, ResultCode.EXCEEDS_CREDITS):
                raise await insufficient(uow, ctx, source, amount) from None
            raise
        if source.minimum_balance > 0:
            await minimum_balance_check(uow, ctx, source)
        row = FxConversion(
            tenant_id=ctx.tenant_id,
            id=outcome.transfer_id,
            idempotency_key=key,
            customer_id=source.customer_id,
            from_account_id=source.id,
            to_account_id=target.id,
            sell_amount=amount,
            sell_currency=source.currency,
            buy_amount=figures.delivered,
            buy_currency=target.currency,
            rate=figures.rate,
            mid=figures.mid,
            spread=figures.spread,
            fee=figures.income,
            channel=channel_of(ctx),
            initiated_by=ctx.actor_id,
            created_at=now,
        )
        uow.session.add(row)
        await uow.session.flush()
        payload = {
            "conversion_id": str(row.id),
            "customer_id": str(row.customer_id),
            "from_account_id": str(row.from_account_id),
            "to_account_id": str(row.to_account_id),
            "sell": {"amount": row.sell_amount, "currency": row.sell_currency},
            "buy": {"amount": row.buy_amount, "currency": row.buy_currency},
            "rate": rate_text(row.rate),
            "fee": {"amount": row.fee, "currency": row.buy_currency},
        }
        await audit_record(
            uow,
            ctx=ctx,
            action=CONVERSION_COMPLETED,
            object_type="fx_conversion",
            object_id=row.id,
            after={k: v for k, v in payload.items() if k != "conversion_id"},
        )
        await emit(
            uow,
            tenant_id=ctx.tenant_id,
            type=CONVERSION_COMPLETED,
            subject=f"fx_conversion/{row.id}",
            payload=payload,
        )
        movements = [
            Movement(source.id, source.ledger_account_id, -amount, source.currency, row.id,
                     counterparty_account_id=target.id),
            Movement(target.id, target.ledger_account_id, figures.delivered, target.currency,
                     row.id, counterparty_account_id=source.id),
        ]  # fmt: skip
        await alerts_check(uow, ctx, movements)
        await movements_categorise(uow, ctx, movements)
        return Converted(row, False)

    return await db.run(operation, tenant_id=ctx.tenant_id, retry_when=key_race)


async def conversion_get(db: Database, ctx: Context, *, conversion_id: uuid.UUID) -> FxConversion:
    """One conversion (a portal user: of the customers they act for)."""
    stmt = select(FxConversion).where(
        FxConversion.tenant_id == ctx.tenant_id, FxConversion.id == conversion_id
    )
    stmt = scope_customers(stmt, FxConversion.customer_id, ctx)
    async with db.uow(tenant_id=ctx.tenant_id) as uow:
        found: FxConversion | None = (await uow.session.execute(stmt)).scalar_one_or_none()
    if found is None:
        raise ConversionNotFound(f"Conversion {conversion_id} was not found.")
    return found
