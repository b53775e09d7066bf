"""Banking tables: customers and their portal users, products, accounts, transfers, limits.

Banking keeps no balance of its own: every account is a ledger account
(`ledger_account_id`) and every amount it shows comes from the ledger. Personal data of a
customer (name, date of birth, registration and tax numbers, address, email, phone) is one
sealed document per customer (`personal_sealed`, one AES-GCM seal per write); the email,
phone and tax id are found through keyed blind indexes (HMAC look-up hashes).
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    ARRAY,
    CheckConstraint,
    Date,
    ForeignKeyConstraint,
    Index,
    LargeBinary,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

# Loading banking's models loads every banking table, its rooms' (alerts, FX, interest,
# fees, close of business) included.
import fiscus.banking.alerts.models
import fiscus.banking.cob.models
import fiscus.banking.fees.models
import fiscus.banking.fx.models
import fiscus.banking.insights.models
import fiscus.banking.interest.models
import fiscus.banking.joint.models
import fiscus.banking.statements.models  # noqa: F401
from fiscus.core.keyring import SealedColumn, context_of, register_sealed_column
from fiscus.core.models import Base
from fiscus.core.tenancy import TenantScoped

PERSONAL = "banking_customers.personal_sealed"
KYC_NOTES = "banking_customers.kyc_notes_sealed"
SEALED_COLUMNS = (PERSONAL, KYC_NOTES)


def sealed_context(label: str, tenant_id: uuid.UUID, customer_id: uuid.UUID) -> bytes:
    """Associated data of a customer's sealed column: the column, tenant and row."""
    assert label in SEALED_COLUMNS
    return context_of(label, tenant_id, customer_id)


def _registered(label: str) -> SealedColumn:
    table, column = label.split(".")
    return SealedColumn(
        table=table,
        column=column,
        key=("tenant_id", "id"),
        context=lambda key: sealed_context(label, key[0], key[1]),
    )


for _label in SEALED_COLUMNS:
    register_sealed_column(_registered(_label))


def _named(label: str) -> SealedColumn:
    """A payee's or creditor's sealed name: associated data of its column, tenant and row."""
    table, column = label.split(".")
    return SealedColumn(
        table=table,
        column=column,
        key=("tenant_id", "id"),
        context=lambda key: context_of(label, key[0], key[1]),
    )


class BankCustomer(TenantScoped, Base):
    """An individual or a business the bank serves."""

    __tablename__ = "banking_customers"
    __table_args__ = (
        CheckConstraint("kind IN ('individual', 'business')", name="kind"),
        CheckConstraint("kyc_status IN ('pending', 'verified', 'rejected')", name="kyc_status"),
        CheckConstraint("risk_rating IN ('low', 'medium', 'high')", name="risk_rating"),
        CheckConstraint("tax_residence ~ '^[A-Z]{2}$'", name="tax_residence"),
        Index("ix_banking_customers_tenant_id_email_hash", "tenant_id", "email_hash"),
        Index("ix_banking_customers_tenant_id_phone_hash", "tenant_id", "phone_hash"),
        Index("ix_banking_customers_tenant_id_tax_id_hash", "tenant_id", "tax_id_hash"),
    )

    tenant_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(Text)
    personal_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    email_hash: Mapped[bytes] = mapped_column(LargeBinary)
    phone_hash: Mapped[bytes | None] = mapped_column(LargeBinary)
    tax_id_hash: Mapped[bytes | None] = mapped_column(LargeBinary)
    tax_residence: Mapped[str | None] = mapped_column(Text)
    kyc_status: Mapped[str] = mapped_column(Text)
    kyc_reviewed_by: Mapped[uuid.UUID | None]
    kyc_reviewed_at: Mapped[datetime | None]
    kyc_notes_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    risk_rating: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class BankCustomerUser(TenantScoped, Base):
    """A portal user (identity user with the `customer` role) acting for a customer."""

    __tablename__ = "banking_customer_users"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "customer_id"],
            ["banking_customers.tenant_id", "banking_customers.id"],
            name="fk_banking_customer_users_customer",
            ondelete="CASCADE",
        ),
        CheckConstraint("role IN ('owner', 'viewer')", name="role"),
        Index("ix_banking_customer_users_tenant_id_user_id", "tenant_id", "user_id"),
    )

    tenant_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    customer_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    role: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]


