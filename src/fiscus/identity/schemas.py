"""API contract of the identity module."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, EmailStr, Field

from fiscus.core.clock import Timestamp

# Free text must not carry NUL (PostgreSQL text cannot hold it); slugs are slug-shaped.
NO_NUL = r"^[^\x00]*$"
SLUG = r"^[A-Za-z0-9][A-Za-z0-9-]{0,62}$"
_ID = "019a9f0e-3c1e-7f60-a1b2-6c0ffee00001"
_WHEN = "2026-11-22T14:05:00.123Z"


def _example(**values: Any) -> ConfigDict:
    return ConfigDict(json_schema_extra={"examples": [values]})


class LoginRequest(BaseModel):
    """Tenant slug, email and password."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"tenant": "acme", "email": "ada@example.com", "password": "•••"}]
        },
    )

    tenant: str = Field(min_length=1, max_length=63, pattern=SLUG)
    email: str = Field(min_length=3, max_length=320, pattern=NO_NUL)
    password: str = Field(min_length=1, max_length=1024, pattern=NO_NUL)


class TokenPair(BaseModel):
    """A 15-minute access token and a single-use refresh token."""

    model_config = _example(
        access_token="eyJhbGciOi...", refresh_token="fsr_...", token_type="bearer", expires_in=900
    )

    access_token: str
    refresh_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int


Factor = Literal["totp", "backup_code", "email", "sms", "passkey"]
# Factors answered with a code (a passkey answers with a signed assertion instead).
CodeFactor = Literal["email", "sms"]
AnyCodeFactor = Literal["totp", "backup_code", "email", "sms"]


class MfaChallenge(BaseModel):
    """Password accepted; send a code of one of `factors` with this token to
    /v1/auth/mfa/verify (for `email` or `sms`, have it sent first: /v1/auth/mfa/send).

    The token is spent by its first successful code and dies after a few wrong ones.
    """

    model_config = _example(
        mfa_required=True, mfa_token="fsm_...", expires_in=300, factors=["totp", "backup_code"]
    )

    mfa_required: Literal[True] = True
    mfa_token: str
    expires_in: int
    factors: list[Factor] = Field(
        default_factory=list, description="The enrolled factors, TOTP (recommended) first"
    )


class MfaVerifyRequest(BaseModel):
    """The MFA challenge token and a code of the chosen factor (without `factor`: a TOTP
    or backup code)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"mfa_token": "fsm_...", "code": "123456", "factor": "totp"}]
        },
    )

    mfa_token: str = Field(max_length=256, pattern=NO_NUL)
    code: str = Field(min_length=6, max_length=32, pattern=NO_NUL)
    factor: AnyCodeFactor | None = None


class MfaCodeSend(BaseModel):
    """The MFA challenge token and the code factor to send a code to."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"mfa_token": "fsm_...", "factor": "sms"}]},
    )

    mfa_token: str = Field(max_length=256, pattern=NO_NUL)
    factor: CodeFactor


class FactorCreate(BaseModel):
    """An email address or phone number (E.164) to receive second-factor codes."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"kind": "sms", "address": "+4915112345678"}]},
    )

    kind: CodeFactor
    address: str = Field(min_length=3, max_length=320, pattern=NO_NUL)


class FactorConfirm(BaseModel):
    """The code sent to the factor's address."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"code": "123456"}]})

    code: str = Field(min_length=6, max_length=6, pattern=r"^[0-9]{6}$")


class FactorRead(BaseModel):
    """An email or SMS second factor of yours (the address masked)."""

    model_config = _example(
        id=_ID,
        kind="sms",
        address="+49***78",
        status="active",
        created_at=_WHEN,
        last_used_at=_WHEN,
        recommended="totp",
    )

    id: str
    kind: CodeFactor
    address: str
    status: Literal["pending", "active"]
    created_at: datetime
    last_used_at: datetime | None
    recommended: Literal["totp"] = Field(
        "totp", description="Codes by email or SMS can be intercepted: TOTP is recommended"
    )


class RefreshRequest(BaseModel):
    """A refresh token from the last login or refresh."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"refresh_token": "fsr_..."}]}
    )

    refresh_token: str = Field(max_length=256, pattern=NO_NUL)


class PasswordResetRequest(BaseModel):
    """Ask for a reset link; the answer is the same whether or not the account exists."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"tenant": "acme", "email": "ada@example.com"}]},
    )

    tenant: str = Field(min_length=1, max_length=63, pattern=SLUG)
    email: str = Field(min_length=3, max_length=320, pattern=NO_NUL)


