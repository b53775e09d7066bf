"""The joint-account API contract: holders, the signing rule, approvals."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from fiscus.banking.schemas import Timestamp

_ID = "019a9f0e-3c1e-7f60-a1b2-6c0ffee00001"
_OTHER = "019a9f0e-3c1e-7f60-a1b2-6c0ffee00002"
_WHEN = "2026-11-22T14:05:00.123Z"

HolderRole = Literal["owner", "co_owner", "viewer"]
SigningRule = Literal["any", "all"]
ApprovalStatus = Literal["pending", "approved", "rejected", "expired"]
Nickname = Annotated[str | None, Field(max_length=100)]


class HolderCreate(BaseModel):
    """Another customer to hold the account: `owner` or `co_owner` (they sign) or `viewer`."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"customer_id": _ID, "role": "co_owner", "nickname": "Our home"}]
        },
    )

    customer_id: uuid.UUID
    role: HolderRole
    nickname: Nickname = None


class HolderUpdate(BaseModel):
    """A holder's new role or nickname (a field left out stays as it is)."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"role": "viewer", "nickname": "Kids"}]}
    )

    role: HolderRole | None = None
    nickname: Nickname = None


class HolderRead(BaseModel):
    """A holder of an account; `primary` is the account's own customer."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "customer_id": _ID,
                    "role": "co_owner",
                    "nickname": "Our home",
                    "primary": False,
                    "added_at": _WHEN,
                }
            ]
        }
    )

    customer_id: uuid.UUID
    role: HolderRole
    nickname: str | None
    primary: bool
    added_at: Timestamp


class HolderPage(BaseModel):
    """The holders of an account, the primary first (an account has only a few)."""

    data: list[HolderRead]
    next_cursor: str | None = None


class SigningRuleWrite(BaseModel):
    """Who must sign money out of the account: `any` signing holder, or `all` of them."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"signing_rule": "all"}]}
    )

    signing_rule: SigningRule


class SignerRead(BaseModel):
    """A signing holder of an approval and its decision (null: not yet)."""

    model_config = ConfigDict(from_attributes=True)

    customer_id: uuid.UUID
    decision: Literal["approved", "rejected"] | None
    decided_by: uuid.UUID | None
    decided_at: Timestamp | None


class ApprovalRead(BaseModel):
    """A transfer or payment from an all-sign account waiting for the other signers."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": _ID,
                    "account_id": _OTHER,
                    "kind": "transfer",
                    "status": "pending",
                    "amount": 25000,
                    "currency": "EUR",
                    "request": {"from_account_id": _OTHER, "to_account_id": _ID,
                                "amount": 25000, "currency": "EUR"},
                    "requested_by": _ID,
                    "signers": [
                        {"customer_id": _ID, "decision": "approved", "decided_by": _ID,
                         "decided_at": _WHEN},
                        {"customer_id": _OTHER, "decision": None, "decided_by": None,
                         "decided_at": None},
                    ],
                    "result_id": None,
                    "expires_at": _WHEN,
                    "created_at": _WHEN,
                    "updated_at": _WHEN,
                }
            ]
        }
    )  # fmt: skip

    id: uuid.UUID
    account_id: uuid.UUID
    kind: Literal["transfer", "payment"]
    status: ApprovalStatus = Field(
        description="`expired` once `expires_at` passed while pending: nothing moves then"
    )
    amount: int
    currency: str
    request: dict[str, Any] = Field(description="The original request body")
    requested_by: uuid.UUID = Field(description="The portal user who asked")
    signers: list[SignerRead] = Field(
        description="Every signing holder: the asker's customers approved when it asked"
    )
    result_id: uuid.UUID | None = Field(
        description="Once approved: the banking transfer or payment that moved the money"
    )
    expires_at: Timestamp
    created_at: Timestamp
    updated_at: Timestamp


class ApprovalPage(BaseModel):
    """One page of approvals."""

    data: list[ApprovalRead]
    next_cursor: str | None
