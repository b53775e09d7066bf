"""Tables of the identity module: accounts, sessions, refresh tokens, API keys, MFA, history."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, Index, Integer, LargeBinary, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from fiscus.core.models import Base
from fiscus.core.tenancy import TenantScoped
from fiscus.identity import sealed as _sealed  # noqa: F401 - registers the sealed columns


class User(TenantScoped, Base):
    """A person's login in ONE tenant: email, password, MFA. The same email in two tenants
    is two unrelated accounts (docs/identity.md); the role lives in the membership.

    Email and display name are sealed with the key ring (identity.sealed); `email_hash`
    is their blind index, unique per tenant, and what log-in looks up.
    """

    __tablename__ = "users"
    __table_args__ = (UniqueConstraint("tenant_id", "email_hash"),)

    tenant_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    email_hash: Mapped[bytes] = mapped_column(LargeBinary)
    email_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    display_name_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    password_hash: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(Text)  # active | disabled
    # TOTP secret sealed with the key ring; null until enrolment is started.
    totp_secret_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    totp_enabled: Mapped[bool]
    # The last accepted TOTP time-step: a code is accepted only for a later step (no replay).
    totp_last_step: Mapped[int | None] = mapped_column(BigInteger)
    password_changed_at: Mapped[datetime]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class BackupCode(TenantScoped, Base):
    """One single-use MFA backup code of an account, stored as a look-up hash.

    `legacy_hash` marks codes made before the key ring (an HMAC under a key derived from
    the root secret; migration 0105): accepted while that root secret is configured.
    """

    __tablename__ = "mfa_backup_codes"

    tenant_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    code_hash: Mapped[bytes] = mapped_column(LargeBinary, primary_key=True)
    created_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    legacy_hash: Mapped[bool]


class MfaChallenge(TenantScoped, Base):
    """The second login step: "password checked, code due". Spent by its first success."""

    __tablename__ = "mfa_challenges"
    __table_args__ = (Index("ix_mfa_challenges_tenant_id_user_id", "tenant_id", "user_id"),)

    tenant_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    user_id: Mapped[uuid.UUID]
    token_hash: Mapped[bytes] = mapped_column(LargeBinary, unique=True)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(Integer, server_default=text("0"))


class EmailChange(TenantScoped, Base):
    """A requested email change, done when the token mailed to the new address comes back."""

    __tablename__ = "email_changes"
    __table_args__ = (Index("ix_email_changes_tenant_id_user_id", "tenant_id", "user_id"),)

    tenant_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    user_id: Mapped[uuid.UUID]
    email_hash: Mapped[bytes] = mapped_column(LargeBinary)
    email_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    token_hash: Mapped[bytes] = mapped_column(LargeBinary, unique=True)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]


class AuthSession(TenantScoped, Base):
    """A server-side login session: one family of rotating refresh tokens."""

    __tablename__ = "auth_sessions"
    __table_args__ = (Index("ix_auth_sessions_tenant_id_user_id", "tenant_id", "user_id"),)

    tenant_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    user_id: Mapped[uuid.UUID]
    created_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    authenticated_at: Mapped[datetime]  # last password/MFA proof: "recent re-authentication"
    expires_at: Mapped[datetime]  # absolute lifetime
    mfa: Mapped[bool]
    ip: Mapped[str | None] = mapped_column(Text)
    user_agent: Mapped[str | None] = mapped_column(Text)
    revoked_at: Mapped[datetime | None]
    revoked_reason: Mapped[str | None] = mapped_column(Text)


class RefreshToken(TenantScoped, Base):
    """One refresh token of a session, stored as its SHA-256; used at most once."""

    __tablename__ = "refresh_tokens"
    __table_args__ = (Index("ix_refresh_tokens_tenant_id_session_id", "tenant_id", "session_id"),)

    tenant_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    session_id: Mapped[uuid.UUID]
    token_hash: Mapped[bytes] = mapped_column(LargeBinary, unique=True)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]


class ApiKey(TenantScoped, Base):
    """An API key of a service account: a role in one tenant; the key itself is never stored."""

    __tablename__ = "api_keys"

    tenant_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    role: Mapped[str] = mapped_column(Text)
    prefix: Mapped[str] = mapped_column(Text)  # first characters, to recognise a key in lists
    key_hash: Mapped[bytes] = mapped_column(LargeBinary, unique=True)
    # The person whose permissions cap the key (for a key minted by a key: that key's person).
    created_by: Mapped[uuid.UUID | None]
    created_by_key_id: Mapped[uuid.UUID | None]  # the key that minted it, if one did
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]


class LoginEvent(TenantScoped, Base):
    """One login attempt in a tenant: when, from where, and how it ended."""

    __tablename__ = "login_events"
    __table_args__ = (Index("ix_login_events_tenant_id_user_id_id", "tenant_id", "user_id", "id"),)

    tenant_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    user_id: Mapped[uuid.UUID | None]
    occurred_at: Mapped[datetime]
    ip: Mapped[str | None] = mapped_column(Text)
    user_agent: Mapped[str | None] = mapped_column(Text)
    outcome: Mapped[str] = mapped_column(Text)  # success | failure | mfa_required | locked
    reason: Mapped[str | None] = mapped_column(Text)


class PasswordResetToken(TenantScoped, Base):
    """A single-use password reset token (SHA-256 stored), valid for 30 minutes.

    `used_at` is set when it is used, and on every earlier token of the account when a new
    one is issued or one is used; `attempts` counts wrong MFA codes sent with it.
    """

    __tablename__ = "password_reset_tokens"
    __table_args__ = (Index("ix_password_reset_tokens_tenant_id_user_id", "tenant_id", "user_id"),)

    tenant_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    user_id: Mapped[uuid.UUID]
    token_hash: Mapped[bytes] = mapped_column(LargeBinary, unique=True)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(Integer, server_default=text("0"))


class MfaFactor(TenantScoped, Base):
    """A second factor by one-time code: an email address or a phone number of the person.

    The address is sealed with the key ring. Each factor holds at most one live code, as a
    keyed hash bound to the factor (`code_hash`), with its expiry and its wrong attempts;
    a used, expired or superseded code is gone (`code_hash` null). `verified_at` is null
    until the first code sent to the address came back (enrolment).
    """

    __tablename__ = "mfa_factors"
    __table_args__ = (
        UniqueConstraint("tenant_id", "user_id", "kind", name="uq_mfa_factors_user_kind"),
    )

    tenant_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    user_id: Mapped[uuid.UUID]
    kind: Mapped[str] = mapped_column(Text)  # email | sms
    address_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    verified_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]
    code_hash: Mapped[bytes | None] = mapped_column(LargeBinary)
    code_sent_at: Mapped[datetime | None]
    code_expires_at: Mapped[datetime | None]
    code_attempts: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    created_at: Mapped[datetime]


class Passkey(TenantScoped, Base):
    """A WebAuthn credential of a person in one tenant: its public key and signature count.

    `credential_id` is unique per tenant, so a credential registered in tenant A is never
    found (nor logs in) in tenant B.
    """

    __tablename__ = "passkeys"
    __table_args__ = (
        UniqueConstraint("tenant_id", "credential_id", name="uq_passkeys_credential"),
        Index("ix_passkeys_tenant_id_user_id", "tenant_id", "user_id"),
    )

    tenant_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    user_id: Mapped[uuid.UUID]
    credential_id: Mapped[bytes] = mapped_column(LargeBinary)
    public_key: Mapped[bytes] = mapped_column(LargeBinary)
    sign_count: Mapped[int] = mapped_column(BigInteger)
    name: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]
    last_used_at: Mapped[datetime | None]


class WebauthnChallenge(TenantScoped, Base):
    """One ceremony's challenge (stored as its SHA-256): single use, short-lived.

    `purpose`: `register` (a signed-in person adds a passkey), `second_factor` (the login
    step after a password), `login` (passwordless, `user_id` null until a credential answers).
    """

    __tablename__ = "webauthn_challenges"

    tenant_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    user_id: Mapped[uuid.UUID | None]
    purpose: Mapped[str] = mapped_column(Text)
    challenge_hash: Mapped[bytes] = mapped_column(LargeBinary, unique=True)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
