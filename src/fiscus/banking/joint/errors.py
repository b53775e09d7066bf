"""Joint-account errors clients can see."""

from __future__ import annotations

from fiscus.core.errors import BusinessRuleViolation, Conflict, NotFound, PermissionDenied


class AccountHolderNotFound(NotFound):
    """The customer is not a (non-primary) holder of this account."""

    type_slug = "account-holder-not-found"
    title = "Account holder not found"


class AccountHolderConflict(Conflict):
    """The customer already holds the account (as its primary holder or another one)."""

    type_slug = "account-holder-conflict"
    title = "Already a holder of the account"


class AccountHolderLimitReached(BusinessRuleViolation):
    """An account has at most MAX_HOLDERS holders besides its primary one."""

    type_slug = "account-holder-limit-reached"
    title = "Too many holders"


class AccountHolderPrimary(Conflict):
    """The primary holder (the account's customer) cannot be removed or changed."""

    type_slug = "account-holder-primary"
    title = "The primary holder stays"


class SignaturesRequired(BusinessRuleViolation):
    """Money leaves an all-sign account only through an approval the other holders sign."""

    type_slug = "signatures-required"
    title = "All holders must sign"


class ApprovalNotFound(NotFound):
    """No such approval in this tenant (or not one on an account the caller sees)."""

    type_slug = "approval-not-found"
    title = "Approval not found"


class ApprovalStatusConflict(Conflict):
    """The approval was already rejected or has expired: it can no longer be decided."""

    type_slug = "approval-status-conflict"
    title = "Approval already closed"


class ApprovalExpired(Conflict):
    """The approval waited past its expiry: nothing moves, it is closed now."""

    type_slug = "approval-expired"
    title = "Approval expired"


class ApprovalByRequester(PermissionDenied):
    """The holder who asked for the payment cannot approve it too."""

    type_slug = "approval-by-requester"
    title = "The requester cannot approve"


class ApprovalSignerRequired(PermissionDenied):
    """Only an owner of a signing holder still to sign may approve or reject."""

    type_slug = "approval-signer-required"
    title = "Not a signer of this approval"
