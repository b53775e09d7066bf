"""The event catalogue: every event type fiscus emits, with its payload schema and an example.

Webhook subscribers and `/v1/events` readers receive these as `data`. `python -m
fiscus.events.catalogue` rewrites docs/events.md from this table (`--check` exits 1 when the
file is stale); a test keeps the table equal to the types the code emits and validates real
payloads against the schemas.
"""

from __future__ import annotations

import argparse
import builtins
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

_TENANT = "019a9f0e-3c1e-7f60-a1b2-6c0ffee00001"
_USER = "019a9f0e-3c1e-7f60-a1b2-6c0ffee00002"
_TRANSFER = "019a9f0e-3c1e-7f60-a1b2-6c0ffee00003"
_ACCOUNT_A = "019a9f0e-3c1e-7f60-a1b2-6c0ffee00004"
_ACCOUNT_B = "019a9f0e-3c1e-7f60-a1b2-6c0ffee00005"
_ENDPOINT = "019a9f0e-3c1e-7f60-a1b2-6c0ffee00006"
_DELIVERY = "019a9f0e-3c1e-7f60-a1b2-6c0ffee00007"
_EVENT = "019a9f0e-3c1e-7f60-a1b2-6c0ffee00008"
DOC_PATH = Path("docs/events.md")


class _Payload(BaseModel):
    # Payloads are exactly these fields: a new field is a catalogue change, seen in review.
    model_config = ConfigDict(extra="forbid")


class TransferLeg(_Payload):
    """One leg of a transfer."""

    account_id: str
    direction: Literal["debit", "credit"]
    amount: int = Field(description="Integer minor units")
    currency: str
    holder_user_id: str | None = Field(
        None, description="The account's `metadata.holder_user_id`, when it names a person"
    )


class TransferPayload(_Payload):
    """A transfer as the ledger recorded it."""

    transfer_id: str
    status: Literal["pending", "posted", "voided"]
    kind: Literal["transfer", "post_pending", "void_pending", "reversal"]
    currency: str
    parent_id: str | None = Field(description="The pending or reversed transfer, if any")
    legs: list[TransferLeg]


class TokenMailPayload(_Payload):
    """A one-time token for the mail sender; the token is sealed, never in clear."""

    user_id: str
    tenant: str = Field(description="The tenant's slug")
    expires_at: str
    token_sealed: str = Field(description="Opened only by fiscus's own mail sender")
    change_id: str | None = None
    factor_id: str | None = None


class MfaResetPayload(_Payload):
    """A staff member reset a person's second factors; the person gets a notice."""

    user_id: str
    tenant: str


class FactorPayload(_Payload):
    """A person's second factor changed (`factor`: `email`, `sms` or `passkey`)."""

    user_id: str
    factor: Literal["email", "sms", "passkey"]


class AddressInUsePayload(_Payload):
    """Someone asked to move another account's email here; its owner gets a notice."""

    user_id: str
    tenant: str


class LockedOutPayload(_Payload):
    """An account was locked after too many failed guesses."""

    user_id: str
    locked_for_s: int


class AnnouncementPayload(_Payload):
    """An announcement to the tenant's members (or some roles), shown in-app."""

    title: str
    body: str
    roles: list[str] | None = None


class DeliveryExhaustedPayload(_Payload):
    """A webhook delivery failed for good after its last retry."""

    delivery_id: str
    endpoint_id: str
    event_id: str
    event_type: str
    attempts: int
    last_status_code: int | None
    last_error: str | None


class EndpointDisabledPayload(_Payload):
    """A webhook endpoint was switched off after failing for too long."""

    endpoint_id: str
    url: str
    reason: str


class WebhookTestPayload(_Payload):
    """Sent only to the endpoint under test (`POST /v1/webhook-endpoints/{id}/test`)."""

    message: str
    endpoint_id: str


class CustomerPayload(_Payload):
    """A bank customer; never their personal data (names, contacts stay sealed)."""

    customer_id: str
    kind: Literal["individual", "business"]
    fields: list[str] | None = Field(None, description="Names of the changed fields")
    kyc_status: Literal["verified", "rejected"] | None = None


