"""Standard Webhooks signatures and the sealing of signing secrets at rest.

Secrets are `whsec_` + base64 of 32 random bytes (the specification allows 24 to 64).
They are shown once; the database holds them sealed with AES-GCM under a key derived
from the installation secret, because signing needs the secret itself, not a hash.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import uuid
from collections.abc import Sequence

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

SECRET_PREFIX = "whsec_"  # noqa: S105 -- the public prefix of every secret, not a secret
SECRET_BYTES = 32
_NONCE_BYTES = 12


def new_secret() -> str:
    """A fresh signing secret: `whsec_` + base64 of 32 random bytes."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def secret_key_bytes(secret: str) -> bytes:
    """The HMAC key inside a `whsec_` secret."""
    assert secret.startswith(SECRET_PREFIX)
    return base64.b64decode(secret.removeprefix(SECRET_PREFIX))


def sign(*, secrets_: Sequence[str], message_id: str, timestamp: int, body: str) -> str:
    """The `webhook-signature` header: `v1,<base64>` per secret, space-separated."""
    assert secrets_, "an endpoint always has a current secret"
    signed = f"{message_id}.{timestamp}.{body}".encode()
    return " ".join(
        "v1,"
        + base64.b64encode(hmac.new(secret_key_bytes(s), signed, hashlib.sha256).digest()).decode()
        for s in secrets_
    )


class SecretBox:
    """Seals and opens signing secrets with a key derived from the installation secret."""

    def __init__(self, root_secret: str) -> None:
        key = HKDF(
            algorithm=hashes.SHA256(), length=32, salt=None, info=b"fiscus/webhooks/secrets/v1"
        ).derive(root_secret.encode())
        self._aead = AESGCM(key)

    def seal(self, secret: str, *, endpoint_id: uuid.UUID) -> bytes:
        """Nonce + ciphertext; the endpoint id is bound as associated data."""
        nonce = secrets.token_bytes(_NONCE_BYTES)
        return nonce + self._aead.encrypt(nonce, secret.encode(), endpoint_id.bytes)

    def open(self, sealed: bytes, *, endpoint_id: uuid.UUID) -> str:
        """The secret sealed for this endpoint (raises if tampered or moved)."""
        nonce, ciphertext = sealed[:_NONCE_BYTES], sealed[_NONCE_BYTES:]
        return self._aead.decrypt(nonce, ciphertext, endpoint_id.bytes).decode()