class BankProduct(TenantScoped, Base):
    """A deposit product: current or savings account terms in one currency."""

    __tablename__ = "banking_products"
    __table_args__ = (
        CheckConstraint("type IN ('current', 'savings')", name="type"),
        CheckConstraint("currency ~ '^[A-Z]{3}$'", name="currency"),
        CheckConstraint(
            "overdraft_limit >= 0 AND minimum_opening_balance >= 0 AND minimum_balance >= 0",
            name="amounts_not_negative",
        ),
        CheckConstraint(
            "allowed_operations <@ ARRAY['deposit', 'transfer_in', 'transfer_out']::text[]",
            name="allowed_operations",
        ),
    )

    tenant_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    type: Mapped[str] = mapped_column(Text)
    currency: Mapped[str] = mapped_column(Text)
    overdraft_limit: Mapped[int]
    minimum_opening_balance: Mapped[int]
    minimum_balance: Mapped[int]
    allowed_operations: Mapped[list[str]] = mapped_column(ARRAY(Text))
    # Fee and interest terms, for the interest and fees issue (empty until then).
    terms: Mapped[dict[str, Any]]
    created_at: Mapped[datetime]


class BankSettings(TenantScoped, Base):
    """A tenant's banking configuration: how its IBANs are built, the next account number."""

    __tablename__ = "banking_settings"
    __table_args__ = (
        CheckConstraint("iban_country ~ '^[A-Z]{2}$'", name="iban_country"),
        CheckConstraint("next_account_number > 0", name="next_account_number"),
        CheckConstraint("approval_expiry_days BETWEEN 1 AND 90", name="approval_expiry_days"),
    )

    tenant_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    iban_country: Mapped[str] = mapped_column(Text)
    bank_code: Mapped[str] = mapped_column(Text)
    next_account_number: Mapped[int]
    # Days a joint account's pending approval waits before it expires (None: the default).
    approval_expiry_days: Mapped[int | None]
    updated_at: Mapped[datetime]


class BankLedgerAccount(TenantScoped, Base):
    """One of the tenant's general ledger accounts for banking, per currency and purpose."""

    __tablename__ = "banking_ledger_accounts"
    __table_args__ = (
        CheckConstraint(
            "purpose IN ('settlement', 'fee_income', 'interest_expense', 'fx_position',"
            " 'fx_income', 'suspense', 'clearing', 'interest_income', 'tax_payable')",
            name="purpose",
        ),
    )

    tenant_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    currency: Mapped[str] = mapped_column(Text, primary_key=True)
    purpose: Mapped[str] = mapped_column(Text, primary_key=True)
    ledger_account_id: Mapped[uuid.UUID]


class BankAccount(TenantScoped, Base):
    """A customer's deposit account; its money is the ledger account's."""

    __tablename__ = "banking_accounts"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "customer_id"],
            ["banking_customers.tenant_id", "banking_customers.id"],
            name="fk_banking_accounts_customer",
        ),
        ForeignKeyConstraint(
            ["tenant_id", "product_id"],
            ["banking_products.tenant_id", "banking_products.id"],
            name="fk_banking_accounts_product",
        ),
        CheckConstraint(
            "status IN ('pending', 'active', 'frozen', 'dormant', 'closed')", name="status"
        ),
        CheckConstraint("(status = 'closed') = (closed_at IS NOT NULL)", name="closed_at"),
        CheckConstraint("signing_rule IN ('any', 'all')", name="signing_rule"),
        Index("uq_banking_accounts_tenant_id_iban", "tenant_id", "iban", unique=True),
        Index(
            "uq_banking_accounts_tenant_id_ledger_account_id",
            "tenant_id",
            "ledger_account_id",
            unique=True,
        ),
        Index("ix_banking_accounts_tenant_id_customer_id", "tenant_id", "customer_id"),
    )

    tenant_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    customer_id: Mapped[uuid.UUID]
    product_id: Mapped[uuid.UUID]
    ledger_account_id: Mapped[uuid.UUID]
    currency: Mapped[str] = mapped_column(Text)
    iban: Mapped[str] = mapped_column(Text)
    nickname: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(Text)
    # Joint accounts: "any" holder who signs may move money alone, or "all" must approve.
    signing_rule: Mapped[str] = mapped_column(Text, default="any", server_default="any")
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    closed_at: Mapped[datetime | None]


