"""The banking API contract. Amounts are integers in the currency's minor unit."""

from __future__ import annotations

import re
import uuid
from datetime import date, datetime
from typing import Annotated, Any, Literal, Self

import phonenumbers
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    EmailStr,
    Field,
    PlainSerializer,
    StrictInt,
    model_validator,
)

from fiscus.core.clock import rfc3339
from fiscus.core.money import MAX_MINOR, Currency

_ID = "019a9f0e-3c1e-7f60-a1b2-6c0ffee00001"
_OTHER = "019a9f0e-3c1e-7f60-a1b2-6c0ffee00002"
_WHEN = "2026-11-22T14:05:00.123Z"
_IBAN = "DE89370400440532013000"
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")

# Times this API returns: RFC 3339 in UTC with a `Z`.
Timestamp = Annotated[datetime, PlainSerializer(rfc3339, return_type=str)]


def _date_text(value: object) -> object:
    """Only `YYYY-MM-DD` text is a date here (pydantic would read a number as seconds)."""
    if isinstance(value, date):
        return value
    if not isinstance(value, str) or not _ISO_DATE.match(value):
        raise ValueError("a date is written YYYY-MM-DD")
    return value


Day = Annotated[date, BeforeValidator(_date_text)]
Kind = Literal["individual", "business"]
KycStatus = Literal["pending", "verified", "rejected"]
RiskRating = Literal["low", "medium", "high"]
ProductType = Literal["current", "savings"]
Operation = Literal["deposit", "transfer_in", "transfer_out"]
AccountStatus = Literal["pending", "active", "frozen", "dormant", "closed"]
Channel = Literal["online", "api", "branch"]
CustomerUserRole = Literal["owner", "viewer"]
Country = Annotated[str, Field(pattern=r"^[A-Z]{2}$", examples=["DE"])]
Amount = Annotated[StrictInt, Field(ge=1, le=MAX_MINOR, description="Minor units, > 0")]
Limit = Annotated[StrictInt, Field(ge=0, le=MAX_MINOR, description="Minor units")]
Reference = Annotated[str, Field(min_length=1, max_length=140)]


def phone_e164(value: str) -> str:
    """A phone number in international form, as E.164 (`+4930123456`); ValueError if not."""
    try:
        parsed = phonenumbers.parse(value, None)
    except phonenumbers.NumberParseException:
        raise ValueError("not a phone number in international form (+country code)") from None
    if not phonenumbers.is_valid_number(parsed):
        raise ValueError("not a valid phone number")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def tax_id_normal(value: str) -> str:
    """The form tax ids are stored, hashed and compared in: upper case, no spaces or dashes."""
    return "".join(c for c in value.upper() if c.isalnum())


Phone = Annotated[
    str,
    Field(max_length=32, examples=["+4930901820"], description="International form; kept as E.164"),
    AfterValidator(phone_e164),
]
TaxId = Annotated[str, Field(min_length=1, max_length=40), AfterValidator(tax_id_normal)]


class Address(BaseModel):
    """A postal address."""

    model_config = ConfigDict(extra="forbid")

    line1: Annotated[str, Field(min_length=1, max_length=200)]
    line2: Annotated[str | None, Field(max_length=200)] = None
    city: Annotated[str, Field(min_length=1, max_length=100)]
    postal_code: Annotated[str, Field(min_length=1, max_length=20)]
    region: Annotated[str | None, Field(max_length=100)] = None
    country: Country


_CUSTOMER_EXAMPLE: dict[str, Any] = {
    "kind": "individual",
    "name": "Ada Lovelace",
    "email": "ada@example.com",
    "phone": "+442079460000",
    "birth_date": "1990-12-10",
    "tax_id": "DE123456789",
    "tax_residence": "DE",
    "address": {"line1": "1 Main St", "city": "Berlin", "postal_code": "10115", "country": "DE"},
    "risk_rating": "low",
}


