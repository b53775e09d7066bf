"""Settings: one validated object read from FISCUS_* environment variables and `.env`."""

from __future__ import annotations

import os
import re
import secrets
from decimal import Decimal
from enum import StrEnum
from functools import cached_property
from pathlib import Path
from typing import Annotated, Literal

from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from fiscus.core.proxies import Network, parse_networks

# Secrets shorter than this, or on this list, are refused outside the embedded default.
MIN_SECRET_LENGTH = 32
PLACEHOLDER_SECRETS = frozenset({"changeme", "change-me", "secret", "dev", "development", "test"})


class Environment(StrEnum):
    """Where fiscus runs; production refuses missing or placeholder secrets."""

    development = "development"
    test = "test"
    production = "production"


class ConfigError(Exception):
    """The configuration cannot start the service; the message says what to set."""


PLAN_NAME = r"^[a-z][a-z0-9_-]{1,39}$"


class PlanLimit(BaseModel):
    """One rate-limit plan: requests per minute, and per second (the burst allowance)."""

    model_config = ConfigDict(extra="forbid")

    per_minute: Annotated[int, Field(ge=1, le=10_000_000)]
    burst_per_s: Annotated[int, Field(ge=1, le=1_000_000)]


def default_plans() -> dict[str, PlanLimit]:
    # enterprise is above the per-address abuse limits (1200/min, 200/s), so on an install
    # that keeps the default plan one integration is throttled only by those.
    return {
        "free": PlanLimit(per_minute=120, burst_per_s=20),
        "standard": PlanLimit(per_minute=600, burst_per_s=50),
        "enterprise": PlanLimit(per_minute=6000, burst_per_s=300),
    }


