"""The identity module's per-process state: config, key ring, derived keys, throttle."""

from __future__ import annotations

from dataclasses import dataclass

from fiscus.core.config import Settings
from fiscus.core.keyring import KeyRing
from fiscus.identity.config import IdentityConfig
from fiscus.identity.crypto import derive_key
from fiscus.identity.throttle import Throttle, storage_for
from fiscus.identity.tokens import SigningKeys


@dataclass
class Identity:
    """Everything authentication needs besides the database; one per app (`app.state`)."""

    config: IdentityConfig
    ring: SigningKeys
    seal_key: bytes  # AES-GCM key for TOTP secrets
    backup_code_key: bytes  # HMAC key for backup codes
    throttle: Throttle
    # The app's key ring (opened from the database at start): every secret identity
    # keeps at rest or puts in an event payload is sealed with it.
    keyring: KeyRing


def identity_build(
    settings: Settings, keyring: KeyRing, config: IdentityConfig | None = None
) -> Identity:
    """Build the identity state from settings (secrets) and config (knobs)."""
    config = config or IdentityConfig.from_environment()
    root = settings.resolved_secret_key
    return Identity(
        config=config,
        ring=SigningKeys.from_secrets(settings.root_secrets),
        seal_key=derive_key(root, "totp-secret-seal"),
        backup_code_key=derive_key(root, "mfa-backup-codes"),
        throttle=Throttle(storage_for(settings.redis_url), config),
        keyring=keyring,
    )