class CustomerCreate(BaseModel):
    """A new customer: an individual (with a date of birth) or a business (with a
    registration number)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [_CUSTOMER_EXAMPLE]})

    kind: Kind
    name: Annotated[str, Field(min_length=1, max_length=200)]
    email: EmailStr
    phone: Phone | None = None
    birth_date: Day | None = Field(None, description="Individuals only (required for them)")
    registration_number: Annotated[
        str | None,
        Field(min_length=1, max_length=50, description="Businesses only (required for them)"),
    ] = None
    tax_id: TaxId | None = None
    tax_residence: Country | None = None
    address: Address | None = None
    risk_rating: RiskRating = "low"

    @model_validator(mode="after")
    def _kind_fields(self) -> Self:
        if self.kind == "individual" and (self.birth_date is None or self.registration_number):
            raise ValueError("an individual has a birth_date and no registration_number")
        if self.kind == "business" and (not self.registration_number or self.birth_date):
            raise ValueError("a business has a registration_number and no birth_date")
        return self


class CustomerUpdate(BaseModel):
    """Changes to a customer; omitted fields stay as they are, null clears an optional one."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"phone": "+4930901820", "risk_rating": "medium"}]},
    )

    # Required fields are not nullable: an explicit null is a 400 (see webhooks' update).
    name: Annotated[str, Field(min_length=1, max_length=200)] = None  # type: ignore[assignment]
    email: EmailStr = None  # type: ignore[assignment]
    phone: Phone | None = None
    birth_date: Day = None  # type: ignore[assignment]
    registration_number: Annotated[str, Field(min_length=1, max_length=50)] = None  # type: ignore[assignment]
    tax_id: TaxId | None = None
    tax_residence: Country | None = None
    address: Address | None = None
    risk_rating: RiskRating = None  # type: ignore[assignment]


class KycRead(BaseModel):
    """The KYC review of a customer."""

    status: KycStatus
    reviewed_by: uuid.UUID | None
    reviewed_at: Timestamp | None
    notes: str | None


class CustomerRead(BaseModel):
    """A customer with their personal data (opened for this response only)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    **_CUSTOMER_EXAMPLE,
                    "id": _ID,
                    "registration_number": None,
                    "kyc": {"status": "pending", "reviewed_by": None, "reviewed_at": None,
                            "notes": None},
                    "created_at": _WHEN,
                    "updated_at": _WHEN,
                }
            ]
        }
    )  # fmt: skip

    id: uuid.UUID
    kind: Kind
    name: str
    email: str
    phone: str | None
    birth_date: date | None
    registration_number: str | None
    tax_id: str | None
    tax_residence: str | None
    address: Address | None
    kyc: KycRead
    risk_rating: RiskRating
    created_at: Timestamp
    updated_at: Timestamp


class CustomerPage(BaseModel):
    """One page of customers."""

    data: list[CustomerRead]
    next_cursor: str | None


class KycReview(BaseModel):
    """The outcome of a KYC review; the reviewer is the caller."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"status": "verified", "notes": "Passport checked."}]},
    )

    status: Literal["verified", "rejected"]
    notes: Annotated[str | None, Field(max_length=2000)] = None


class CustomerUserLink(BaseModel):
    """A portal user's role for a customer: owner (reads and pays) or viewer (reads)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"role": "owner"}]})

    role: CustomerUserRole


class CustomerUserRead(BaseModel):
    """A portal user linked to a customer."""

    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "examples": [
                {"customer_id": _ID, "user_id": _OTHER, "role": "owner", "created_at": _WHEN}
            ]
        },
    )

    customer_id: uuid.UUID
    user_id: uuid.UUID
    role: CustomerUserRole
    created_at: Timestamp


class CustomerUserList(BaseModel):
    """The portal users of a customer."""

    data: list[CustomerUserRead]


class LimitWrite(BaseModel):
    """A customer's outgoing limits on one channel, in one currency."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"channel": "online", "currency": "EUR", "daily_limit": 100000,
                 "monthly_limit": 1000000}
            ]
        },
    )  # fmt: skip

    channel: Channel
    currency: Currency
    daily_limit: Limit
    monthly_limit: Limit