class Settings(BaseSettings):
    """Every setting fiscus reads, with its default and meaning."""

    model_config = SettingsConfigDict(
        env_prefix="FISCUS_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        populate_by_name=True,
    )

    env: Environment = Field(Environment.development, description="development, test or production")
    database_url: str | None = Field(
        None, description="PostgreSQL URL; unset starts the embedded server in the data folder"
    )
    redis_url: str | None = Field(None, description="Redis URL for shared rate limits")
    secret_key: SecretStr | None = Field(
        None, description="Root secret for tokens and encryption keys (>= 32 characters)"
    )
    previous_secret_keys: list[SecretStr] = Field(
        default_factory=list,
        validation_alias=AliasChoices(
            "previous_secret_keys", "FISCUS_PREVIOUS_SECRET_KEYS", "FISCUS_JWT_PREVIOUS_SECRETS"
        ),
        description=(
            "Earlier FISCUS_SECRET_KEY values (JSON list), kept while you rotate: they open the"
            " key ring's keys (re-wrapped under the new secret at start) and verify tokens"
            " signed before the rotation"
        ),
    )
    data_dir: Path = Field(Path(".fiscus"), description="Folder for the embedded database")
    host: str = Field("127.0.0.1", description="Address `fiscus serve` binds")
    port: Annotated[int, Field(ge=1, le=65535)] = Field(
        8000, description="Port `fiscus serve` binds"
    )
    log_level: str = Field("INFO", description="Log level: DEBUG, INFO, WARNING, ERROR")
    log_json: bool = Field(True, description="JSON logs (false: human-readable console logs)")
    db_pool_size: Annotated[int, Field(ge=1, le=200)] = Field(
        10, description="Connections per process"
    )
    db_pool_overflow: Annotated[int, Field(ge=0, le=200)] = Field(
        10, description="Extra connections under load"
    )
    idempotency_ttl_s: Annotated[int, Field(ge=60, le=7 * 86400)] = Field(
        86400, description="How long an Idempotency-Key is remembered"
    )
    run_worker: bool = Field(
        False, description="Run a background-job worker inside each API process"
    )
    shutdown_timeout_s: Annotated[float, Field(ge=0, le=3600)] = Field(
        20.0,
        description="On SIGTERM/SIGINT: how long serve and worker wait for in-flight"
        " requests and jobs before stopping them (a second signal stops at once)",
    )
    max_body_bytes: Annotated[int, Field(ge=1024, le=64 * 1024 * 1024)] = Field(
        4 * 1024 * 1024, description="Largest request body accepted"
    )
    max_requests_in_progress: Annotated[int, Field(ge=1, le=100_000)] = Field(
        100,
        description="Requests one process works on at once; more wait for a place"
        " (a few times the database pool: the rest would only wait for a connection)",
    )
    admission_wait_s: Annotated[float, Field(gt=0, le=600)] = Field(
        5.0,
        description="How long a request waits for a place before a 503 server-busy with"
        " Retry-After (below clients' timeouts, so that no work is done for a client gone)",
    )
    webhooks_allow_private: bool = Field(
        False,
        description="Allow webhook URLs on loopback/private addresses (development and tests only)",
    )
    webhooks_secret_overlap_s: Annotated[int, Field(ge=0, le=7 * 86400)] = Field(
        86400, description="How long a rotated webhook secret keeps signing next to the new one"
    )
    smtp_host: str | None = Field(
        None, description="SMTP server; unset sends email to a Maildir in the data folder"
    )
    smtp_port: Annotated[int, Field(ge=1, le=65535)] = Field(587, description="SMTP port")
    smtp_username: str | None = Field(None, description="SMTP login (optional)")
    smtp_password: SecretStr | None = Field(None, description="SMTP password (optional)")
    smtp_security: Literal["starttls", "tls", "none"] = Field(
        "starttls", description="starttls (port 587), tls (implicit, port 465) or none"
    )
    smtp_from: str = Field("fiscus <no-reply@localhost>", description="From address of emails")
    smtp_timeout_s: Annotated[float, Field(gt=0, le=120)] = Field(
        15.0, description="SMTP and SMS provider timeout"
    )
    sms_provider: Literal["console", "twilio"] = Field(
        "console", description="console (log + data folder) or twilio (any compatible API)"
    )
    twilio_base_url: str = Field("https://api.twilio.com", description="Twilio-compatible API")
    twilio_account_sid: str | None = Field(None, description="Twilio account SID")
    twilio_auth_token: SecretStr | None = Field(None, description="Twilio auth token")
    twilio_from: str | None = Field(None, description="Sender number or messaging service")
    public_url: str = Field(
        "http://127.0.0.1:8000", description="Public base URL, for links in messages"
    )
    trusted_proxies: Annotated[list[Network], NoDecode] = Field(
        default_factory=list,
        description=(
            "Reverse proxies (comma-separated CIDRs) whose Forwarded / X-Forwarded-For headers"
            " name the client; from any other peer those headers are ignored"
        ),
    )
    template_max_output_chars: Annotated[int, Field(ge=1_000, le=10_000_000)] = Field(
        100_000,
        description="Largest rendered subject, text or HTML of a message template, in characters",
    )
    template_max_render_ms: Annotated[int, Field(ge=10, le=10_000)] = Field(
        250, description="Longest a message template may take to render (preview, save, send)"
    )
    messages_per_user_hour: Annotated[int, Field(ge=1, le=10_000)] = Field(
        20, description="Email + SMS per user per hour before messages wait (security exempt)"
    )

    plan_limits: dict[str, PlanLimit] = Field(
        default_factory=default_plans,
        description=(
            'Rate-limit plans as JSON: {"<plan>": {"per_minute": N, "burst_per_s": M}, ...};'
            " the budget of each API key or user of a tenant on that plan"
        ),
    )
    default_plan: str = Field(
        "enterprise", description="The plan of a new tenant (one of FISCUS_PLAN_LIMITS)"
    )

    argon2_memory_kib: Annotated[int, Field(ge=7 * 1024, le=4 * 1024 * 1024)] = Field(
        19 * 1024, description="argon2id memory per password hash, KiB (OWASP: 19 MiB)"
    )
    argon2_time_cost: Annotated[int, Field(ge=1, le=20)] = Field(
        2, description="argon2id passes (OWASP: 2 with 19 MiB)"
    )
    argon2_parallelism: Annotated[int, Field(ge=1, le=16)] = Field(
        1, description="argon2id lanes, threads per hash (OWASP: 1)"
    )
    fx_rates_url: str | None = Field(
        None,
        description=(
            "Exchange-rate provider in the ECB daily reference-rate format, loaded each "
            "working day at 15:30 UTC into every tenant (unset: rates are entered by staff)"
        ),
    )
    fx_rates_spread: Annotated[Decimal, Field(ge=0, lt=Decimal("0.2"), decimal_places=6)] = Field(
        Decimal("0.005"), description="Spread given to rates loaded from the provider"
    )
    password_hash_concurrency: Annotated[int, Field(ge=1, le=256)] | None = Field(
        None, description="Password hashes at once per process (unset: half the cores, >= 1)"
    )
    password_hash_queue: Annotated[int, Field(ge=0, le=100_000)] | None = Field(
        None,
        description=(
            "Password hashes that may wait for the pool before log-ins are refused with 503 "
            "and Retry-After (unset: 8 per pool thread)"
        ),
    )

    # Equal to fiscus.risk.names.MATCH_THRESHOLD (core imports no domain module; a test
    # keeps the two equal). See that module for how the number was chosen.
    sanctions_match_threshold: Annotated[float, Field(ge=50, le=100)] = Field(
        85.0, description="Fuzzy score (0-100) from which a name matches a sanctions list entry"
    )
    retention_events_days: Annotated[int, Field(ge=0, le=36_500)] = Field(
        90, description="Days a relayed event stays in the feed (0: forever)"
    )
    retention_webhook_deliveries_days: Annotated[int, Field(ge=0, le=36_500)] = Field(
        30, description="Days a finished webhook delivery and its attempts are kept (0: forever)"
    )
    retention_messages_days: Annotated[int, Field(ge=0, le=36_500)] = Field(
        90, description="Days a message no longer waiting to be sent is kept (0: forever)"
    )

    @model_validator(mode="after")
    def _plans_are_consistent(self) -> Settings:
        plan_check_names(self.plan_limits)
        for name, limit in self.plan_limits.items():
            if limit.burst_per_s > limit.per_minute:
                raise ConfigError(
                    f"FISCUS_PLAN_LIMITS: plan {name!r} allows more requests per second"
                    f" ({limit.burst_per_s}) than per minute ({limit.per_minute})."
                )
        if self.default_plan not in self.plan_limits:
            raise ConfigError(
                f"FISCUS_DEFAULT_PLAN is {self.default_plan!r}, which is not a plan of"
                f" FISCUS_PLAN_LIMITS ({', '.join(sorted(self.plan_limits))})."
            )
        return self

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _parse_trusted_proxies(cls, value: object) -> object:
        # "10.0.0.0/8, 192.168.1.7" from the environment; a list from code and tests.
        if isinstance(value, str):
            return parse_networks(value.replace(" ", ",").split(","))
        return value

    @model_validator(mode="after")
    def _refuse_weak_secret_in_production(self) -> Settings:
        if self.env is Environment.production:
            if self.database_url is None:
                raise ConfigError(
                    "FISCUS_DATABASE_URL must be set in production; "
                    "the embedded database is for development only."
                )
            check_secret(self.secret_key)
            if self.webhooks_allow_private:
                raise ConfigError(
                    "FISCUS_WEBHOOKS_ALLOW_PRIVATE is for development and tests; "
                    "production webhooks only go to public addresses."
                )
        elif self.secret_key is not None:
            check_secret(self.secret_key)
        return self

    @property
    def embedded(self) -> bool:
        """True when fiscus runs its own PostgreSQL from the data folder."""
        return self.database_url is None

    @cached_property
    def resolved_secret_key(self) -> str:
        """The configured secret, or the one generated once and kept in the data folder."""
        if self.secret_key is not None:
            return self.secret_key.get_secret_value()
        if self.env is Environment.production:
            raise ConfigError("FISCUS_SECRET_KEY must be set in production.")
        return _data_dir_secret(self.data_dir)

    @property
    def root_secrets(self) -> list[str]:
        """The root secret and the previous ones, newest first (the key ring's roots)."""
        previous = [secret.get_secret_value() for secret in self.previous_secret_keys]
        return list(dict.fromkeys([self.resolved_secret_key, *previous]))