class BankTransfer(TenantScoped, Base):
    """A deposit or an internal transfer; `id` is the ledger transfer that moved the money."""

    __tablename__ = "banking_transfers"
    __table_args__ = (
        CheckConstraint("kind IN ('deposit', 'internal')", name="kind"),
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint("channel IN ('online', 'api', 'branch')", name="channel"),
        CheckConstraint("(kind = 'deposit') = (from_account_id IS NULL)", name="deposit_source"),
        Index(
            "uq_banking_transfers_tenant_id_idempotency_key",
            "tenant_id",
            "idempotency_key",
            unique=True,
        ),
        Index("ix_banking_transfers_tenant_id_from_account_id", "tenant_id", "from_account_id"),
        Index("ix_banking_transfers_tenant_id_to_account_id", "tenant_id", "to_account_id"),
    )

    tenant_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(Text)
    idempotency_key: Mapped[str] = mapped_column(Text)
    from_account_id: Mapped[uuid.UUID | None]
    to_account_id: Mapped[uuid.UUID]
    amount: Mapped[int]
    currency: Mapped[str] = mapped_column(Text)
    reference: Mapped[str | None] = mapped_column(Text)
    channel: Mapped[str] = mapped_column(Text)
    customer_id: Mapped[uuid.UUID | None]
    initiated_by: Mapped[uuid.UUID | None]
    created_at: Mapped[datetime]


class BankLimit(TenantScoped, Base):
    """A customer's outgoing limits for one channel and currency (minor units)."""

    __tablename__ = "banking_limits"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "customer_id"],
            ["banking_customers.tenant_id", "banking_customers.id"],
            name="fk_banking_limits_customer",
            ondelete="CASCADE",
        ),
        CheckConstraint("channel IN ('online', 'api', 'branch')", name="channel"),
        CheckConstraint("daily_limit >= 0 AND monthly_limit >= 0", name="limits_not_negative"),
    )

    tenant_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    customer_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(Text, primary_key=True)
    currency: Mapped[str] = mapped_column(Text, primary_key=True)
    daily_limit: Mapped[int]
    monthly_limit: Mapped[int]
    updated_at: Mapped[datetime]


class BankLimitUsage(TenantScoped, Base):
    """What a customer has sent in one period (a day or a month) on a channel and currency.

    Updated only by a conditional upsert in the transfer's own transaction, so concurrent
    transfers can never together pass the limit (the row lock serialises them).
    """

    __tablename__ = "banking_limit_usage"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "customer_id"],
            ["banking_customers.tenant_id", "banking_customers.id"],
            name="fk_banking_limit_usage_customer",
            ondelete="CASCADE",
        ),
        CheckConstraint("period IN ('day', 'month')", name="period"),
        CheckConstraint("used >= 0", name="used_not_negative"),
    )

    tenant_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    customer_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(Text, primary_key=True)
    currency: Mapped[str] = mapped_column(Text, primary_key=True)
    period: Mapped[str] = mapped_column(Text, primary_key=True)
    period_start: Mapped[date] = mapped_column(Date, primary_key=True)
    used: Mapped[int]


# --- Business date and standing orders --------------------------------------------------


class BankBusinessDate(TenantScoped, Base):
    """The tenant's banking business date: the day scheduled work runs for (staff advance
    it; without a row it is today in UTC)."""

    __tablename__ = "banking_business_dates"

    tenant_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    business_date: Mapped[date] = mapped_column(Date)
    updated_by: Mapped[uuid.UUID | None]
    updated_at: Mapped[datetime]