class LimitRead(LimitWrite):
    """A customer's outgoing limits on one channel and currency."""

    model_config = ConfigDict(from_attributes=True, extra="ignore")

    customer_id: uuid.UUID
    updated_at: Timestamp


class LimitList(BaseModel):
    """A customer's limits."""

    data: list[LimitRead]


class ProductCreate(BaseModel):
    """A new deposit product."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "name": "Everyday current account",
                    "type": "current",
                    "currency": "EUR",
                    "overdraft_limit": 50000,
                    "minimum_opening_balance": 0,
                    "minimum_balance": 0,
                    "allowed_operations": ["deposit", "transfer_in", "transfer_out"],
                }
            ]
        },
    )

    name: Annotated[str, Field(min_length=1, max_length=200)]
    type: ProductType
    currency: Currency
    overdraft_limit: Limit = 0
    minimum_opening_balance: Limit = 0
    minimum_balance: Limit = 0
    allowed_operations: Annotated[list[Operation], Field(max_length=3)] = [
        "deposit",
        "transfer_in",
        "transfer_out",
    ]


class ProductRead(ProductCreate):
    """A deposit product."""

    model_config = ConfigDict(
        from_attributes=True,
        extra="ignore",
        json_schema_extra={
            "examples": [
                {
                    "id": _ID,
                    "name": "Everyday current account",
                    "type": "current",
                    "currency": "EUR",
                    "overdraft_limit": 50000,
                    "minimum_opening_balance": 0,
                    "minimum_balance": 0,
                    "allowed_operations": ["deposit", "transfer_in", "transfer_out"],
                    "created_at": _WHEN,
                }
            ]
        },
    )

    id: uuid.UUID
    created_at: Timestamp


class ProductPage(BaseModel):
    """One page of products."""

    data: list[ProductRead]
    next_cursor: str | None


class SettingsWrite(BaseModel):
    """How the tenant's IBANs are built: ISO country and national bank code."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"iban_country": "DE", "bank_code": "37040044"}]},
    )

    iban_country: Country
    bank_code: Annotated[str, Field(min_length=1, max_length=20, pattern=r"^[A-Z0-9]+$")]
    approval_expiry_days: Annotated[int | None, Field(ge=1, le=90)] = Field(
        None,
        description="Days a joint account's pending approval waits before it expires (unset: 7)",
    )


class SettingsRead(SettingsWrite):
    """The tenant's banking settings."""

    model_config = ConfigDict(from_attributes=True, extra="ignore")


class AccountCreate(BaseModel):
    """A new deposit account for a customer."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"customer_id": _ID, "product_id": _OTHER, "nickname": "Household"}]
        },
    )

    customer_id: uuid.UUID
    product_id: uuid.UUID
    nickname: Annotated[str | None, Field(max_length=100)] = None


class AccountRead(BaseModel):
    """A deposit account (its money is on `ledger_account_id`)."""

    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "examples": [
                {
                    "id": _ID,
                    "customer_id": _OTHER,
                    "product_id": _OTHER,
                    "ledger_account_id": _OTHER,
                    "iban": _IBAN,
                    "currency": "EUR",
                    "nickname": "Household",
                    "status": "active",
                    "signing_rule": "any",
                    "created_at": _WHEN,
                    "updated_at": _WHEN,
                    "closed_at": None,
                }
            ]
        },
    )

    id: uuid.UUID
    customer_id: uuid.UUID
    product_id: uuid.UUID
    ledger_account_id: uuid.UUID
    iban: str
    currency: str
    nickname: str | None = Field(
        description="The nickname of the holder the portal user acts for (staff: the"
        " primary holder's)"
    )
    status: AccountStatus
    signing_rule: Literal["any", "all"] = Field(
        description="Joint accounts: `any` signing holder may move money alone (either may"
        " sign), or `all` must approve it"
    )
    created_at: Timestamp
    updated_at: Timestamp
    closed_at: Timestamp | None


class AccountPage(BaseModel):
    """One page of accounts."""

    data: list[AccountRead]
    next_cursor: str | None


class BalanceRead(BaseModel):
    """An account's balance from the ledger; `available` counts holds and the overdraft
    (zero while the account cannot send money)."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"balance": 12500, "available": 62500, "currency": "EUR"}]}
    )

    balance: int
    available: int
    currency: str


