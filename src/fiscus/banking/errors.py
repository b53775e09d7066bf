"""Banking errors clients can see."""

from __future__ import annotations

from fiscus.core.errors import (
    BusinessRuleViolation,
    Conflict,
    NotFound,
    PermissionDenied,
    ValidationProblem,
)


class CustomerNotFound(NotFound):
    """No such customer in this tenant (or not one the caller acts for)."""

    type_slug = "customer-not-found"
    title = "Customer not found"


class CustomerUserInvalid(BusinessRuleViolation):
    """Only a member of the tenant with the `customer` role can be linked to a customer."""

    type_slug = "customer-user-invalid"
    title = "Not a customer portal user"


class CustomerUserNotFound(NotFound):
    """The user is not linked to this customer."""

    type_slug = "customer-user-not-found"
    title = "Customer user not found"


class ProductNotFound(NotFound):
    """No such deposit product in this tenant."""

    type_slug = "product-not-found"
    title = "Product not found"


class BankAccountNotFound(NotFound):
    """No such bank account in this tenant (or not one the caller acts for)."""

    type_slug = "bank-account-not-found"
    title = "Account not found"


class BankTransferNotFound(NotFound):
    """No such bank transfer in this tenant (or not one the caller acts for)."""

    type_slug = "bank-transfer-not-found"
    title = "Transfer not found"


class CustomerNotVerified(BusinessRuleViolation):
    """Accounts are opened only for customers whose KYC review verified them."""

    type_slug = "customer-not-verified"
    title = "Customer not verified"


class AccountFrozen(BusinessRuleViolation):
    """The account is frozen: it receives money but sends none."""

    type_slug = "account-frozen"
    title = "Account frozen"


class AccountDormant(BusinessRuleViolation):
    """The account is dormant: it receives money but sends none until reactivated."""

    type_slug = "account-dormant"
    title = "Account dormant"


class AccountNotActive(BusinessRuleViolation):
    """The account is still pending (not funded to its opening balance) and sends nothing."""

    type_slug = "account-not-active"
    title = "Account not active"


class AccountClosed(BusinessRuleViolation):
    """The account is closed: it neither sends nor receives money."""

    type_slug = "account-closed"
    title = "Account closed"


class AccountStatusConflict(Conflict):
    """The account's status does not allow this change (e.g. unfreezing an active account)."""

    type_slug = "account-status-conflict"
    title = "Account status does not allow this"


class AccountBalanceNotZero(BusinessRuleViolation):
    """An account closes only at a zero balance with nothing pending."""

    type_slug = "account-balance-not-zero"
    title = "Account balance not zero"


class InsufficientFunds(BusinessRuleViolation):
    """The debit would take the account past its balance and overdraft."""

    type_slug = "insufficient-funds"
    title = "Insufficient funds"


class AccountCurrencyMismatch(BusinessRuleViolation):
    """The amount's currency is not the account's."""

    type_slug = "account-currency-mismatch"
    title = "Currency does not match the account"


class OperationNotAllowed(BusinessRuleViolation):
    """The account's product does not allow this operation (deposit, transfer in or out)."""

    type_slug = "operation-not-allowed"
    title = "Operation not allowed by the product"


class TransferLimitExceeded(BusinessRuleViolation):
    """The transfer would pass the customer's daily or monthly outgoing limit."""

    type_slug = "transfer-limit-exceeded"
    title = "Transfer limit exceeded"


class TransferSameAccount(ValidationProblem):
    """A transfer needs two different accounts."""

    type_slug = "transfer-same-account"
    title = "Transfer to the same account"


class TransferKeyReused(Conflict):
    """The Idempotency-Key was used for a different transfer."""

    type_slug = "transfer-key-reused"
    title = "Idempotency key used for another transfer"


class IbanInvalid(ValidationProblem):
    """The IBAN is malformed or its check digits are wrong."""

    type_slug = "iban-invalid"
    title = "Invalid IBAN"


class BankSettingsInvalid(ValidationProblem):
    """The IBAN country and bank code do not make valid IBANs."""

    type_slug = "bank-settings-invalid"
    title = "Invalid banking settings"


class BusinessDateBackwards(Conflict):
    """The business date only moves forward: scheduled work has run for the days behind it."""

    type_slug = "business-date-backwards"
    title = "Business date cannot move back"


class StandingOrderNotFound(NotFound):
    """No such standing order in this tenant (or not one the caller acts for)."""

    type_slug = "standing-order-not-found"
    title = "Standing order not found"


class StandingOrderStatusConflict(Conflict):
    """The standing order's status does not allow this (e.g. resuming a cancelled order)."""

    type_slug = "standing-order-status-conflict"
    title = "Standing order status does not allow this"


class StandingOrderStartPast(BusinessRuleViolation):
    """A standing order starts on or after the tenant's business date."""

    type_slug = "standing-order-start-in-past"
    title = "Standing order starts in the past"


class PayeeNotFound(NotFound):
    """No such payee in this tenant (or not one the caller acts for, or deleted)."""

    type_slug = "payee-not-found"
    title = "Payee not found"


class BicInvalid(ValidationProblem):
    """The BIC is malformed (ISO 9362: 8 or 11 characters, a known country)."""

    type_slug = "bic-invalid"
    title = "Invalid BIC"


class PaymentNotFound(NotFound):
    """No such outgoing payment in this tenant (or not one the caller acts for)."""

    type_slug = "payment-not-found"
    title = "Payment not found"


class PaymentStatusConflict(Conflict):
    """The payment's status does not allow this step (e.g. settling a returned payment)."""

    type_slug = "payment-status-conflict"
    title = "Payment status does not allow this"


class ExecutionDateInvalid(ValidationProblem):
    """The requested execution date is in the past."""

    type_slug = "execution-date-invalid"
    title = "Execution date in the past"


class PaymentExportEmpty(BusinessRuleViolation):
    """No payment is pending settlement: there is nothing to put in a pain.001 file."""

    type_slug = "payment-export-empty"
    title = "Nothing to export"


class PaymentExportNotFound(NotFound):
    """No such pain.001 export in this tenant."""

    type_slug = "payment-export-not-found"
    title = "Export not found"


class StepUpRequired(PermissionDenied):
    """The first payment to a new payee needs a fresh password and MFA proof."""

    type_slug = "step-up-required"
    title = "Step-up authentication required"


class IncomingCreditNotFound(NotFound):
    """No such incoming credit in this tenant."""

    type_slug = "incoming-credit-not-found"
    title = "Incoming credit not found"


class IncomingCreditStatusConflict(Conflict):
    """Only a credit on suspense, not yet resolved, can be booked on or returned."""

    type_slug = "incoming-credit-status-conflict"
    title = "Incoming credit already resolved"
