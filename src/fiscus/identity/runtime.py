"""The identity module's per-process state: config, key ring, derived keys, throttle."""

from __future__ import annotations

from dataclasses import dataclass

from fiscus.core.config import Settings
from fiscus.identity.config import IdentityConfig
from fiscus.identity.crypto import derive_key
from fiscus.identity.throttle import Throttle, storage_for
from fiscus.identity.tokens import KeyRing


@dataclass
class Identity:
    """Everything authentication needs besides the database; one per app (`app.state`)."""

    config: IdentityConfig
    ring: KeyRing
    seal_key: bytes  # AES-GCM key for TOTP secrets
    backup_code_key: bytes  # HMAC key for backup codes
    reset_key: bytes  # AES-GCM key sealing reset tokens in event payloads
    throttle: Throttle


def identity_build(settings: Settings, config: IdentityConfig | None = None) -> Identity:
    """Build the identity state from settings (secrets) and config (knobs)."""
    config = config or IdentityConfig.from_environment()
    root = settings.resolved_secret_key
    return Identity(
        config=config,
        ring=KeyRing.from_secrets([root, *config.jwt_previous_secrets]),
        seal_key=derive_key(root, "totp-secret-seal"),
        backup_code_key=derive_key(root, "mfa-backup-codes"),
        reset_key=derive_key(root, "password-reset-token"),
        throttle=Throttle(storage_for(settings.redis_url), config),
    )