class TransactionRead(BaseModel):
    """One movement on the account, from the ledger (amount signed: + in, - out)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "transfer_id": _ID,
                    "amount": -1250,
                    "currency": "EUR",
                    "balance_after": 8750,
                    "pending": False,
                    "recorded_at": _WHEN,
                }
            ]
        }
    )

    transfer_id: uuid.UUID
    amount: int
    currency: str
    balance_after: int
    pending: bool
    recorded_at: Timestamp


class TransactionPage(BaseModel):
    """One page of an account's history, newest first."""

    data: list[TransactionRead]
    next_cursor: str | None


class DepositCreate(BaseModel):
    """Cash paid in at the bank: moves money from the settlement account to the account."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"amount": 10000, "currency": "EUR", "reference": "Cash, branch 12"}]
        },
    )

    amount: Amount
    currency: Currency
    reference: Reference


class TransferCreate(BaseModel):
    """Money from one of the tenant's accounts to another, named by id or by IBAN."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "from_account_id": _ID,
                    "to_iban": _IBAN,
                    "amount": 1250,
                    "currency": "EUR",
                    "reference": "Rent December",
                }
            ]
        },
    )

    from_account_id: uuid.UUID
    to_account_id: uuid.UUID | None = None
    to_iban: Annotated[str | None, Field(min_length=5, max_length=42)] = None
    amount: Amount
    currency: Currency
    reference: Reference | None = None

    @model_validator(mode="after")
    def _one_target(self) -> Self:
        if (self.to_account_id is None) == (self.to_iban is None):
            raise ValueError("give exactly one of to_account_id and to_iban")
        return self


class TransferRead(BaseModel):
    """A completed deposit or internal transfer (its `id` is the ledger transfer's)."""

    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "examples": [
                {
                    "id": _ID,
                    "kind": "internal",
                    "status": "completed",
                    "from_account_id": _OTHER,
                    "to_account_id": _ID,
                    "amount": 1250,
                    "currency": "EUR",
                    "reference": "Rent December",
                    "channel": "online",
                    "created_at": _WHEN,
                }
            ]
        },
    )

    id: uuid.UUID
    kind: Literal["deposit", "internal"]
    status: Literal["completed"] = "completed"
    from_account_id: uuid.UUID | None
    to_account_id: uuid.UUID
    amount: int
    currency: str
    reference: str | None
    channel: Channel
    created_at: Timestamp


# --- Business date and standing orders --------------------------------------------------

OrderStatus = Literal["active", "paused", "cancelled", "completed"]
Frequency = Literal["daily", "weekly", "monthly", "yearly"]
ExecutionStatus = Literal["paid", "retrying", "failed"]


class BusinessDateRead(BaseModel):
    """The tenant's banking business date: the day scheduled work runs for."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"business_date": "2026-12-01"}]})

    business_date: date


class BusinessDateWrite(BaseModel):
    """A new business date (today or later; it never moves back)."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"business_date": "2026-12-02"}]}
    )

    business_date: date


class RetryPolicy(BaseModel):
    """How often a payment short of funds is tried again on its day, and how far apart."""

    model_config = ConfigDict(extra="forbid")

    attempts: Annotated[StrictInt, Field(ge=0, le=10, description="Retries after the first try")]
    every_minutes: Annotated[StrictInt, Field(ge=1, le=720)] = 60


