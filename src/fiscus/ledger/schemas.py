"""The ledger's API contract. Amounts are integers in the currency's minor unit."""

from __future__ import annotations

import math
import uuid
from datetime import datetime
from typing import Annotated, Any, Literal, Self

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictInt, model_validator

from fiscus.core.clock import Timestamp
from fiscus.core.money import MAX_MINOR, Currency

MAX_LEGS = 64
MAX_BATCH = 8000
Amount = Annotated[StrictInt, Field(ge=1, le=MAX_MINOR, description="Minor units, > 0")]
Direction = Literal["debit", "credit"]
AccountFlag = Literal["debits_must_not_exceed_credits", "credits_must_not_exceed_debits"]
MAX_METADATA_DEPTH = 8


def _plain_json(value: dict[str, Any]) -> dict[str, Any]:
    """Refuse what JSON (RFC 8259) and PostgreSQL's jsonb cannot hold, and deep nesting.

    Python's JSON parser accepts the tokens NaN and Infinity (and 1e309 becomes infinity);
    jsonb refuses them. Deep nesting costs recursion when stored and rendered. Walked with
    an explicit stack, so no input can exhaust Python's recursion limit here.
    """
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, float) and not math.isfinite(item):
            raise ValueError("numbers must be finite (no NaN or Infinity)")
        if isinstance(item, dict | list):
            if depth > MAX_METADATA_DEPTH:
                raise ValueError(f"nested deeper than {MAX_METADATA_DEPTH} levels")
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)
    return value


Metadata = Annotated[dict[str, Any], Field(max_length=50), AfterValidator(_plain_json)]

ACCOUNT_ID = "0193a5a4-7a2c-7c4e-9a55-3b1f7d0e0001"
OTHER_ID = "0193a5a4-7a2c-7c4e-9a55-3b1f7d0e0002"


class AccountCreate(BaseModel):
    """A new ledger account."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "code": "customer:42:wallet",
                    "name": "Wallet of customer 42",
                    "currency": "EUR",
                    "type": "liability",
                    "normal_side": "credit",
                    "flags": ["debits_must_not_exceed_credits"],
                    "overdraft_limit": 0,
                    "metadata": {"holder_user_id": "0193a5a4-7a2c-7c4e-9a55-3b1f7d0e00aa"},
                }
            ]
        },
    )

    code: Annotated[str, Field(min_length=1, max_length=100)]
    name: Annotated[str, Field(min_length=1, max_length=200)]
    currency: Currency
    type: Literal["asset", "liability", "equity", "income", "expense"]
    normal_side: Direction
    flags: Annotated[list[AccountFlag], Field(max_length=2)] = []
    overdraft_limit: Annotated[StrictInt | None, Field(ge=0, le=MAX_MINOR)] = None
    metadata: Metadata = {}


class AccountLimitUpdate(BaseModel):
    """Change an account's overdraft (or credit) limit; null removes it, absent keeps it."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"overdraft_limit": 5000}]}
    )

    overdraft_limit: Annotated[StrictInt | None, Field(ge=0, le=MAX_MINOR)] = None


class AccountRead(BaseModel):
    """A ledger account and its balances."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"id": ACCOUNT_ID, "code": "cash"}]})

    id: uuid.UUID
    code: str
    name: str
    currency: str
    type: str
    normal_side: Direction
    flags: list[str]
    overdraft_limit: int | None
    metadata: dict[str, Any]
    debits_pending: int
    debits_posted: int
    credits_pending: int
    credits_posted: int
    version: int
    created_at: datetime
    closed_at: datetime | None


class BalanceRead(BaseModel):
    """Balances now or at `as_of`; `balance` is signed by the normal side."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "account_id": ACCOUNT_ID,
                    "currency": "EUR",
                    "debits_posted": 1000,
                    "credits_posted": 5000,
                    "debits_pending": 200,
                    "credits_pending": 0,
                    "balance": 4000,
                    "available": 3800,
                    "as_of": "2026-11-22T14:05:00.123Z",
                }
            ]
        }
    )

    account_id: uuid.UUID
    currency: str
    debits_posted: int
    credits_posted: int
    debits_pending: int
    credits_pending: int
    balance: int
    available: int
    as_of: datetime


class LegIn(BaseModel):
    """One leg: an account, a side and an amount (currency defaults to the transfer's)."""

    model_config = ConfigDict(extra="forbid")

    account_id: uuid.UUID
    direction: Direction
    amount: Amount
    currency: Currency | None = None


class FxIn(BaseModel):
    """The recorded rate of a cross-currency transfer (a decimal string)."""

    model_config = ConfigDict(extra="forbid")

    rate: Annotated[str, Field(pattern=r"^\d{1,12}(\.\d{1,12})?$", examples=["1.0842"])]
    from_currency: Currency
    to_currency: Currency


