"""Keys derived from the root secret, token hashing and sealing of stored secrets.

Opaque tokens (refresh tokens, API keys, reset tokens) carry 256 random bits, so a
plain SHA-256 is a safe lookup hash; backup codes are shorter and get a keyed hash so a
stolen table cannot be brute-forced offline. TOTP secrets must be readable again to
check codes, so they are sealed with AES-GCM under a key derived from the root secret.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

NONCE_BYTES = 12


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
    """HMAC-SHA256 of a low-entropy secret (backup codes)."""
    return hmac.new(key, value.encode(), hashlib.sha256).digest()


def seal(key: bytes, plaintext: bytes, *, context: bytes) -> bytes:
    """AES-GCM encrypt; `context` (e.g. the user id) is bound as associated data."""
    nonce = os.urandom(NONCE_BYTES)
    return nonce + AESGCM(key).encrypt(nonce, plaintext, context)


def unseal(key: bytes, sealed: bytes, *, context: bytes) -> bytes:
    """Decrypt what `seal` produced; raises if it was altered or moved to another row."""
    return AESGCM(key).decrypt(sealed[:NONCE_BYTES], sealed[NONCE_BYTES:], context)