class PasswordResetConfirm(BaseModel):
    """The emailed token, the new password, and an MFA code when MFA is on."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"token": "fsp_...", "new_password": "•••", "code": "123456"}]
        },
    )

    token: str = Field(max_length=256, pattern=NO_NUL)
    new_password: str = Field(min_length=8, max_length=128, pattern=NO_NUL)
    code: str | None = Field(None, max_length=32, pattern=NO_NUL)


class Accepted(BaseModel):
    """The request was taken; nothing more is revealed."""

    model_config = _example(status="accepted")

    status: Literal["accepted"] = "accepted"


class MeRead(BaseModel):
    """The signed-in user in the current tenant."""

    model_config = _example(
        id=_ID,
        email="ada@example.com",
        display_name="Ada",
        tenant_id=_ID,
        role="admin",
        permissions=["self:read"],
        mfa_enabled=True,
        session_id=_ID,
    )

    id: str
    email: str
    display_name: str
    tenant_id: str
    role: str
    permissions: list[str]
    mfa_enabled: bool
    session_id: str | None


class PasswordChange(BaseModel):
    """Current password (re-authentication) and the new one."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"current_password": "•••", "new_password": "•••"}]},
    )

    current_password: str = Field(max_length=1024, pattern=NO_NUL)
    new_password: str = Field(min_length=8, max_length=128, pattern=NO_NUL)


class EmailChange(BaseModel):
    """A new email address; needs a recent re-authentication. A confirmation token is
    mailed to it (or, if it is in use in the tenant, a notice)."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"email": "ada@example.org"}]}
    )

    email: EmailStr


class EmailChangeConfirm(BaseModel):
    """The token mailed to the new address."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"token": "fse_..."}]}
    )

    token: str = Field(max_length=256, pattern=NO_NUL)


class Reauthenticate(BaseModel):
    """Prove presence again: the password, and a code when MFA is on."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"password": "•••", "code": "123456"}]}
    )

    password: str = Field(max_length=1024, pattern=NO_NUL)
    code: str | None = Field(None, max_length=32, pattern=NO_NUL)
    factor: AnyCodeFactor | None = None
    credential: dict[str, Any] | None = Field(
        None,
        description="Instead of a code: a passkey's assertion (POST /v1/me/passkey-assertion)",
    )


class TotpEnrolment(BaseModel):
    """The TOTP secret to add to an authenticator app (shown during enrolment only)."""

    model_config = _example(
        secret="JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP",
        otpauth_uri="otpauth://totp/fiscus:ada%40example.com?secret=...&issuer=fiscus",
        qr_svg="<svg ...>",
    )

    secret: str
    otpauth_uri: str
    qr_svg: str


class TotpConfirm(BaseModel):
    """The first code from the authenticator app."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"code": "123456"}]})

    code: str = Field(min_length=6, max_length=8, pattern=r"^[0-9]{6,8}$")


class BackupCodes(BaseModel):
    """Ten single-use backup codes, shown once."""

    model_config = _example(backup_codes=["ABCD-EFGH-JKLM"])

    backup_codes: list[str]


class SessionRead(BaseModel):
    """One of your sessions."""

    model_config = _example(
        id=_ID,
        created_at=_WHEN,
        last_seen_at=_WHEN,
        expires_at=_WHEN,
        ip="203.0.113.5",
        user_agent="curl/8",
        mfa=True,
        current=True,
    )

    id: str
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime
    ip: str | None
    user_agent: str | None
    mfa: bool
    current: bool


class LoginEventRead(BaseModel):
    """One login attempt on your account."""

    model_config = _example(
        id=_ID,
        occurred_at=_WHEN,
        ip="203.0.113.5",
        user_agent="curl/8",
        outcome="failure",
        reason="bad_password",
    )

    id: str
    occurred_at: datetime
    ip: str | None
    user_agent: str | None
    outcome: str
    reason: str | None


class UserCreate(BaseModel):
    """An account to add to the tenant (accounts are per tenant: docs/identity.md)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "email": "bob@example.com",
                    "display_name": "Bob",
                    "role": "operator",
                    "password": "•••",
                }
            ]
        },
    )

    email: EmailStr
    display_name: str = Field("", max_length=200, pattern=NO_NUL)
    role: str = Field(max_length=40, pattern=NO_NUL)
    password: str = Field(min_length=8, max_length=128, pattern=NO_NUL)


class UserUpdate(BaseModel):
    """Change a user's role or status in this tenant."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"role": "analyst", "status": "disabled"}]}
    )

    role: str | None = Field(None, max_length=40, pattern=NO_NUL)
    status: Literal["active", "disabled"] | None = None


