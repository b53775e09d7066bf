"""Result codes of refused transfers, in precedence order.

When a transfer breaks several rules, it is refused with the first code of this list
that applies: request-shape rules first (they need no database), then the idempotency
checks (so a retry of an accepted transfer always gets its original outcome, whatever
happened to the accounts since), then the accounts, then the balances.
"""

from __future__ import annotations

from enum import StrEnum


class ResultCode(StrEnum):
    """Why a transfer was refused (or `exists`: an identical retry, not a refusal)."""

    ACCOUNTS_MUST_BE_DIFFERENT = "accounts_must_be_different"
    TRANSFER_MUST_BALANCE = "transfer_must_balance"
    FX_RATE_MUST_BE_POSITIVE = "fx_rate_must_be_positive"
    FX_ON_SINGLE_CURRENCY_TRANSFER = "fx_on_single_currency_transfer"
    FX_CURRENCIES_NOT_IN_TRANSFER = "fx_currencies_not_in_transfer"
    TIMEOUT_REQUIRES_PENDING = "timeout_requires_pending"
    EFFECTIVE_AT_IN_FUTURE = "effective_at_in_future"
    EFFECTIVE_AT_TOO_OLD = "effective_at_too_old"
    EXISTS_WITH_DIFFERENT_ID = "exists_with_different_id"
    EXISTS_WITH_DIFFERENT_KIND = "exists_with_different_kind"
    EXISTS_WITH_DIFFERENT_PARENT = "exists_with_different_parent"
    EXISTS_WITH_DIFFERENT_CURRENCY = "exists_with_different_currency"
    EXISTS_WITH_DIFFERENT_LEGS = "exists_with_different_legs"
    EXISTS_WITH_DIFFERENT_AMOUNT = "exists_with_different_amount"
    EXISTS_WITH_DIFFERENT_PENDING = "exists_with_different_pending"
    EXISTS_WITH_DIFFERENT_TIMEOUT = "exists_with_different_timeout"
    EXISTS_WITH_DIFFERENT_EFFECTIVE_AT = "exists_with_different_effective_at"
    EXISTS_WITH_DIFFERENT_DESCRIPTION = "exists_with_different_description"
    EXISTS_WITH_DIFFERENT_METADATA = "exists_with_different_metadata"
    EXISTS = "exists"
    PENDING_TRANSFER_NOT_FOUND = "pending_transfer_not_found"
    PENDING_TRANSFER_NOT_PENDING = "pending_transfer_not_pending"
    PENDING_TRANSFER_ALREADY_POSTED = "pending_transfer_already_posted"
    PENDING_TRANSFER_ALREADY_VOIDED = "pending_transfer_already_voided"
    PENDING_TRANSFER_EXPIRED = "pending_transfer_expired"
    PARTIAL_POST_REQUIRES_TWO_LEGS = "partial_post_requires_two_legs"
    EXCEEDS_PENDING_TRANSFER_AMOUNT = "exceeds_pending_transfer_amount"
    TRANSFER_NOT_FOUND = "transfer_not_found"
    TRANSFER_NOT_REVERSIBLE = "transfer_not_reversible"
    TRANSFER_NOT_POSTED = "transfer_not_posted"
    TRANSFER_ALREADY_REVERSED = "transfer_already_reversed"
    ACCOUNT_NOT_FOUND = "account_not_found"
    CURRENCY_MISMATCH = "currency_mismatch"
    ACCOUNT_CLOSED = "account_closed"
    EXCEEDS_OVERDRAFT_LIMIT = "exceeds_overdraft_limit"
    EXCEEDS_CREDITS = "exceeds_credits"
    EXCEEDS_CREDIT_LIMIT = "exceeds_credit_limit"
    EXCEEDS_DEBITS = "exceeds_debits"
    LINKED_EVENT_FAILED = "linked_event_failed"
    LINKED_EVENT_CHAIN_OPEN = "linked_event_chain_open"
    BATCH_NOT_ATTEMPTED = "batch_not_attempted"