class BankStandingOrder(TenantScoped, Base):
    """A standing order (or, with `count` 1, a scheduled transfer) between two accounts of
    the tenant; `next_due_date` is its first occurrence not yet paid or failed."""

    __tablename__ = "banking_standing_orders"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "customer_id"],
            ["banking_customers.tenant_id", "banking_customers.id"],
            name="fk_banking_standing_orders_customer",
        ),
        CheckConstraint("status IN ('active', 'paused', 'cancelled', 'completed')", name="status"),
        CheckConstraint("frequency IN ('daily', 'weekly', 'monthly', 'yearly')", name="frequency"),
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint("from_account_id <> to_account_id", name="distinct_accounts"),
        CheckConstraint("executed_count >= 0", name="executed_count"),
        CheckConstraint(
            "retry_attempts BETWEEN 0 AND 10 AND retry_every_minutes BETWEEN 1 AND 720",
            name="retry_policy",
        ),
        CheckConstraint(
            "(status IN ('active', 'paused')) = (next_due_date IS NOT NULL)",
            name="next_due_date",
        ),
        Index(
            "ix_banking_standing_orders_due",
            "tenant_id",
            "next_due_date",
            postgresql_where="status = 'active'",
        ),
        Index("ix_banking_standing_orders_tenant_id_customer_id", "tenant_id", "customer_id"),
    )

    tenant_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    customer_id: Mapped[uuid.UUID]
    from_account_id: Mapped[uuid.UUID]
    to_account_id: Mapped[uuid.UUID]
    amount: Mapped[int]
    currency: Mapped[str] = mapped_column(Text)
    reference: Mapped[str | None] = mapped_column(Text)
    frequency: Mapped[str] = mapped_column(Text)
    day_of_month: Mapped[str | None] = mapped_column(Text)
    weekday: Mapped[int | None]
    start_date: Mapped[date] = mapped_column(Date)
    end_date: Mapped[date | None] = mapped_column(Date)
    count: Mapped[int | None]
    retry_attempts: Mapped[int]
    retry_every_minutes: Mapped[int]
    status: Mapped[str] = mapped_column(Text)
    next_due_date: Mapped[date | None] = mapped_column(Date)
    executed_count: Mapped[int]
    created_by: Mapped[uuid.UUID | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class BankStandingOrderExecution(TenantScoped, Base):
    """One occurrence of a standing order: paid (with its transfer), retrying or failed.

    Unique per (order, due date) and written in the transaction that posts the transfer,
    so an occurrence is paid at most once however often or concurrently the job runs.
    """

    __tablename__ = "banking_standing_order_executions"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "order_id"],
            ["banking_standing_orders.tenant_id", "banking_standing_orders.id"],
            name="fk_banking_standing_order_executions_order",
        ),
        CheckConstraint("status IN ('paid', 'retrying', 'failed')", name="status"),
        CheckConstraint("(status = 'paid') = (transfer_id IS NOT NULL)", name="paid_transfer"),
        CheckConstraint("attempts >= 1", name="attempts"),
        Index(
            "uq_banking_standing_order_executions_occurrence",
            "tenant_id",
            "order_id",
            "due_date",
            unique=True,
        ),
    )

    tenant_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    order_id: Mapped[uuid.UUID]
    due_date: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(Text)
    attempts: Mapped[int]
    transfer_id: Mapped[uuid.UUID | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    retry_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


# --- Payees and outgoing payments -------------------------------------------------------

PAYEE_NAME = "banking_payees.name_sealed"
PAYMENT_CREDITOR = "banking_payments.creditor_name_sealed"
EXPORT_DOCUMENT = "banking_payment_exports.document_sealed"
for _label in (PAYEE_NAME, PAYMENT_CREDITOR, EXPORT_DOCUMENT):
    register_sealed_column(_named(_label))


class BankPayee(TenantScoped, Base):
    """Someone outside the bank a customer pays: IBAN, BIC and a sealed name; soft-deleted."""

    __tablename__ = "banking_payees"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "customer_id"],
            ["banking_customers.tenant_id", "banking_customers.id"],
            name="fk_banking_payees_customer",
        ),
        Index("ix_banking_payees_tenant_id_customer_id", "tenant_id", "customer_id"),
    )

    tenant_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    customer_id: Mapped[uuid.UUID]
    name_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    iban: Mapped[str] = mapped_column(Text)
    bic: Mapped[str | None] = mapped_column(Text)
    nickname: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[uuid.UUID | None]
    created_at: Mapped[datetime]
    first_paid_at: Mapped[datetime | None]
    deleted_at: Mapped[datetime | None]


