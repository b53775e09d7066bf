"""pain.001 exports: the payments pending settlement, written into one file for the rail.

An export takes every payment pending settlement (locked, oldest first, at most one
file's worth), writes them with the ISO 20022 module, stores the file sealed (it names the
parties) as an export batch and marks the payments `exported`, in one unit of work: a
second export finds nothing left to take, and a lost download is fetched again by its id.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import select

from fiscus.access.context import Context
from fiscus.access.queries import tenant_get
from fiscus.audit.service import audit_record
from fiscus.banking._personal import personal_open, row_text_open, row_text_seal
from fiscus.banking.errors import PaymentExportEmpty, PaymentExportNotFound
from fiscus.banking.iso20022 import (
    MAX_PAYMENTS_PER_FILE,
    ChargeBearer,
    OutgoingPayment,
    Party,
    pain001_export,
)
from fiscus.banking.models import (
    EXPORT_DOCUMENT,
    BankAccount,
    BankCustomer,
    BankPayment,
    BankPaymentExport,
)
from fiscus.banking.service._payments_part import creditor_name
from fiscus.core import clock
from fiscus.core.db import Database, UnitOfWork
from fiscus.core.events import emit
from fiscus.core.ids import new_id
from fiscus.core.keyring import KeyRing

PAYMENTS_EXPORTED = "banking.payment_export.created"


@dataclass(frozen=True, slots=True)
class ExportFile:
    """A pain.001 export: its id, how many payments it holds, and the document."""

    id: uuid.UUID
    payment_count: int
    document: bytes


def _outgoing(
    keyring: KeyRing, payment: BankPayment, iban: str, customer: BankCustomer
) -> OutgoingPayment:
    debtor = personal_open(
        keyring, customer.personal_sealed, tenant_id=customer.tenant_id, customer_id=customer.id
    )
    creditor = creditor_name(keyring, payment)
    return OutgoingPayment(
        end_to_end_id=payment.id.hex,
        instruction_id=payment.id.hex,
        amount_minor=payment.amount,
        currency=payment.currency,
        debtor=Party(name=debtor.name[:140], iban=iban),
        creditor=Party(name=creditor, iban=payment.creditor_iban, bic=payment.creditor_bic),
        requested_execution_date=max(payment.execute_on or clock.now().date(), clock.now().date()),
        charges=ChargeBearer(payment.charges),
        remittance=payment.reference,
        purpose_code=payment.purpose,
    )


async def _pending(uow: UnitOfWork, ctx: Context) -> list[tuple[BankPayment, str, BankCustomer]]:
    rows = await uow.session.execute(
        select(BankPayment, BankAccount.iban, BankCustomer)
        .join(
            BankAccount,
            (BankAccount.tenant_id == BankPayment.tenant_id)
            & (BankAccount.id == BankPayment.from_account_id),
        )
        .join(
            BankCustomer,
            (BankCustomer.tenant_id == BankPayment.tenant_id)
            & (BankCustomer.id == BankPayment.customer_id),
        )
        .where(BankPayment.tenant_id == ctx.tenant_id, BankPayment.status == "pending_settlement")
        .order_by(BankPayment.id)
        .limit(MAX_PAYMENTS_PER_FILE)
        .with_for_update(of=BankPayment)
    )
    return [(payment, iban, customer) for payment, iban, customer in rows.all()]


async def payments_export(db: Database, ctx: Context, *, keyring: KeyRing) -> ExportFile:
    """Write the payments pending settlement into a new pain.001 export, marking them
    `exported`; PaymentExportEmpty when there are none."""
    async with db.uow(tenant_id=ctx.tenant_id) as uow:
        pending = await _pending(uow, ctx)
        if not pending:
            raise PaymentExportEmpty("No payment is pending settlement.")
        export_id, now = new_id(), clock.now()
        tenant = await tenant_get(uow, tenant_id=ctx.tenant_id)
        document = pain001_export(
            message_id=export_id.hex,
            created_at=now,
            initiating_party=tenant.name[:140],
            payments=[_outgoing(keyring, *row) for row in pending],
        )
        sealed = row_text_seal(
            keyring, EXPORT_DOCUMENT, document.decode(), tenant_id=ctx.tenant_id, row_id=export_id
        )
        uow.session.add(
            BankPaymentExport(
                tenant_id=ctx.tenant_id,
                id=export_id,
                message_id=export_id.hex,
                document_sealed=sealed,
                payment_count=len(pending),
                created_by=ctx.actor_id,
                created_at=now,
            )
        )
        for payment, _, _ in pending:
            payment.status, payment.export_id, payment.updated_at = "exported", export_id, now
        await uow.session.flush()
        ids = [str(payment.id) for payment, _, _ in pending]
        await audit_record(
            uow,
            ctx=ctx,
            action=PAYMENTS_EXPORTED,
            object_type="bank_payment_export",
            object_id=export_id,
            after={"payment_ids": ids},
        )
        await emit(
            uow,
            tenant_id=ctx.tenant_id,
            type=PAYMENTS_EXPORTED,
            subject=f"bank_payment_export/{export_id}",
            payload={"export_id": str(export_id), "payment_ids": ids},
        )
    return ExportFile(export_id, len(pending), document)


async def payment_export_get(
    db: Database, ctx: Context, *, keyring: KeyRing, export_id: uuid.UUID
) -> ExportFile:
    """An export made before, to download again."""
    async with db.uow(tenant_id=ctx.tenant_id) as uow:
        found = await uow.session.get(BankPaymentExport, (ctx.tenant_id, export_id))
    if found is None:
        raise PaymentExportNotFound(f"Export {export_id} was not found.")
    document = row_text_open(
        keyring, EXPORT_DOCUMENT, found.document_sealed, tenant_id=ctx.tenant_id, row_id=found.id
    )
    return ExportFile(found.id, found.payment_count, document.encode())
