"""Errors of the identity module, each with a stable problem type."""

from __future__ import annotations

from typing import Any

from fiscus.core.errors import (
    BusinessRuleViolation,
    Conflict,
    NotAuthenticated,
    NotFound,
    PermissionDenied,
    RateLimited,
    ServiceUnavailable,
    ValidationProblem,
)


class WeakPassword(ValidationProblem):
    """The new password breaks a rule: length, or it is a commonly used one."""

    type_slug = "password-weak"
    title = "Password refused"

    def __init__(self, detail: str) -> None:
        super().__init__(detail, field="password")


class PasswordHashingBusy(ServiceUnavailable):
    """The process's password-hashing queue is full; retry after Retry-After seconds.

    Not a failed guess: nothing was checked, no counter moves."""

    type_slug = "password-hashing-busy"
    title = "Too many log-ins at once"

    def __init__(self, detail: str, *, retry_after_s: int = 1) -> None:
        super().__init__(detail, headers={"Retry-After": str(max(1, retry_after_s))})
        self.retry_after_s = max(1, retry_after_s)


class InvalidCredentials(NotAuthenticated):
    """Tenant, email and password (or MFA code) do not match an active account."""

    type_slug = "credentials-invalid"
    title = "Invalid credentials"


class InvalidToken(NotAuthenticated):
    """The access, refresh, MFA or reset token is missing, malformed, expired or revoked."""

    type_slug = "token-invalid"
    title = "Invalid or expired token"


class AccountLocked(RateLimited):
    """Too many failed logins: the account is locked for a while (see Retry-After)."""

    type_slug = "account-locked"
    title = "Account temporarily locked"

    def __init__(self, detail: str, *, retry_after_s: int = 60, **kwargs: Any) -> None:
        super().__init__(detail, retry_after_s=retry_after_s, **kwargs)


class LoginThrottled(RateLimited):
    """Login attempts arrive too fast after failures; wait Retry-After seconds."""

    type_slug = "login-throttled"
    title = "Too many login attempts"

    def __init__(self, detail: str, *, retry_after_s: int = 60, **kwargs: Any) -> None:
        super().__init__(detail, retry_after_s=retry_after_s, **kwargs)


class ReauthenticationRequired(PermissionDenied):
    """This change needs a password (and MFA) proof from the last few minutes."""

    type_slug = "reauthentication-required"
    title = "Recent re-authentication required"


class MfaState(Conflict):
    """MFA is not in the state this step needs (e.g. confirming without enrolling)."""

    type_slug = "mfa-state-unexpected"
    title = "MFA not in the expected state"


class InvalidMfaCode(BusinessRuleViolation):
    """The TOTP or backup code is wrong or was already used."""

    type_slug = "mfa-code-invalid"
    title = "Invalid MFA code"


class EmailInUse(Conflict):
    """Another account of this tenant already uses the email address."""

    type_slug = "email-in-use"
    title = "Email address in use in this tenant"


class ApiKeySuspended(NotAuthenticated):
    """The API key's creator is disabled or no longer a member: the key is suspended."""

    type_slug = "api-key-suspended"
    title = "API key suspended"


class UserNotFound(NotFound):
    """No account with this email address in the tenant (or in any tenant)."""

    type_slug = "user-not-found"
    title = "User not found"


class MfaCodeResendThrottled(RateLimited):
    """A code was sent a moment ago, or too many this hour: wait Retry-After seconds."""

    type_slug = "mfa-code-resend-throttled"
    title = "Codes sent too often"

    def __init__(self, detail: str, *, retry_after_s: int = 30, **kwargs: Any) -> None:
        super().__init__(detail, retry_after_s=retry_after_s, **kwargs)


class MfaFactorNotFound(NotFound):
    """No such second factor among yours (or it is not enrolled)."""

    type_slug = "mfa-factor-not-found"
    title = "Second factor not found"


class InvalidPasskey(NotAuthenticated):
    """The passkey response was refused: challenge, origin, signature or counter."""

    type_slug = "passkey-invalid"
    title = "Passkey not accepted"