_ORDER_EXAMPLE: dict[str, Any] = {
    "from_account_id": _ID,
    "to_iban": _IBAN,
    "amount": 85000,
    "currency": "EUR",
    "reference": "Rent",
    "frequency": "monthly",
    "day": "last",
    "start_date": "2027-01-31",
    "count": 12,
    "retry": {"attempts": 2, "every_minutes": 120},
}


class StandingOrderCreate(TransferCreate):
    """A standing order: the transfer (from an account, to an account by id or IBAN) paid on
    each due date from `start_date` until `end_date` or `count` payments (or until
    cancelled). Monthly on `day` (1-31 or "last"; a day the month lacks is paid on its last
    day), weekly on `weekday` (0 = Monday); a scheduled transfer is `count: 1`."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [_ORDER_EXAMPLE]})

    frequency: Frequency
    day: Annotated[int, Field(ge=1, le=31)] | Literal["last"] | None = None
    weekday: Annotated[int | None, Field(ge=0, le=6)] = None
    start_date: date
    end_date: date | None = None
    count: Annotated[int | None, Field(ge=1, le=10_000)] = None
    retry: RetryPolicy = RetryPolicy(attempts=0)


class StandingOrderUpdate(BaseModel):
    """Changes to an order: amount, reference, and its end (`end_date` or `count`)."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"amount": 90000, "end_date": None}]}
    )

    amount: Amount = None  # type: ignore[assignment]
    reference: Reference | None = None
    end_date: date | None = None
    count: Annotated[int | None, Field(ge=1, le=10_000)] = None


class StandingOrderRead(BaseModel):
    """A standing order; `next_due_date` is its next payment (null once it has ended)."""

    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "examples": [
                {
                    **{k: v for k, v in _ORDER_EXAMPLE.items() if k != "to_iban"},
                    "id": _ID,
                    "customer_id": _OTHER,
                    "to_account_id": _OTHER,
                    "weekday": None,
                    "end_date": None,
                    "status": "active",
                    "next_due_date": "2027-01-31",
                    "executed_count": 0,
                    "created_at": _WHEN,
                    "updated_at": _WHEN,
                }
            ]
        },
    )

    id: uuid.UUID
    customer_id: uuid.UUID
    from_account_id: uuid.UUID
    to_account_id: uuid.UUID
    amount: int
    currency: str
    reference: str | None
    frequency: Frequency
    day: int | Literal["last"] | None
    weekday: int | None
    start_date: date
    end_date: date | None
    count: int | None
    retry: RetryPolicy
    status: OrderStatus
    next_due_date: date | None
    executed_count: int
    created_at: Timestamp
    updated_at: Timestamp


class StandingOrderPage(BaseModel):
    """One page of standing orders."""

    data: list[StandingOrderRead]
    next_cursor: str | None


class ExecutionRead(BaseModel):
    """One occurrence of a standing order and what became of it."""

    model_config = ConfigDict(from_attributes=True)

    due_date: date
    status: ExecutionStatus
    attempts: int
    transfer_id: uuid.UUID | None
    last_error: str | None
    retry_at: Timestamp | None


class ExecutionList(BaseModel):
    """An order's occurrences so far, newest first (at most 100)."""

    data: list[ExecutionRead]


class TransferRequest(TransferCreate):
    """A transfer now, or (with `execute_on`) a scheduled transfer: a standing order paying
    once on that business date."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    **{k: _ORDER_EXAMPLE[k] for k in ("from_account_id", "to_iban", "amount")},
                    "currency": "EUR",
                    "reference": "Rent December",
                    "execute_on": "2027-01-04",
                }
            ]
        },
    )

    execute_on: date | None = Field(
        None, description="Pay on this business date (today or later) instead of now: 202"
    )


# --- Payees and outgoing payments -------------------------------------------------------

_BIC = "COBADEFFXXX"
PartyName = Annotated[str, Field(min_length=1, max_length=140)]
Iban = Annotated[str, Field(min_length=5, max_length=42, examples=[_IBAN])]
Bic = Annotated[str, Field(min_length=8, max_length=11, examples=[_BIC])]


class PayeeCreate(BaseModel):
    """Someone a customer pays outside the bank; IBAN and BIC are checked (schwifty)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "customer_id": _ID,
                    "name": "Grace Hopper",
                    "iban": _IBAN,
                    "bic": _BIC,
                    "nickname": "Landlady",
                }
            ]
        },
    )

    customer_id: uuid.UUID
    name: PartyName
    iban: Iban
    bic: Bic | None = None
    nickname: Annotated[str | None, Field(min_length=1, max_length=70)] = None


