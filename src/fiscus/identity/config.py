"""Identity settings: token lifetimes, session timeouts, throttling and the JWT key ring."""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import urlsplit

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from fiscus.core.config import Settings, default_plans


class IdentityEnvironment(BaseSettings):
    """FISCUS_* variables that only the identity module reads."""

    model_config = SettingsConfigDict(
        env_prefix="FISCUS_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    rate_limit_prefix: str = Field("fiscus", description="Key prefix in the rate-limit storage")
    ip_requests_per_minute: int = Field(
        1200, ge=1, description="Requests per minute one client address may make"
    )
    webauthn_rp_id: str | None = Field(
        None, description="Passkeys' relying-party id (default: the host of FISCUS_PUBLIC_URL)"
    )
    webauthn_origin: str | None = Field(
        None,
        description="The origin passkey ceremonies must come from (default: FISCUS_PUBLIC_URL's)",
    )


@dataclass
class IdentityConfig:
    """Knobs of authentication; defaults follow NIST SP 800-63B and PCI DSS 8.3.4."""

    issuer: str = "fiscus"
    audience: str = "fiscus-api"
    access_token_ttl_s: int = 15 * 60
    mfa_token_ttl_s: int = 5 * 60
    session_idle_timeout_s: int = 30 * 60
    session_absolute_s: int = 12 * 3600
    reauth_window_s: int = 10 * 60
    password_reset_ttl_s: int = 30 * 60
    email_change_ttl_s: int = 60 * 60
    # Wrong codes one MFA challenge or one reset token takes before it stops working (the
    # account's lockout counts them too, across challenges and tokens).
    mfa_challenge_max_attempts: int = 5
    password_reset_max_attempts: int = 5
    # Emailed and texted one-time codes (second factors): their life, the wrong attempts
    # one code takes, and how often codes may be sent to one person (docs/identity.md).
    mfa_code_ttl_s: int = 5 * 60
    mfa_code_max_attempts: int = 5
    mfa_code_resend_s: int = 30
    mfa_codes_per_hour: int = 5
    # Passkeys (WebAuthn): the relying party and the origin ceremonies must come from, and
    # how long a ceremony's challenge lives.
    webauthn_rp_id: str = "127.0.0.1"
    webauthn_rp_name: str = "fiscus"
    webauthn_origin: str = "http://127.0.0.1:8000"
    webauthn_challenge_ttl_s: int = 5 * 60
    # Reset emails one account, and one address over every tenant, may be sent per window;
    # past them a request is answered as always but sends nothing and ends no live token,
    # so nobody can keep cancelling someone's reset link or flood their mailbox.
    password_reset_requests_per_account: int = 3
    password_reset_requests_per_address: int = 6
    password_reset_request_window_s: int = 3600
    # Failed guesses (passwords; second factors counted separately) that lock an account,
    # and an address in every tenant, for lockout_s.
    lockout_threshold: int = 10
    lockout_s: int = 30 * 60
    # From the 5th consecutive failure, the next attempt must wait base * 2**(n - 5) seconds.
    backoff_after: int = 5
    backoff_base_s: float = 1.0
    backoff_max_s: int = 60
    # Failed logins one IP address may make in 15 minutes, across all accounts.
    ip_failures_per_15_min: int = 100
    # Requests per minute one IP address may make before authentication is known.
    ip_requests_per_minute: int = 1200
    rate_limit_prefix: str = "fiscus"
    # Refused bearer credentials: at most one audit record per address, credential kind
    # and tenant in this many seconds (the record counts the failures in between).
    bearer_failure_window_s: int = 60
    # Requests per minute and per second (burst) for each plan (a tenant setting), and the
    # plan whose budget applies to a tenant on a plan no longer configured: the operator's
    # FISCUS_PLAN_LIMITS and FISCUS_DEFAULT_PLAN.
    plan_limits: dict[str, tuple[int, int]] = field(
        default_factory=lambda: {
            name: (limit.per_minute, limit.burst_per_s) for name, limit in default_plans().items()
        }
    )
    default_plan: str = "enterprise"

    def plan_budget(self, plan: str) -> tuple[int, int]:
        """(per minute, per second) of `plan`, or of the default plan if it is not configured."""
        return self.plan_limits.get(plan) or self.plan_limits[self.default_plan]

    @classmethod
    def from_environment(cls, settings: Settings) -> IdentityConfig:
        """Defaults, with plans from settings and the storage prefix from the environment."""
        env = IdentityEnvironment()
        public = urlsplit(settings.public_url)
        return cls(
            webauthn_rp_id=env.webauthn_rp_id or public.hostname or "localhost",
            webauthn_origin=env.webauthn_origin or f"{public.scheme}://{public.netloc}",
            rate_limit_prefix=env.rate_limit_prefix,
            ip_requests_per_minute=env.ip_requests_per_minute,
            plan_limits={
                name: (limit.per_minute, limit.burst_per_s)
                for name, limit in settings.plan_limits.items()
            },
            default_plan=settings.default_plan,
        )