def plan_check_names(plans: dict[str, PlanLimit]) -> None:
    """Refuse an empty plan table or a plan name that is not a short lower-case word."""
    if not plans:
        raise ConfigError("FISCUS_PLAN_LIMITS names no plan; give at least one.")
    for name in plans:
        if re.fullmatch(PLAN_NAME, name) is None:
            raise ConfigError(
                f"FISCUS_PLAN_LIMITS: {name!r} is not a plan name (2-40 characters: a-z, 0-9,"
                " '-', '_', starting with a letter)."
            )


def check_secret(secret: SecretStr | None) -> None:
    """Refuse a missing, short or placeholder secret with a message naming the variable."""
    if secret is None:
        raise ConfigError(
            "FISCUS_SECRET_KEY is not set. Generate one with: "
            'python3 -c "import secrets; print(secrets.token_urlsafe(48))"'
        )
    value = secret.get_secret_value()
    if value.lower() in PLACEHOLDER_SECRETS or len(value) < MIN_SECRET_LENGTH:
        raise ConfigError(
            f"FISCUS_SECRET_KEY is a placeholder or shorter than {MIN_SECRET_LENGTH} characters."
        )


def _data_dir_secret(data_dir: Path) -> str:
    """Read, or create once with mode 0600, the embedded installation's secret."""
    path = data_dir / "secret_key"
    if path.exists():
        return path.read_text(encoding="utf-8").strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(48)
    # O_EXCL makes two processes starting at once agree on a single secret.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text(encoding="utf-8").strip()
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(value)
    return value


def load_settings(**overrides: object) -> Settings:
    """Read settings from the environment; raise ConfigError with a readable message."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ConfigError:
        raise
    except ValueError as error:
        # pydantic wraps validator errors; surface ours unwrapped and the rest readably.
        cause = getattr(error, "errors", None)
        if callable(cause):
            for item in cause():
                ctx = item.get("ctx") or {}
                if isinstance(ctx.get("error"), ConfigError):
                    raise ctx["error"] from None
        raise ConfigError(str(error)) from None