class TransferCreate(BaseModel):
    """A transfer with N legs, or the two-account short form."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "legs": [
                        {"account_id": ACCOUNT_ID, "direction": "debit", "amount": 1250},
                        {"account_id": OTHER_ID, "direction": "credit", "amount": 1250},
                    ],
                    "currency": "EUR",
                    "description": "Invoice 2026-0042",
                },
                {
                    "debit_account_id": ACCOUNT_ID,
                    "credit_account_id": OTHER_ID,
                    "amount": 1250,
                    "currency": "EUR",
                    "pending": True,
                    "timeout_s": 3600,
                },
            ]
        },
    )

    id: uuid.UUID | None = None
    legs: Annotated[list[LegIn], Field(min_length=2, max_length=MAX_LEGS)] | None = None
    debit_account_id: uuid.UUID | None = None
    credit_account_id: uuid.UUID | None = None
    amount: Amount | None = None
    currency: Currency
    pending: bool = False
    timeout_s: Annotated[StrictInt | None, Field(ge=1, le=366 * 86400)] = None
    description: Annotated[str | None, Field(max_length=1000)] = None
    metadata: Metadata = {}
    effective_at: Timestamp | None = None
    fx: FxIn | None = None
    linked: bool = Field(False, description="In a batch: chain with the next transfer")

    @model_validator(mode="after")
    def _one_form(self) -> Self:
        short = (self.debit_account_id, self.credit_account_id, self.amount)
        if self.legs is None:
            if any(value is None for value in short):
                raise ValueError(
                    "give `legs`, or `debit_account_id`, `credit_account_id` and `amount`"
                )
            assert self.debit_account_id and self.credit_account_id and self.amount
            self.legs = [
                LegIn(account_id=self.debit_account_id, direction="debit", amount=self.amount),
                LegIn(account_id=self.credit_account_id, direction="credit", amount=self.amount),
            ]
        elif any(value is not None for value in short):
            raise ValueError("give either `legs` or the two-account form, not both")
        return self

    def leg_list(self) -> list[LegIn]:
        """The legs (the short form is turned into two legs on validation)."""
        assert self.legs is not None
        return self.legs


class PendingPost(BaseModel):
    """Post a pending transfer, in full or (two legs only) in part."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"amount": 800}]})

    id: uuid.UUID | None = None
    amount: Amount | None = None
    description: Annotated[str | None, Field(max_length=1000)] = None
    metadata: Metadata = {}


class TransferAction(BaseModel):
    """Void a pending transfer or reverse a posted one."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"description": "Customer refund"}]}
    )

    id: uuid.UUID | None = None
    description: Annotated[str | None, Field(max_length=1000)] = None
    metadata: Metadata = {}


class LegRead(BaseModel):
    """One leg of a stored transfer."""

    account_id: uuid.UUID
    direction: Direction
    amount: int
    currency: str


class TransferRead(BaseModel):
    """A stored transfer."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"id": ACCOUNT_ID, "status": "posted", "currency": "EUR"}]}
    )

    id: uuid.UUID
    kind: str
    status: str
    currency: str
    amount: int
    legs: list[LegRead]
    pending: bool
    parent_id: uuid.UUID | None
    timeout_at: datetime | None
    effective_at: datetime
    recorded_at: datetime
    description: str | None
    metadata: dict[str, Any]
    fx: dict[str, Any] | None


class BatchCreate(BaseModel):
    """Up to 8,000 transfers: atomic (all or none) or independent (a result per item)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "mode": "independent",
                    "transfers": [
                        {
                            "debit_account_id": ACCOUNT_ID,
                            "credit_account_id": OTHER_ID,
                            "amount": 100,
                            "currency": "EUR",
                            "linked": True,
                        },
                        {
                            "debit_account_id": OTHER_ID,
                            "credit_account_id": ACCOUNT_ID,
                            "amount": 40,
                            "currency": "EUR",
                        },
                    ],
                }
            ]
        },
    )

    mode: Literal["atomic", "independent"]
    transfers: Annotated[list[TransferCreate], Field(min_length=1, max_length=MAX_BATCH)]


class BatchItemResult(BaseModel):
    """The outcome of one batch item, in request order."""

    index: int
    code: str
    transfer_id: uuid.UUID | None
    status: str


class BatchRead(BaseModel):
    """A result per item, in request order."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "mode": "independent",
                    "results": [
                        {"index": 0, "code": "ok", "transfer_id": ACCOUNT_ID, "status": "posted"},
                        {
                            "index": 1,
                            "code": "exceeds_credits",
                            "transfer_id": None,
                            "status": "refused",
                        },
                    ],
                }
            ]
        }
    )

    mode: str
    results: list[BatchItemResult]


class EntryRead(BaseModel):
    """One entry of an account's history, with the balances right after it."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "transfer_id": OTHER_ID,
                    "leg": 0,
                    "direction": "debit",
                    "posted_amount": 1250,
                    "pending_amount": 0,
                    "currency": "EUR",
                    "account_version": 3,
                    "debits_pending": 0,
                    "debits_posted": 1250,
                    "credits_pending": 0,
                    "credits_posted": 10000,
                    "balance": 8750,
                    "recorded_at": "2026-11-22T14:05:00.123Z",
                }
            ]
        }
    )

    transfer_id: uuid.UUID
    leg: int
    direction: Direction
    posted_amount: int
    pending_amount: int
    currency: str
    account_version: int
    debits_pending: int
    debits_posted: int
    credits_pending: int
    credits_posted: int
    balance: int
    recorded_at: datetime


class TrialBalanceLine(BaseModel):
    """Per currency: total debits and credits over every account of the tenant."""

    currency: str
    debits_posted: int
    credits_posted: int
    debits_pending: int
    credits_pending: int
    balanced: bool


class TrialBalanceRead(BaseModel):
    """The tenant's trial balance; `balanced` is true when every currency balances."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"balanced": True, "currencies": []}]}
    )

    balanced: bool
    currencies: list[TrialBalanceLine]