class ProductPayload(_Payload):
    """A deposit product."""

    product_id: str
    type: Literal["current", "savings"]
    currency: str


class CustomerUserPayload(_Payload):
    """A portal user's access to a bank customer."""

    customer_id: str
    user_id: str
    role: Literal["owner", "viewer"] | None = Field(None, description="None once unlinked")


class LimitPayload(_Payload):
    """A customer's outgoing limits on one channel and currency (minor units)."""

    customer_id: str
    channel: Literal["online", "api", "branch"]
    currency: str
    daily_limit: int
    monthly_limit: int


class BankAccountPayload(_Payload):
    """A bank account and its new status."""

    account_id: str
    customer_id: str
    ledger_account_id: str
    currency: str
    status: Literal["pending", "active", "frozen", "dormant", "closed"]
    previous_status: str | None = None


class AccountHolderPayload(_Payload):
    """A holder of a joint account (besides its primary one) and its role now."""

    account_id: str
    customer_id: str
    role: Literal["owner", "co_owner", "viewer"] | None = Field(
        description="None once the holder was removed"
    )


class SigningRulePayload(_Payload):
    """Who signs money out of an account: any signing holder, or all of them."""

    account_id: str
    signing_rule: Literal["any", "all"]


class ApprovalPayload(_Payload):
    """A transfer or payment from an all-sign joint account and its approval's status."""

    approval_id: str
    account_id: str
    kind: Literal["transfer", "payment"]
    status: Literal["pending", "approved", "rejected", "expired"]
    previous_status: str | None
    amount: int = Field(description="Integer minor units")
    currency: str
    requested_by: str = Field(description="The portal user who asked")
    result_id: str | None = Field(description="The transfer or payment, once approved")


class BankTransferPayload(_Payload):
    """A completed deposit or internal transfer between bank accounts."""

    transfer_id: str
    kind: Literal["deposit", "internal"]
    from_account_id: str | None
    to_account_id: str
    amount: int = Field(description="Integer minor units")
    currency: str
    channel: Literal["online", "api", "branch"]


class BankPaymentPayload(_Payload):
    """An outgoing payment to another bank changed status."""

    payment_id: str
    status: Literal["held", "pending_settlement", "exported", "settled", "returned", "rejected"]
    previous_status: str | None
    customer_id: str
    from_account_id: str
    amount: int = Field(description="Integer minor units")
    currency: str
    charges: Literal["SHA", "OUR", "BEN"]
    return_reason_code: str | None = Field(description="ISO 20022 return reason, when returned")


def _payment(status: str, previous: str | None, reason: str | None = None) -> dict[str, Any]:
    return {
        "payment_id": _TRANSFER,
        "status": status,
        "previous_status": previous,
        "customer_id": _USER,
        "from_account_id": _ACCOUNT_A,
        "amount": 25000,
        "currency": "EUR",
        "charges": "SHA",
        "return_reason_code": reason,
    }


class BankPaymentExportPayload(_Payload):
    """A pain.001 export batch was made of the payments pending settlement."""

    export_id: str
    payment_ids: list[str]


class BankIncomingPayload(_Payload):
    """Money another bank sent in was booked (to an account, or to suspense)."""

    credit_id: str
    account_id: str | None
    booked_to: Literal["account", "suspense"]
    amount: int = Field(description="Integer minor units")
    currency: str


class SuspenseResolvedPayload(_Payload):
    """Staff resolved a credit on suspense: booked on to an account, or returned."""

    credit_id: str
    resolution: Literal["booked", "returned"]
    account_id: str | None
    return_reason_code: str | None
    transfer_id: str = Field(description="The ledger transfer that moved it off suspense")
    amount: int = Field(description="Integer minor units")
    currency: str


class FxRateSetPayload(_Payload):
    """A staff member entered an exchange rate (`POST /v1/fx/rates`)."""

    id: str
    base: str
    quote: str
    rate: str
    spread: str
    effective_at: str


class MoneyPayload(_Payload):
    """An amount in minor units and its currency."""

    amount: int
    currency: str


