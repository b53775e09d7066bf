"""Keys derived from the root secret, and hashing of opaque tokens.

Opaque tokens (refresh tokens, API keys, reset, MFA-challenge and email-change tokens)
carry 256 random bits, so a plain SHA-256 is a safe look-up hash. Everything identity
encrypts or hashes for look-up at rest (emails, names, TOTP secrets, backup codes) uses
the key ring (`fiscus.core.keyring`, `identity.sealed`); what is left here derives the
JWT signing keys and checks backup codes made before the key ring.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

# The HKDF purpose of the key that hashed backup codes before the key ring (migration 0105).
LEGACY_BACKUP_CODE_PURPOSE = "mfa-backup-codes"


def derive_key(root_secret: str, purpose: str) -> bytes:
    """A 32-byte key for one purpose, derived from the root secret with HKDF-SHA256."""
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=b"fiscus", info=purpose.encode()).derive(
        root_secret.encode()
    )


def new_token(prefix: str) -> str:
    """`prefix` + 43 URL-safe characters of randomness (256 bits)."""
    return prefix + secrets.token_urlsafe(32)


def token_hash(token: str) -> bytes:
    """SHA-256 of a high-entropy token: what is stored and looked up."""
    return hashlib.sha256(token.encode()).digest()


def keyed_hash(key: bytes, value: str) -> bytes:
    """HMAC-SHA256 of a low-entropy secret (legacy backup codes)."""
    return hmac.new(key, value.encode(), hashlib.sha256).digest()