class UserRead(BaseModel):
    """A user of the tenant."""

    model_config = _example(
        id=_ID,
        email="bob@example.com",
        display_name="Bob",
        role="operator",
        status="active",
        mfa_enabled=False,
        created_at=_WHEN,
    )

    id: str
    email: str
    display_name: str
    role: str
    status: str
    mfa_enabled: bool
    created_at: datetime


class ApiKeyCreate(BaseModel):
    """A service account key: a name, a role, an optional expiry."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"name": "payroll-sync", "role": "operator", "expires_at": "2027-11-22T00:00:00Z"}
            ]
        },
    )

    name: str = Field(min_length=1, max_length=100, pattern=NO_NUL)
    role: str = Field(max_length=40, pattern=NO_NUL)
    expires_at: Timestamp | None = None


class ApiKeyCreated(BaseModel):
    """The new key: `key` is shown this once and never again."""

    model_config = _example(
        id=_ID,
        key="fsk_...",
        name="payroll-sync",
        role="operator",
        created_by=_ID,
        created_by_key_id=None,
    )

    id: str
    key: str
    name: str
    role: str
    created_by: str | None = None
    created_by_key_id: str | None = None


class ApiKeyRead(BaseModel):
    """An API key without its secret, with the person it acts for.

    `status`: `active`, `revoked`, `expired`, or `suspended` while its creator is disabled
    or no longer a member. An active key can do at most what its creator may do now.
    """

    model_config = _example(
        id=_ID,
        name="payroll-sync",
        role="operator",
        prefix="fsk_Ab12",
        status="active",
        created_by=_ID,
        created_by_key_id=None,
        created_at=_WHEN,
        expires_at=None,
        revoked_at=None,
        last_used_at=_WHEN,
    )

    id: str
    name: str
    role: str
    prefix: str
    status: Literal["active", "suspended", "revoked", "expired"]
    created_by: str | None
    created_by_key_id: str | None
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None


class PasskeyRead(BaseModel):
    """One of your passkeys."""

    model_config = _example(id=_ID, name="Laptop", created_at=_WHEN, last_used_at=_WHEN)

    id: str
    name: str
    created_at: datetime
    last_used_at: datetime | None


class PasskeyRegister(BaseModel):
    """A name for the passkey and the `PublicKeyCredential` from
    `navigator.credentials.create()` (JSON, base64url fields)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "name": "Laptop",
                    "credential": {
                        "id": "...",
                        "rawId": "...",
                        "type": "public-key",
                        "response": {"clientDataJSON": "...", "attestationObject": "..."},
                    },
                }
            ]
        },
    )

    name: str = Field(min_length=1, max_length=100, pattern=NO_NUL)
    credential: dict[str, Any]


class PasskeyLoginOptions(BaseModel):
    """The tenant to log in to with a passkey."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"tenant": "acme"}]})

    tenant: str = Field(min_length=1, max_length=63, pattern=SLUG)


class PasskeyLogin(BaseModel):
    """The tenant and the `PublicKeyCredential` from `navigator.credentials.get()`."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "tenant": "acme",
                    "credential": {
                        "id": "...",
                        "rawId": "...",
                        "type": "public-key",
                        "response": {
                            "clientDataJSON": "...",
                            "authenticatorData": "...",
                            "signature": "...",
                            "userHandle": "...",
                        },
                    },
                }
            ]
        },
    )

    tenant: str = Field(min_length=1, max_length=63, pattern=SLUG)
    credential: dict[str, Any]


class MfaPasskeyOptions(BaseModel):
    """The MFA challenge token, to get passkey options for the second login step."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"mfa_token": "fsm_..."}]}
    )

    mfa_token: str = Field(max_length=256, pattern=NO_NUL)


class MfaPasskeyVerify(BaseModel):
    """The MFA challenge token and the `PublicKeyCredential` of one of your passkeys."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"mfa_token": "fsm_...", "credential": {"id": "..."}}]},
    )

    mfa_token: str = Field(max_length=256, pattern=NO_NUL)
    credential: dict[str, Any]