class FxConversionPayload(_Payload):
    """A customer converted money between two of their accounts."""

    conversion_id: str
    customer_id: str
    from_account_id: str
    to_account_id: str
    sell: MoneyPayload
    buy: MoneyPayload
    rate: str
    fee: MoneyPayload


class AlertTriggeredPayload(_Payload):
    """An account alert fired; `user_ids` are the customer's portal users told of it."""

    alert_id: str
    account_id: str
    customer_id: str
    kind: str
    threshold: int
    amount: int
    balance: int | None
    currency: str
    transfer_id: str
    user_ids: list[str]


class StatementReadyPayload(_Payload):
    """A monthly statement was closed; `user_ids` are the customer's portal users told of it."""

    statement_id: str
    account_id: str
    customer_id: str
    period_start: str
    period_end: str
    currency: str
    opening: int
    closing: int
    download: str
    user_ids: list[str]


class BudgetThresholdPayload(_Payload):
    """Spending in a budget's category reached a threshold for the first time this month;
    `user_ids` are the customer's portal users told of it."""

    budget_id: str
    customer_id: str
    category: str
    month: str
    threshold_percent: int
    budget: int
    spent: int
    currency: str
    user_ids: list[str]


class FxRatesLoadedPayload(_Payload):
    """The rate provider's rates were stored in the tenant."""

    provider: str
    rates: int


class BusinessDatePayload(_Payload):
    """The tenant's banking business date moved forward."""

    business_date: str
    previous: str


class StandingOrderPayload(_Payload):
    """A standing order as it is after the change; an occurrence's fields when one was paid
    or failed."""

    standing_order_id: str
    customer_id: str
    from_account_id: str
    to_account_id: str
    amount: int = Field(description="Integer minor units")
    currency: str
    status: Literal["active", "paused", "cancelled", "completed"]
    next_due_date: str | None
    due_date: str | None = None
    transfer_id: str | None = None
    error: str | None = Field(None, description="The refusal's problem type slug")
    detail: str | None = None
    attempts: int | None = None
    fields: list[str] | None = None
    user_ids: list[str] | None = Field(
        None, description="On `failed`: the customer's portal users, whom messaging tells"
    )


class InterestPostedPayload(_Payload):
    """A period's interest was posted to an account (one ledger transfer; none when all
    rounded to zero): credit interest less withholding tax, and overdraft interest."""

    posting_id: str
    account_id: str
    customer_id: str
    period_end: str
    credit_gross: int = Field(description="Credit interest before tax, integer minor units")
    tax: int = Field(description="Withholding tax booked to tax payable, minor units")
    overdraft_amount: int = Field(description="Overdraft interest charged, minor units")
    currency: str
    transfer_id: str | None


class FeePayload(_Payload):
    """A fee charged to an account (a ledger transfer to fee income), or given back."""

    fee_id: str
    account_id: str
    customer_id: str
    kind: Literal["maintenance", "transaction", "overdraft", "dormancy"]
    occasion: str
    amount: int = Field(description="Integer minor units")
    currency: str
    description: str
    transfer_id: str
    reversal_transfer_id: str | None = None
    reason: str | None = None


def _fee(**more: Any) -> dict[str, Any]:
    return {
        "fee_id": _EVENT,
        "account_id": _ACCOUNT_A,
        "customer_id": _USER,
        "kind": "maintenance",
        "occasion": "2026-12",
        "amount": 500,
        "currency": "EUR",
        "description": "Monthly maintenance fee 2026-12",
        "transfer_id": _TRANSFER,
        **more,
    }


class CobStepSummary(_Payload):
    """One step's outcome."""

    status: Literal["pending", "running", "completed", "failed"]
    count: int


class CobFinishedPayload(_Payload):
    """A close-of-business run ended (completed, or failed at a step it resumes from)."""

    run_id: str
    business_date: str
    status: Literal["completed", "failed"]
    error: str | None
    steps: dict[str, CobStepSummary]


@dataclass(frozen=True, slots=True)
class EventSpec:
    """One event type: what it means, its payload schema and an example payload."""

    type: str
    meaning: str
    payload: builtins.type[BaseModel]
    example: dict[str, Any]
    outbox: bool = True  # False: delivered directly, never in /v1/events