class BankPayment(TenantScoped, Base):
    """An outgoing payment to another bank: a pending ledger transfer from the customer's
    account to the clearing account (`ledger_transfer_id`) until settled or returned."""

    __tablename__ = "banking_payments"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "from_account_id"],
            ["banking_accounts.tenant_id", "banking_accounts.id"],
            name="fk_banking_payments_from_account",
        ),
        ForeignKeyConstraint(
            ["tenant_id", "payee_id"],
            ["banking_payees.tenant_id", "banking_payees.id"],
            name="fk_banking_payments_payee",
        ),
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint("charges IN ('SHA', 'OUR', 'BEN')", name="charges"),
        CheckConstraint("channel IN ('online', 'api', 'branch')", name="channel"),
        CheckConstraint(
            "status IN ('held', 'pending_settlement', 'exported', 'settled', 'returned',"
            " 'rejected')",
            name="status",
        ),
        CheckConstraint(
            "(status = 'returned') = (return_reason_code IS NOT NULL)", name="return_reason"
        ),
        Index(
            "uq_banking_payments_tenant_id_idempotency_key",
            "tenant_id",
            "idempotency_key",
            unique=True,
        ),
        Index("ix_banking_payments_tenant_id_customer_id", "tenant_id", "customer_id"),
        Index("ix_banking_payments_tenant_id_status", "tenant_id", "status"),
    )

    tenant_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(Text)
    customer_id: Mapped[uuid.UUID]
    from_account_id: Mapped[uuid.UUID]
    payee_id: Mapped[uuid.UUID | None]
    creditor_name_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    creditor_iban: Mapped[str] = mapped_column(Text)
    creditor_bic: Mapped[str | None] = mapped_column(Text)
    amount: Mapped[int]
    currency: Mapped[str] = mapped_column(Text)
    reference: Mapped[str | None] = mapped_column(Text)
    purpose: Mapped[str | None] = mapped_column(Text)
    charges: Mapped[str] = mapped_column(Text)
    execute_on: Mapped[date | None] = mapped_column(Date)
    status: Mapped[str] = mapped_column(Text)
    screening_hits: Mapped[int]
    ledger_transfer_id: Mapped[uuid.UUID]
    # The ledger transfer that resolved the pending one: its posting, void or reversal.
    closing_transfer_id: Mapped[uuid.UUID | None]
    return_reason_code: Mapped[str | None] = mapped_column(Text)
    channel: Mapped[str] = mapped_column(Text)
    initiated_by: Mapped[uuid.UUID | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    export_id: Mapped[uuid.UUID | None]


class BankPaymentExport(TenantScoped, Base):
    """A pain.001 file of outgoing payments handed to the payment rail, kept (sealed: it
    names the parties) so that it can be downloaded again."""

    __tablename__ = "banking_payment_exports"
    __table_args__ = (CheckConstraint("payment_count > 0", name="payment_count_positive"),)

    tenant_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    message_id: Mapped[str] = mapped_column(Text)
    document_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    payment_count: Mapped[int]
    created_by: Mapped[uuid.UUID | None]
    created_at: Mapped[datetime]


class BankIncomingCredit(TenantScoped, Base):
    """Money another bank sent in (camt.054 or the API), booked once per bank reference:
    to the account with the creditor IBAN, or to suspense when there is none (`id` is the
    ledger transfer that booked it)."""

    __tablename__ = "banking_incoming_credits"
    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint("booked_to IN ('account', 'suspense')", name="booked_to"),
        CheckConstraint("(booked_to = 'account') = (account_id IS NOT NULL)", name="account"),
        CheckConstraint("resolution IN ('booked', 'returned')", name="resolution"),
        CheckConstraint(
            "resolution IS NULL OR (booked_to = 'suspense' AND resolved_at IS NOT NULL"
            " AND resolution_transfer_id IS NOT NULL)",
            name="resolved",
        ),
        CheckConstraint(
            "(resolution = 'booked') = (resolved_account_id IS NOT NULL)",
            name="resolved_account",
        ),
        Index(
            "uq_banking_incoming_credits_tenant_id_bank_reference",
            "tenant_id",
            "bank_reference",
            unique=True,
        ),
    )

    tenant_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    bank_reference: Mapped[str] = mapped_column(Text)
    end_to_end_id: Mapped[str | None] = mapped_column(Text)
    creditor_iban: Mapped[str | None] = mapped_column(Text)
    account_id: Mapped[uuid.UUID | None]
    booked_to: Mapped[str] = mapped_column(Text)
    amount: Mapped[int]
    currency: Mapped[str] = mapped_column(Text)
    remittance: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    # A suspense item staff resolved: booked on to an account, or returned to the sender.
    resolution: Mapped[str | None] = mapped_column(Text)
    resolved_account_id: Mapped[uuid.UUID | None]
    resolution_transfer_id: Mapped[uuid.UUID | None]
    return_reason_code: Mapped[str | None] = mapped_column(Text)
    resolved_by: Mapped[uuid.UUID | None]
    resolved_at: Mapped[datetime | None]
