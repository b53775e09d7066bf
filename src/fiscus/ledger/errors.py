"""Ledger errors. A refused transfer carries exactly one result code (see `codes`)."""

from __future__ import annotations

from typing import Any

from fiscus.core.errors import PROBLEM_BASE, BusinessRuleViolation, Conflict, NotFound
from fiscus.ledger.codes import CODE_TITLES, INVALID_REQUEST, ResultCode


class LedgerAccountNotFound(NotFound):
    """No ledger account with this id in the tenant."""

    type_slug = "ledger-account-not-found"
    title = "Ledger account not found"


class LedgerTransferNotFound(NotFound):
    """No transfer with this id in the tenant."""

    type_slug = "ledger-transfer-not-found"
    title = "Transfer not found"


class LedgerAccountCodeTaken(Conflict):
    """Another ledger account of the tenant already uses this code."""

    type_slug = "ledger-account-code-taken"
    title = "Account code already in use"


class LedgerAccountLimitInvalid(BusinessRuleViolation):
    """The new limit would leave the account past it already."""

    type_slug = "ledger-account-limit-invalid"
    title = "Limit below the current balance"


class LedgerAmountOutOfRange(BusinessRuleViolation):
    """A balance or a transfer's total would pass the ledger's range of 2**63 - 1 minor units."""

    type_slug = "ledger-amount-out-of-range"
    title = "Amount out of the ledger's range"


class TransferRefused(BusinessRuleViolation):
    """A transfer was refused; the problem `type` ends with its result code."""

    type_slug = "transfer-refused"
    title = "Transfer refused"
    # Only the routes that move money can answer with a result code (the OpenAPI document).
    openapi_permissions = ("transfers:create", "transfers:manage")

    @classmethod
    def openapi_variants(cls) -> list[tuple[str, str]]:
        """The (slug, title) of every result code this class is raised with."""
        return [(c.value, CODE_TITLES[c]) for c in ResultCode if _status_of(c) == cls.status]

    def __init__(self, detail: str, *, code: ResultCode | None = None, **kwargs: Any) -> None:
        # The ledger always raises it with a code (see `transfer_refused`).
        self.code = code
        extra = {"code": code.value} if code is not None else {}
        super().__init__(detail, extra={**extra, **kwargs.pop("extra", {})}, **kwargs)

    @property
    def type_uri(self) -> str:
        """`.../problems/<result code>`, so clients branch on the exact reason."""
        return PROBLEM_BASE + (self.code.value if self.code is not None else self.type_slug)

    def problem(self) -> dict[str, Any]:
        """The problem body, with the title of the result code."""
        body = super().problem()
        if self.code is not None:
            body["title"] = CODE_TITLES[self.code]
        return body


class TransferInvalid(TransferRefused):
    """The transfer is malformed in a way only the ledger can name (an exchange rate)."""

    type_slug = "transfer-invalid"
    title = "Transfer invalid"
    status = 400


class TransferExistsDifferently(TransferRefused):
    """The transfer id or idempotency key was already used for a different transfer."""

    type_slug = "transfer-exists-differently"
    title = "Transfer id already used"
    status = 409


class TransferTargetNotFound(TransferRefused):
    """The transfer to post, void or reverse does not exist in the tenant."""

    type_slug = "transfer-target-not-found"
    title = "Transfer not found"
    # Like every object named in a path: not found, or another tenant's (never revealed).
    status = 404


TARGET_NOT_FOUND = frozenset({ResultCode.PENDING_TRANSFER_NOT_FOUND, ResultCode.TRANSFER_NOT_FOUND})


def _status_of(code: ResultCode) -> int:
    if code is ResultCode.EXISTS:
        return 200  # an identical retry: the original transfer, never a problem
    if code in TARGET_NOT_FOUND:
        return 404
    if code in INVALID_REQUEST:
        return 400
    return 409 if code.value.startswith("exists_with_different_") else 422


def transfer_refused(code: ResultCode, detail: str | None = None) -> TransferRefused:
    """The error for a result code: 409 for exists_with_different_*, 404 when the transfer
    to act on is missing, 400 for a malformed request, else 422."""
    detail = detail or CODE_TITLES[code]
    if code.value.startswith("exists_with_different_"):
        return TransferExistsDifferently(detail, code=code)
    if code in TARGET_NOT_FOUND:
        return TransferTargetNotFound(detail, code=code)
    if code in INVALID_REQUEST:
        return TransferInvalid(detail, code=code)
    return TransferRefused(detail, code=code)


class BatchRefused(BusinessRuleViolation):
    """An atomic batch was refused as a whole because one item was refused."""

    type_slug = "batch-refused"
    title = "Atomic batch refused"