def _transfer(status: str, kind: str, parent: str | None = None) -> dict[str, Any]:
    return {
        "transfer_id": _TRANSFER,
        "status": status,
        "kind": kind,
        "currency": "EUR",
        "parent_id": parent,
        "legs": [
            {"account_id": _ACCOUNT_A, "direction": "debit", "amount": 1250, "currency": "EUR"},
            {
                "account_id": _ACCOUNT_B,
                "direction": "credit",
                "amount": 1250,
                "currency": "EUR",
                "holder_user_id": _USER,
            },
        ],
    }


_TOKEN = {"user_id": _USER, "tenant": "acme", "expires_at": "2026-11-22T14:35:00+00:00"}

CATALOGUE: tuple[EventSpec, ...] = (
    EventSpec(
        "transfer.pending",
        "A pending transfer reserved its amounts (`pending: true`).",
        TransferPayload,
        _transfer("pending", "transfer"),
    ),
    EventSpec(
        "transfer.posted",
        "Money moved: a transfer was posted, or a pending one was posted (`kind`"
        " `post_pending`, `parent_id` the pending transfer).",
        TransferPayload,
        _transfer("posted", "transfer"),
    ),
    EventSpec(
        "transfer.voided",
        "A pending transfer was voided or timed out; its amounts are released.",
        TransferPayload,
        _transfer("voided", "void_pending", _EVENT),
    ),
    EventSpec(
        "transfer.reversed",
        "A posted transfer was reversed by a new transfer with the opposite legs.",
        TransferPayload,
        _transfer("posted", "reversal", _EVENT),
    ),
    EventSpec(
        "user.password_reset_requested",
        "A password reset was asked for; the mail sender sends the token.",
        TokenMailPayload,
        {**_TOKEN, "token_sealed": "v1.3f9c2a71.AAEC..."},
    ),
    EventSpec(
        "user.email_change_requested",
        "A user asked to change their email; the new address gets a confirmation token.",
        TokenMailPayload,
        {**_TOKEN, "change_id": _EVENT, "token_sealed": "v1.3f9c2a71.AAEC..."},
    ),
    EventSpec(
        "user.mfa_email_code_requested",
        "A second-factor code was asked for (log-in, step-up or enrolment); the mail"
        " sender sends it to the factor's address.",
        TokenMailPayload,
        {**_TOKEN, "factor_id": _EVENT, "token_sealed": "v1.3f9c2a71.AAEC..."},
    ),
    EventSpec(
        "user.mfa_sms_code_requested",
        "A second-factor code was asked for (log-in, step-up or enrolment); the SMS"
        " sender sends it to the factor's number.",
        TokenMailPayload,
        {**_TOKEN, "factor_id": _EVENT, "token_sealed": "v1.3f9c2a71.AAEC..."},
    ),
    EventSpec(
        "user.mfa_factor_enrolled",
        "A person enrolled an email or SMS second factor (its address proven by a code) or a"
        " passkey.",
        FactorPayload,
        {"user_id": _USER, "factor": "sms"},
    ),
    EventSpec(
        "user.mfa_factor_removed",
        "A person removed one of their email or SMS second factors or passkeys.",
        FactorPayload,
        {"user_id": _USER, "factor": "sms"},
    ),
    EventSpec(
        "user.mfa_reset_by_staff",
        "A staff member reset a person's second factors (and ended their sessions); the"
        " person is told by email.",
        MfaResetPayload,
        {"user_id": _USER, "tenant": "acme"},
    ),
    EventSpec(
        "user.email_address_requested",
        "Someone asked to move their email to an address another account of the tenant"
        " uses; that account gets a notice (nothing is revealed to the asker).",
        AddressInUsePayload,
        {"user_id": _USER, "tenant": "acme"},
    ),
    EventSpec(
        "user.locked_out",
        "An account was locked after too many failed passwords or codes.",
        LockedOutPayload,
        {"user_id": _USER, "locked_for_s": 1800},
    ),
    EventSpec(
        "announcement.published",
        "An announcement was published (`POST /v1/announcements`).",
        AnnouncementPayload,
        {"title": "Maintenance", "body": "Saturday 02:00 UTC.", "roles": ["operator"]},
    ),
    EventSpec(
        "webhook.delivery_exhausted",
        "A webhook delivery failed after its last retry.",
        DeliveryExhaustedPayload,
        {
            "delivery_id": _DELIVERY,
            "endpoint_id": _ENDPOINT,
            "event_id": _EVENT,
            "event_type": "transfer.posted",
            "attempts": 8,
            "last_status_code": 503,
            "last_error": None,
        },
    ),
    EventSpec(
        "webhook.endpoint_disabled",
        "A webhook endpoint was disabled after failing for too long.",
        EndpointDisabledPayload,
        {"endpoint_id": _ENDPOINT, "url": "https://example.com/hooks", "reason": "failing"},
    ),
    EventSpec(
        "banking.customer.created",
        "A bank customer was onboarded (KYC pending).",
        CustomerPayload,
        {"customer_id": _ACCOUNT_A, "kind": "individual"},
    ),
    EventSpec(
        "banking.customer.updated",
        "A bank customer's details changed (`fields` names them; values stay sealed).",
        CustomerPayload,
        {"customer_id": _ACCOUNT_A, "kind": "individual", "fields": ["email", "phone"]},
    ),
    EventSpec(
        "banking.customer.kyc_reviewed",
        "A bank customer's KYC review was recorded.",
        CustomerPayload,
        {"customer_id": _ACCOUNT_A, "kind": "business", "kyc_status": "verified"},
    ),
    EventSpec(
        "banking.customer.user_linked",
        "A portal user was linked to a bank customer (or got another role for it).",
        CustomerUserPayload,
        {"customer_id": _ACCOUNT_A, "user_id": _USER, "role": "owner"},
    ),
    EventSpec(
        "banking.customer.user_unlinked",
        "A portal user no longer acts for a bank customer.",
        CustomerUserPayload,
        {"customer_id": _ACCOUNT_A, "user_id": _USER, "role": None},
    ),
    EventSpec(
        "banking.customer.limit_set",
        "A bank customer's outgoing limits on a channel and currency were set.",
        LimitPayload,
        {
            "customer_id": _ACCOUNT_A,
            "channel": "online",
            "currency": "EUR",
            "daily_limit": 100000,
            "monthly_limit": 1000000,
        },
    ),
    EventSpec(
        "banking.product.created",
        "A deposit product was created.",
        ProductPayload,
        {"product_id": _ACCOUNT_B, "type": "current", "currency": "EUR"},
    ),
    *(
        EventSpec(
            f"banking.account.{verb}",
            meaning,
            BankAccountPayload,
            {
                "account_id": _ACCOUNT_A,
                "customer_id": _USER,
                "ledger_account_id": _ACCOUNT_B,
                "currency": "EUR",
                "status": status,
                "previous_status": previous,
            },
        )
        for verb, meaning, status, previous in (
            ("opened", "A bank account was opened (its ledger account with it).", "active", None),
            ("activated", "A pending account reached its opening balance.", "active", "pending"),
            (
                "frozen",
                "A bank account was frozen: it receives but sends nothing.",
                "frozen",
                "active",
            ),
            ("unfrozen", "A frozen or dormant bank account is active again.", "active", "frozen"),
            ("dormant", "A bank account was marked dormant.", "dormant", "active"),
            ("closed", "A bank account was closed at a zero balance.", "closed", "active"),
        )
    ),
    EventSpec(
        "banking.deposit.completed",
        "Cash was paid into a bank account from the settlement account.",
        BankTransferPayload,
        {
            "transfer_id": _TRANSFER,
            "kind": "deposit",
            "from_account_id": None,
            "to_account_id": _ACCOUNT_A,
            "amount": 10000,
            "currency": "EUR",
            "channel": "branch",
        },
    ),
    EventSpec(
        "banking.transfer.completed",
        "Money moved between two bank accounts of the tenant.",
        BankTransferPayload,
        {
            "transfer_id": _TRANSFER,
            "kind": "internal",
            "from_account_id": _ACCOUNT_A,
            "to_account_id": _ACCOUNT_B,
            "amount": 1250,
            "currency": "EUR",
            "channel": "online",
        },
    ),
    EventSpec(
        "banking.fx_rate.set",
        "An exchange rate was entered for a currency pair (`POST /v1/fx/rates`).",
        FxRateSetPayload,
        {
            "id": _EVENT,
            "base": "EUR",
            "quote": "USD",
            "rate": "1.0842",
            "spread": "0.005",
            "effective_at": "2026-11-30T15:00:00+00:00",
        },
    ),
    EventSpec(
        "banking.fx_conversion.completed",
        "A customer converted money between two of their accounts (`POST /v1/fx/conversions`);"
        " the fee is the spread booked to FX income.",
        FxConversionPayload,
        {
            "conversion_id": _TRANSFER,
            "customer_id": _USER,
            "from_account_id": _ACCOUNT_A,
            "to_account_id": _ACCOUNT_B,
            "sell": {"amount": 10000, "currency": "EUR"},
            "buy": {"amount": 10788, "currency": "USD"},
            "rate": "1.078779",
            "fee": {"amount": 54, "currency": "USD"},
        },
    ),
    EventSpec(
        "banking.alert.triggered",
        "A low-balance or large-transaction alert on an account fired (`/v1/alerts`); the"
        " customer's portal users are messaged by their preferences.",
        AlertTriggeredPayload,
        {
            "alert_id": _EVENT,
            "account_id": _ACCOUNT_A,
            "customer_id": _TENANT,
            "kind": "low_balance",
            "threshold": 10000,
            "amount": -2500,
            "balance": 9000,
            "currency": "EUR",
            "transfer_id": _TRANSFER,
            "user_ids": [_USER],
        },
    ),
    EventSpec(
        "banking.statement.ready",
        "An account's monthly statement was closed (`/v1/accounts/{id}/statements`); the"
        " customer's portal users are messaged with its download link by their preferences.",
        StatementReadyPayload,
        {
            "statement_id": _EVENT,
            "account_id": _ACCOUNT_A,
            "customer_id": _TENANT,
            "period_start": "2026-11-01",
            "period_end": "2026-11-30",
            "currency": "EUR",
            "opening": 100000,
            "closing": 270000,
            "download": f"/v1/accounts/{_ACCOUNT_A}/statement?from=2026-11-01&to=2026-11-30"
            "&format=pdf",
            "user_ids": [_USER],
        },
    ),
    EventSpec(
        "banking.budget.threshold_crossed",
        "A customer's spending in a category reached 80 % or 100 % of its monthly budget"
        " (`/v1/budgets`), told once per threshold and month; the customer's portal users are"
        " messaged by their preferences.",
        BudgetThresholdPayload,
        {
            "budget_id": _EVENT,
            "customer_id": _TENANT,
            "category": "groceries",
            "month": "2026-12",
            "threshold_percent": 80,
            "budget": 40000,
            "spent": 32400,
            "currency": "EUR",
            "user_ids": [_USER],
        },
    ),
    EventSpec(
        "banking.fx_rates.loaded",
        "New rates from the exchange-rate provider were stored (`fiscus fx load`, daily job).",
        FxRatesLoadedPayload,
        {"provider": "ecb", "rates": 30},
    ),
    EventSpec(
        "banking.business_date.advanced",
        "Staff moved the tenant's banking business date forward.",
        BusinessDatePayload,
        {"business_date": "2026-12-02", "previous": "2026-12-01"},
    ),
    *(
        EventSpec(
            f"banking.standing_order.{verb}",
            meaning,
            StandingOrderPayload,
            {
                "standing_order_id": _EVENT,
                "customer_id": _USER,
                "from_account_id": _ACCOUNT_A,
                "to_account_id": _TRANSFER,
                "amount": 85000,
                "currency": "EUR",
                "status": status,
                "next_due_date": "2027-02-28" if status != "cancelled" else None,
                **more,
            },
        )
        for verb, meaning, status, more in (
            ("created", "A standing order or scheduled transfer was set up.", "active", {}),
            (
                "updated",
                "A standing order's amount, reference or end changed.",
                "active",
                {"fields": ["amount"]},
            ),
            ("paused", "A standing order was paused.", "paused", {}),
            ("resumed", "A paused standing order was resumed.", "active", {}),
            ("cancelled", "A standing order was cancelled.", "cancelled", {}),
            (
                "executed",
                "A due occurrence was paid by an internal transfer.",
                "active",
                {"due_date": "2027-01-31", "transfer_id": _TRANSFER},
            ),
            (
                "failed",
                "A due occurrence could not be paid after its retries.",
                "active",
                {
                    "due_date": "2027-01-31",
                    "error": "insufficient-funds",
                    "attempts": 3,
                    "detail": "Account ... has 100 minor units EUR available; 85000 requested.",
                    "user_ids": [_USER],
                },
            ),
            (
                "completed",
                "A standing order paid its last occurrence (end date or count).",
                "completed",
                {},
            ),
        )
    ),
    EventSpec(
        "banking.payment.created",
        "An outgoing payment reserved its amount (`pending_settlement`, or `held` on a"
        " sanctions match).",
        BankPaymentPayload,
        _payment("pending_settlement", None),
    ),
    EventSpec(
        "banking.payment.held",
        "The creditor's name matched a sanctions list: the payment waits for a review.",
        BankPaymentPayload,
        _payment("held", None),
    ),
    EventSpec(
        "banking.payment.released",
        "After review, a held payment was queued for settlement.",
        BankPaymentPayload,
        _payment("pending_settlement", "held"),
    ),
    EventSpec(
        "banking.payment.rejected",
        "A payment was refused before it was sent; its reserved amount was freed.",
        BankPaymentPayload,
        _payment("rejected", "held"),
    ),
    EventSpec(
        "banking.payment.settled",
        "The payment rail confirmed a payment: its transfer was posted.",
        BankPaymentPayload,
        _payment("settled", "pending_settlement"),
    ),
    EventSpec(
        "banking.payment.returned",
        "A payment came back with an ISO 20022 reason code; the money is on the account again.",
        BankPaymentPayload,
        _payment("returned", "settled", "AC04"),
    ),
    EventSpec(
        "banking.payment_export.created",
        "The payments pending settlement were written into a pain.001 file and became `exported`.",
        BankPaymentExportPayload,
        {"export_id": _EVENT, "payment_ids": [_TRANSFER]},
    ),
    EventSpec(
        "banking.payment.received",
        "An incoming credit transfer (camt.054 or the API) was booked to an account, or to"
        " suspense when no account has its IBAN.",
        BankIncomingPayload,
        {
            "credit_id": _TRANSFER,
            "account_id": _ACCOUNT_A,
            "booked_to": "account",
            "amount": 12500,
            "currency": "EUR",
        },
    ),
    EventSpec(
        "banking.interest.posted",
        "A posting period's interest was booked to an account by the close of business.",
        InterestPostedPayload,
        {
            "posting_id": _EVENT,
            "account_id": _ACCOUNT_A,
            "customer_id": _USER,
            "period_end": "2026-12-31",
            "credit_gross": 2973,
            "tax": 743,
            "overdraft_amount": 0,
            "currency": "EUR",
            "transfer_id": _TRANSFER,
        },
    ),
    EventSpec(
        "banking.fee.charged",
        "The close of business charged a fee of the account's product to the account.",
        FeePayload,
        _fee(),
    ),
    EventSpec(
        "banking.fee.reversed",
        "Staff gave a fee back (`POST /v1/fees/{id}/reverse`): its transfer was reversed.",
        FeePayload,
        _fee(reversal_transfer_id=_ACCOUNT_B, reason="Goodwill"),
    ),
    EventSpec(
        "banking.cob.finished",
        "A close-of-business run ended; a failed run resumes at its failed step when run again.",
        CobFinishedPayload,
        {
            "run_id": _EVENT,
            "business_date": "2026-12-01",
            "status": "completed",
            "error": None,
            "steps": {"accrue_interest": {"status": "completed", "count": 80}},
        },
    ),
    EventSpec(
        "banking.suspense.resolved",
        "Staff resolved an incoming credit on suspense: booked on to an account (suspense →"
        " account) or returned to the sender (the booking reversed).",
        SuspenseResolvedPayload,
        {
            "credit_id": _EVENT,
            "resolution": "booked",
            "account_id": _ACCOUNT_A,
            "return_reason_code": None,
            "transfer_id": _TRANSFER,
            "amount": 12500,
            "currency": "EUR",
        },
    ),
    *(
        EventSpec(
            f"banking.account.holder_{verb}",
            meaning,
            AccountHolderPayload,
            {"account_id": _ACCOUNT_A, "customer_id": _USER, "role": role},
        )
        for verb, meaning, role in (
            ("added", "A customer became a holder of a (joint) account.", "co_owner"),
            ("changed", "A joint account holder's role or nickname changed.", "viewer"),
            ("removed", "A customer no longer holds a joint account.", None),
        )
    ),
    EventSpec(
        "banking.account.signing_rule_set",
        "Staff set who signs money out of an account: `any` signing holder, or `all`.",
        SigningRulePayload,
        {"account_id": _ACCOUNT_A, "signing_rule": "all"},
    ),
    *(
        EventSpec(
            f"banking.approval.{verb}",
            meaning,
            ApprovalPayload,
            {
                "approval_id": _EVENT,
                "account_id": _ACCOUNT_A,
                "kind": "transfer",
                "status": status,
                "previous_status": previous,
                "amount": 25000,
                "currency": "EUR",
                "requested_by": _USER,
                "result_id": _TRANSFER if status == "approved" else None,
            },
        )
        for verb, meaning, status, previous in (
            (
                "requested",
                "A signing holder of an all-sign account asked for a transfer or payment: it"
                " waits for the other signing holders.",
                "pending",
                None,
            ),
            ("signed", "A signing holder approved; others still have to.", "pending", "pending"),
            (
                "approved",
                "The last signing holder approved: the transfer or payment was made.",
                "approved",
                "pending",
            ),
            (
                "rejected",
                "An approval was rejected (or withdrawn): nothing moved.",
                "rejected",
                "pending",
            ),
            (
                "expired",
                "An approval expired before every holder signed: nothing moved.",
                "expired",
                "pending",
            ),
        )
    ),
    EventSpec(
        "webhook.test",
        "A test delivery to one endpoint; not recorded in the event log.",
        WebhookTestPayload,
        {"message": "A test event from fiscus.", "endpoint_id": _ENDPOINT},
        outbox=False,
    ),
)
EVENT_TYPES = frozenset(spec.type for spec in CATALOGUE)


