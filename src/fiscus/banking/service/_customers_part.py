"""Customers: onboard, change, KYC review, portal users, outgoing limits; each audited."""

from __future__ import annotations

import uuid
from dataclasses import replace
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert

from fiscus.access.context import Context
from fiscus.access.queries import membership_get
from fiscus.audit.service import audit_record
from fiscus.banking._personal import (
    PERSONAL_FIELDS,
    Personal,
    email_hash,
    notes_seal,
    personal_open,
    personal_seal,
    phone_hash,
    tax_id_hash,
)
from fiscus.banking._scope import PORTAL_ROLE
from fiscus.banking.errors import CustomerNotFound, CustomerUserInvalid, CustomerUserNotFound
from fiscus.banking.models import BankCustomer, BankCustomerUser, BankLimit
from fiscus.banking.schemas import CustomerCreate, LimitWrite
from fiscus.core import clock
from fiscus.core.db import Database, UnitOfWork
from fiscus.core.errors import ValidationProblem
from fiscus.core.events import emit
from fiscus.core.ids import new_id
from fiscus.core.keyring import KeyRing

CUSTOMER_CREATED = "banking.customer.created"
CUSTOMER_UPDATED = "banking.customer.updated"
CUSTOMER_KYC_REVIEWED = "banking.customer.kyc_reviewed"
CUSTOMER_USER_LINKED = "banking.customer.user_linked"
CUSTOMER_USER_UNLINKED = "banking.customer.user_unlinked"
CUSTOMER_LIMIT_SET = "banking.customer.limit_set"


def _personal_of(request: CustomerCreate) -> Personal:
    return Personal(
        name=request.name,
        email=request.email,
        phone=request.phone,
        birth_date=request.birth_date.isoformat() if request.birth_date else None,
        registration_number=request.registration_number,
        tax_id=request.tax_id,
        address=request.address.model_dump() if request.address else None,
    )


def _index(customer: BankCustomer, personal: Personal, keyring: KeyRing) -> None:
    customer.personal_sealed = personal_seal(
        keyring, personal, tenant_id=customer.tenant_id, customer_id=customer.id
    )
    customer.email_hash = email_hash(keyring, personal.email)
    customer.phone_hash = phone_hash(keyring, personal.phone) if personal.phone else None
    customer.tax_id_hash = tax_id_hash(keyring, personal.tax_id) if personal.tax_id else None


def _audited(customer: BankCustomer) -> dict[str, Any]:
    # Personal data never enters the audit trail: only what classifies the customer.
    return {
        "kind": customer.kind,
        "kyc_status": customer.kyc_status,
        "risk_rating": customer.risk_rating,
        "tax_residence": customer.tax_residence,
    }


def _payload(customer: BankCustomer, **more: Any) -> dict[str, Any]:
    return {"customer_id": str(customer.id), "kind": customer.kind, **more}


async def customer_create(
    db: Database, ctx: Context, *, keyring: KeyRing, request: CustomerCreate
) -> BankCustomer:
    """Onboard a customer (KYC pending); personal data is stored sealed."""
    now = clock.now()
    customer = BankCustomer(
        tenant_id=ctx.tenant_id,
        id=new_id(),
        kind=request.kind,
        tax_residence=request.tax_residence,
        kyc_status="pending",
        risk_rating=request.risk_rating,
        created_at=now,
        updated_at=now,
    )
    _index(customer, _personal_of(request), keyring)
    async with db.uow(tenant_id=ctx.tenant_id) as uow:
        uow.session.add(customer)
        await uow.session.flush()
        await audit_record(
            uow,
            ctx=ctx,
            action=CUSTOMER_CREATED,
            object_type="customer",
            object_id=customer.id,
            after=_audited(customer),
        )
        await emit(
            uow,
            tenant_id=ctx.tenant_id,
            type=CUSTOMER_CREATED,
            subject=f"customer/{customer.id}",
            payload=_payload(customer),
        )
    return customer


