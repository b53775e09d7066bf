"""The identity module's per-process state: config, key rings, throttle."""

from __future__ import annotations

from dataclasses import dataclass

from fiscus.core.config import Settings
from fiscus.core.keyring import KeyRing
from fiscus.identity.config import IdentityConfig
from fiscus.identity.crypto import LEGACY_BACKUP_CODE_PURPOSE, derive_key
from fiscus.identity.passwords import (
    Argon2Parameters,
    default_concurrency,
    password_hashing_configure,
)
from fiscus.identity.throttle import Throttle, storage_for
from fiscus.identity.tokens import SigningKeys


@dataclass
class Identity:
    """Everything authentication needs besides the database; one per app (`app.state`)."""

    config: IdentityConfig
    ring: SigningKeys
    throttle: Throttle
    # The app's key ring (opened from the database at start): every secret and piece of
    # personal data identity keeps at rest or puts in an event payload is sealed with it.
    keyring: KeyRing
    # HMAC keys of backup codes made before the key ring (one per configured root secret,
    # current first): those codes still work until the user regenerates them (0105).
    legacy_backup_code_keys: tuple[bytes, ...] = ()


def identity_build(
    settings: Settings, keyring: KeyRing, config: IdentityConfig | None = None
) -> Identity:
    """Build the identity state from settings (secrets) and config (knobs)."""
    config = config or IdentityConfig.from_environment(settings)
    passwords_configure(settings)
    return Identity(
        config=config,
        ring=SigningKeys.from_secrets(settings.root_secrets),
        throttle=Throttle(storage_for(settings.redis_url), config),
        keyring=keyring,
        legacy_backup_code_keys=tuple(
            derive_key(root, LEGACY_BACKUP_CODE_PURPOSE) for root in settings.root_secrets
        ),
    )


def passwords_configure(settings: Settings) -> None:
    """Hash passwords with the configured argon2id parameters, in the configured pool."""
    password_hashing_configure(
        Argon2Parameters(
            memory_kib=settings.argon2_memory_kib,
            time_cost=settings.argon2_time_cost,
            parallelism=settings.argon2_parallelism,
        ),
        concurrency=settings.password_hash_concurrency or default_concurrency(),
        queue=settings.password_hash_queue,
    )