def markdown() -> str:
    """docs/events.md, generated from CATALOGUE."""
    lines = [
        "# Events",
        "",
        "<!-- Generated by `python -m fiscus.events.catalogue`; do not edit by hand. -->",
        "",
        "Every event fiscus emits. Subscribers receive the payload as `data` in webhook",
        "bodies (Standard Webhooks) and in `GET /v1/events`; webhook endpoints and templates",
        "select events by type or pattern (`transfer.*`). Amounts are integer minor units.",
        "",
        "| type | meaning |",
        "|---|---|",
        *(f"| [`{s.type}`](#{s.type.replace('.', '')}) | {s.meaning} |" for s in CATALOGUE),
    ]
    for spec in CATALOGUE:
        schema = spec.payload.model_json_schema()
        lines += [
            "",
            f"## {spec.type}",
            "",
            spec.meaning + ("" if spec.outbox else " Delivered directly to one endpoint."),
            "",
            "Example payload:",
            "",
            "```json",
            json.dumps(spec.example, indent=2),
            "```",
            "",
            "Payload schema (JSON Schema):",
            "",
            "```json",
            json.dumps(schema, indent=2),
            "```",
        ]
    lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Write docs/events.md, or with `--check` exit 1 when it differs from the catalogue."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--output", type=Path, default=DOC_PATH)
    parser.add_argument("--check", action="store_true", help="fail if the file is stale")
    args = parser.parse_args(argv)
    text = markdown()
    if args.check:
        current = args.output.read_text(encoding="utf-8") if args.output.exists() else ""
        if current != text:
            sys.stderr.write(f"{args.output} is stale: run python -m fiscus.events.catalogue\n")
            return 1
        return 0
    args.output.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