async def customer_for_update(
    uow: UnitOfWork, ctx: Context, customer_id: uuid.UUID
) -> BankCustomer:
    """The customer row, locked; CustomerNotFound if the tenant has none of that id."""
    assert uow.active
    customer = (
        await uow.session.execute(
            select(BankCustomer)
            .where(BankCustomer.tenant_id == ctx.tenant_id, BankCustomer.id == customer_id)
            .with_for_update()
        )
    ).scalar_one_or_none()
    if customer is None:
        raise CustomerNotFound(f"Customer {customer_id} was not found.")
    return customer


async def customer_update(
    db: Database,
    ctx: Context,
    *,
    keyring: KeyRing,
    customer_id: uuid.UUID,
    changes: dict[str, Any],
) -> BankCustomer:
    """Apply the given changes (personal data re-sealed whole); audited by field name."""
    async with db.uow(tenant_id=ctx.tenant_id) as uow:
        customer = await customer_for_update(uow, ctx, customer_id)
        before = _audited(customer)
        personal = personal_open(
            keyring, customer.personal_sealed, tenant_id=ctx.tenant_id, customer_id=customer.id
        )
        personal_changes = {k: v for k, v in changes.items() if k in PERSONAL_FIELDS}
        if "birth_date" in personal_changes and personal_changes["birth_date"] is not None:
            personal_changes["birth_date"] = personal_changes["birth_date"].isoformat()
        foreign = "birth_date" if customer.kind == "business" else "registration_number"
        if foreign in personal_changes:
            raise ValidationProblem(f"A {customer.kind} customer has no {foreign}.", field=foreign)
        if personal_changes:
            _index(customer, replace(personal, **personal_changes), keyring)
        if "risk_rating" in changes:
            customer.risk_rating = changes["risk_rating"]
        if "tax_residence" in changes:
            customer.tax_residence = changes["tax_residence"]
        customer.updated_at = clock.now()
        await uow.session.flush()
        fields = sorted(set(personal_changes) | (set(changes) - set(PERSONAL_FIELDS)))
        await audit_record(
            uow,
            ctx=ctx,
            action=CUSTOMER_UPDATED,
            object_type="customer",
            object_id=customer.id,
            before=before,
            after=_audited(customer),
            details={"changed": fields},
        )
        await emit(
            uow,
            tenant_id=ctx.tenant_id,
            type=CUSTOMER_UPDATED,
            subject=f"customer/{customer.id}",
            payload=_payload(customer, fields=fields),
        )
    return customer


async def customer_kyc_review(
    db: Database,
    ctx: Context,
    *,
    keyring: KeyRing,
    customer_id: uuid.UUID,
    status: str,
    notes: str | None,
) -> BankCustomer:
    """Record a KYC decision: the caller is the reviewer; the notes are stored sealed."""
    async with db.uow(tenant_id=ctx.tenant_id) as uow:
        customer = await customer_for_update(uow, ctx, customer_id)
        before = _audited(customer)
        now = clock.now()
        customer.kyc_status = status
        customer.kyc_reviewed_by = ctx.actor_id
        customer.kyc_reviewed_at = now
        customer.kyc_notes_sealed = (
            notes_seal(keyring, notes, tenant_id=ctx.tenant_id, customer_id=customer.id)
            if notes
            else None
        )
        customer.updated_at = now
        await uow.session.flush()
        await audit_record(
            uow,
            ctx=ctx,
            action=CUSTOMER_KYC_REVIEWED,
            object_type="customer",
            object_id=customer.id,
            before=before,
            after=_audited(customer),
            details={"reviewer": str(ctx.actor_id), "notes_given": bool(notes)},
        )
        await emit(
            uow,
            tenant_id=ctx.tenant_id,
            type=CUSTOMER_KYC_REVIEWED,
            subject=f"customer/{customer.id}",
            payload=_payload(customer, kyc_status=status),
        )
    return customer