class PayeeRead(BaseModel):
    """A payee; `first_paid_at` is empty until the first payment to it."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": _OTHER,
                    "customer_id": _ID,
                    "name": "Grace Hopper",
                    "iban": _IBAN,
                    "bic": _BIC,
                    "nickname": "Landlady",
                    "first_paid_at": None,
                    "created_at": _WHEN,
                }
            ]
        }
    )

    id: uuid.UUID
    customer_id: uuid.UUID
    name: str
    iban: str
    bic: str | None
    nickname: str | None
    first_paid_at: Timestamp | None
    created_at: Timestamp


class PayeePage(BaseModel):
    """One page of payees, oldest first."""

    data: list[PayeeRead]
    next_cursor: str | None


Charges = Literal["SHA", "OUR", "BEN"]
PaymentStatus = Literal["held", "pending_settlement", "exported", "settled", "returned", "rejected"]
# ISO 20022 return reason codes (ExternalReturnReason1Code), documented on PaymentReturn.
ReturnReason = Literal[
    "AC01", "AC04", "AC06", "AG01", "AM04", "AM05", "BE04", "MD07", "MS02", "MS03", "RC01", "FOCR"
]


class Creditor(BaseModel):
    """Who is paid, when not a saved payee."""

    model_config = ConfigDict(extra="forbid")

    name: PartyName
    iban: Iban
    bic: Bic | None = None


class PaymentCreate(BaseModel):
    """Money out of the bank to a payee (or a creditor named here)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "from_account_id": _ID,
                    "payee_id": _OTHER,
                    "amount": 25000,
                    "currency": "EUR",
                    "reference": "Invoice 2026-0042",
                    "purpose": "SUPP",
                    "charges": "SHA",
                    "execute_on": "2026-12-02",
                }
            ]
        },
    )

    from_account_id: uuid.UUID
    payee_id: uuid.UUID | None = None
    creditor: Creditor | None = None
    amount: Amount
    currency: Currency
    reference: Reference | None = None
    purpose: Annotated[
        str | None,
        Field(pattern=r"^[A-Z0-9]{4}$", description="ISO 20022 purpose code, e.g. SALA, SUPP"),
    ] = None
    charges: Charges = "SHA"
    execute_on: date | None = None

    @model_validator(mode="after")
    def _one_creditor(self) -> Self:
        if (self.payee_id is None) == (self.creditor is None):
            raise ValueError("give exactly one of payee_id and creditor")
        return self