CODE_TITLES: dict[ResultCode, str] = {
    ResultCode.ACCOUNTS_MUST_BE_DIFFERENT: "An account appears in more than one leg",
    ResultCode.TRANSFER_MUST_BALANCE: "Debits and credits differ in a currency",
    ResultCode.FX_RATE_MUST_BE_POSITIVE: "An exchange rate must be greater than zero",
    ResultCode.FX_ON_SINGLE_CURRENCY_TRANSFER: "An exchange rate on a transfer of one currency",
    ResultCode.FX_CURRENCIES_NOT_IN_TRANSFER: "The rate's two currencies are not the transfer's",
    ResultCode.TIMEOUT_REQUIRES_PENDING: "A timeout is only allowed on a pending transfer",
    ResultCode.EFFECTIVE_AT_IN_FUTURE: "effective_at is in the future",
    ResultCode.EFFECTIVE_AT_TOO_OLD: "effective_at is older than the back-dating window",
    ResultCode.EXISTS_WITH_DIFFERENT_ID: "The idempotency key was used with another id",
    ResultCode.EXISTS_WITH_DIFFERENT_KIND: "The id was used for another kind of transfer",
    ResultCode.EXISTS_WITH_DIFFERENT_PARENT: "The id was used for another parent transfer",
    ResultCode.EXISTS_WITH_DIFFERENT_CURRENCY: "The id was used with another currency",
    ResultCode.EXISTS_WITH_DIFFERENT_LEGS: "The id was used with other accounts or directions",
    ResultCode.EXISTS_WITH_DIFFERENT_AMOUNT: "The id was used with other amounts",
    ResultCode.EXISTS_WITH_DIFFERENT_PENDING: "The id was used with another pending flag",
    ResultCode.EXISTS_WITH_DIFFERENT_TIMEOUT: "The id was used with another timeout",
    ResultCode.EXISTS_WITH_DIFFERENT_EFFECTIVE_AT: "The id was used with another effective_at",
    ResultCode.EXISTS_WITH_DIFFERENT_DESCRIPTION: "The id was used with another description",
    ResultCode.EXISTS_WITH_DIFFERENT_METADATA: "The id was used with other metadata",
    ResultCode.EXISTS: "The transfer already exists",
    ResultCode.PENDING_TRANSFER_NOT_FOUND: "No such pending transfer",
    ResultCode.PENDING_TRANSFER_NOT_PENDING: "The transfer was not created as pending",
    ResultCode.PENDING_TRANSFER_ALREADY_POSTED: "The pending transfer was already posted",
    ResultCode.PENDING_TRANSFER_ALREADY_VOIDED: "The pending transfer was already voided",
    ResultCode.PENDING_TRANSFER_EXPIRED: "The pending transfer has timed out",
    ResultCode.PARTIAL_POST_REQUIRES_TWO_LEGS: "Only two-leg pending transfers post in part",
    ResultCode.EXCEEDS_PENDING_TRANSFER_AMOUNT: "The amount exceeds the pending amount",
    ResultCode.TRANSFER_NOT_FOUND: "No such transfer",
    ResultCode.TRANSFER_NOT_REVERSIBLE: "Voids and reversals cannot be reversed",
    ResultCode.TRANSFER_NOT_POSTED: "Only a posted transfer can be reversed",
    ResultCode.TRANSFER_ALREADY_REVERSED: "The transfer was already reversed",
    ResultCode.ACCOUNT_NOT_FOUND: "An account of the transfer does not exist",
    ResultCode.CURRENCY_MISMATCH: "A leg's currency differs from its account's",
    ResultCode.ACCOUNT_CLOSED: "An account of the transfer is closed",
    ResultCode.EXCEEDS_OVERDRAFT_LIMIT: "The debit would pass the account's overdraft limit",
    ResultCode.EXCEEDS_CREDITS: "The debit would exceed the account's credits",
    ResultCode.EXCEEDS_CREDIT_LIMIT: "The credit would pass the account's credit limit",
    ResultCode.EXCEEDS_DEBITS: "The credit would exceed the account's debits",
    ResultCode.LINKED_EVENT_FAILED: "Another transfer of the linked chain was refused",
    ResultCode.LINKED_EVENT_CHAIN_OPEN: "The batch ends inside a linked chain",
    ResultCode.BATCH_NOT_ATTEMPTED: "Not attempted: an earlier item refused the atomic batch",
}

PRECEDENCE: tuple[ResultCode, ...] = tuple(ResultCode)
# Malformed requests rather than refusals of a well-formed one: answered 400, not 422.
INVALID_REQUEST: frozenset[ResultCode] = frozenset(
    {
        ResultCode.FX_RATE_MUST_BE_POSITIVE,
        ResultCode.FX_ON_SINGLE_CURRENCY_TRANSFER,
        ResultCode.FX_CURRENCIES_NOT_IN_TRANSFER,
    }
)