async def customer_user_link(
    db: Database, ctx: Context, *, customer_id: uuid.UUID, user_id: uuid.UUID, role: str
) -> BankCustomerUser:
    """Link a portal user (a member with the `customer` role) to a customer, or change
    their role for it."""
    async with db.uow(tenant_id=ctx.tenant_id) as uow:
        await customer_for_update(uow, ctx, customer_id)
        membership = await membership_get(uow, tenant_id=ctx.tenant_id, user_id=user_id)
        if membership is None or membership.role != PORTAL_ROLE or membership.status != "active":
            raise CustomerUserInvalid(
                f"User {user_id} is not an active member with the {PORTAL_ROLE!r} role."
            )
        link = (
            await uow.session.execute(
                insert(BankCustomerUser)
                .values(
                    tenant_id=ctx.tenant_id,
                    customer_id=customer_id,
                    user_id=user_id,
                    role=role,
                    created_at=clock.now(),
                )
                .on_conflict_do_update(
                    index_elements=["tenant_id", "customer_id", "user_id"], set_={"role": role}
                )
                .returning(BankCustomerUser)
            )
        ).scalar_one()
        await audit_record(
            uow,
            ctx=ctx,
            action=CUSTOMER_USER_LINKED,
            object_type="customer",
            object_id=customer_id,
            details={"user_id": str(user_id), "role": role},
        )
        await emit(
            uow,
            tenant_id=ctx.tenant_id,
            type=CUSTOMER_USER_LINKED,
            subject=f"customer/{customer_id}",
            payload={"customer_id": str(customer_id), "user_id": str(user_id), "role": role},
        )
    return link


async def customer_user_unlink(
    db: Database, ctx: Context, *, customer_id: uuid.UUID, user_id: uuid.UUID
) -> None:
    """Remove a portal user's access to a customer."""
    async with db.uow(tenant_id=ctx.tenant_id) as uow:
        await customer_for_update(uow, ctx, customer_id)
        removed = await uow.session.execute(
            delete(BankCustomerUser)
            .where(
                BankCustomerUser.tenant_id == ctx.tenant_id,
                BankCustomerUser.customer_id == customer_id,
                BankCustomerUser.user_id == user_id,
            )
            .returning(BankCustomerUser.user_id)
        )
        if removed.first() is None:
            raise CustomerUserNotFound(f"User {user_id} is not linked to customer {customer_id}.")
        await audit_record(
            uow,
            ctx=ctx,
            action=CUSTOMER_USER_UNLINKED,
            object_type="customer",
            object_id=customer_id,
            details={"user_id": str(user_id)},
        )
        await emit(
            uow,
            tenant_id=ctx.tenant_id,
            type=CUSTOMER_USER_UNLINKED,
            subject=f"customer/{customer_id}",
            payload={"customer_id": str(customer_id), "user_id": str(user_id), "role": None},
        )


async def limit_set(
    db: Database, ctx: Context, *, customer_id: uuid.UUID, request: LimitWrite
) -> BankLimit:
    """Set a customer's daily and monthly outgoing limits on a channel and currency."""
    async with db.uow(tenant_id=ctx.tenant_id) as uow:
        await customer_for_update(uow, ctx, customer_id)
        values = request.model_dump()
        limits = {"daily_limit": request.daily_limit, "monthly_limit": request.monthly_limit}
        row = (
            await uow.session.execute(
                insert(BankLimit)
                .values(
                    tenant_id=ctx.tenant_id,
                    customer_id=customer_id,
                    updated_at=clock.now(),
                    **values,
                )
                .on_conflict_do_update(
                    index_elements=["tenant_id", "customer_id", "channel", "currency"],
                    set_={**limits, "updated_at": clock.now()},
                )
                .returning(BankLimit)
            )
        ).scalar_one()
        await audit_record(
            uow,
            ctx=ctx,
            action=CUSTOMER_LIMIT_SET,
            object_type="customer",
            object_id=customer_id,
            after={**values},
        )
        await emit(
            uow,
            tenant_id=ctx.tenant_id,
            type=CUSTOMER_LIMIT_SET,
            subject=f"customer/{customer_id}",
            payload={"customer_id": str(customer_id), **values},
        )
    return row