class PaymentRead(BaseModel):
    """An outgoing payment and where it stands."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": _ID,
                    "status": "pending_settlement",
                    "customer_id": _OTHER,
                    "from_account_id": _OTHER,
                    "payee_id": _OTHER,
                    "creditor": {"name": "Grace Hopper", "iban": _IBAN, "bic": _BIC},
                    "amount": 25000,
                    "currency": "EUR",
                    "reference": "Invoice 2026-0042",
                    "purpose": "SUPP",
                    "charges": "SHA",
                    "execute_on": "2026-12-02",
                    "screening_hits": 0,
                    "return_reason_code": None,
                    "ledger_transfer_id": _ID,
                    "channel": "online",
                    "created_at": _WHEN,
                    "updated_at": _WHEN,
                }
            ]
        }
    )

    id: uuid.UUID
    status: PaymentStatus
    customer_id: uuid.UUID
    from_account_id: uuid.UUID
    payee_id: uuid.UUID | None
    creditor: Creditor
    amount: int
    currency: str
    reference: str | None
    purpose: str | None
    charges: Charges
    execute_on: date | None
    screening_hits: int = Field(description="Sanctions list entries the creditor's name matched")
    return_reason_code: str | None
    ledger_transfer_id: uuid.UUID
    channel: Channel
    created_at: Timestamp
    updated_at: Timestamp


class PaymentPage(BaseModel):
    """One page of payments, oldest first."""

    data: list[PaymentRead]
    next_cursor: str | None


class PaymentReturn(BaseModel):
    """A payment came back: the ISO 20022 return reason. Codes: AC01 incorrect account
    number, AC04 closed account, AC06 blocked account, AG01 transaction forbidden, AM04
    insufficient funds, AM05 duplicate, BE04 missing creditor address, MD07 creditor
    deceased, MS02 not specified (customer), MS03 not specified (agent), RC01 bank
    identifier incorrect, FOCR following a cancellation request."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"reason_code": "AC04"}]}
    )

    reason_code: ReturnReason


class IncomingCredit(BaseModel):
    """One credit transfer another bank sent in, for rails that call an API."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "bank_reference": "RAIL-2026-12-01-000042",
                    "end_to_end_id": "E2E-INV-42",
                    "creditor_iban": _IBAN,
                    "amount": 12500,
                    "currency": "EUR",
                    "remittance": "Invoice 42",
                }
            ]
        },
    )

    bank_reference: Annotated[
        str, Field(min_length=1, max_length=70, description="The rail's unique reference")
    ]
    end_to_end_id: Annotated[str | None, Field(min_length=1, max_length=35)] = None
    creditor_iban: Iban
    amount: Amount
    currency: Currency
    remittance: Annotated[str | None, Field(max_length=140)] = None


class IncomingCreditRead(BaseModel):
    """A booked incoming credit: on an account, or on suspense (no account has the IBAN)."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    bank_reference: str
    end_to_end_id: str | None
    creditor_iban: str | None
    account_id: uuid.UUID | None
    booked_to: Literal["account", "suspense"]
    amount: int
    currency: str
    created_at: Timestamp
    resolution: Literal["booked", "returned"] | None = Field(
        None, description="A suspense item staff resolved: booked on, or returned"
    )
    resolved_account_id: uuid.UUID | None = None
    return_reason_code: str | None = None
    resolved_at: Timestamp | None = None


class IncomingCreditPage(BaseModel):
    """One page of incoming credits."""

    data: list[IncomingCreditRead]
    next_cursor: str | None


class SuspenseResolve(BaseModel):
    """What to do with a credit on suspense: `book` it on to an account of the tenant, or
    `return` it to the sending bank with an ISO 20022 reason (see PaymentReturn)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"action": "book", "account_id": _ID},
                {"action": "return", "reason_code": "AC01"},
            ]
        },
    )

    action: Literal["book", "return"]
    account_id: uuid.UUID | None = None
    reason_code: ReturnReason | None = None

    @model_validator(mode="after")
    def _one_target(self) -> Self:
        if self.action == "book" and (self.account_id is None or self.reason_code is not None):
            raise ValueError("`book` needs `account_id` (and no `reason_code`)")
        if self.action == "return" and (self.reason_code is None or self.account_id is not None):
            raise ValueError("`return` needs `reason_code` (and no `account_id`)")
        return self


class IncomingImportRead(BaseModel):
    """What an import booked: to accounts, to suspense (listed for staff to resolve), and
    what it left alone (already booked before; debits and unbooked entries)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"booked": [], "suspense": [], "duplicates": 0, "skipped": 0}]
        }
    )

    booked: list[IncomingCreditRead]
    suspense: list[IncomingCreditRead]
    duplicates: int
    skipped: int
