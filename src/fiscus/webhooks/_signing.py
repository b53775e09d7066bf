"""Standard Webhooks signatures and the sealing of signing secrets at rest.

Secrets are `whsec_` + base64 of 32 random bytes (the specification allows 24 to 64).
They are shown once; the database holds them sealed with the key ring (signing needs the
secret itself, not a hash), bound to their tenant, endpoint and row, and registered so
that `fiscus keys rotate` re-seals them.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import uuid
from collections.abc import Sequence

from fiscus.core.keyring import KeyRing
from fiscus.webhooks.models import secret_context

SECRET_PREFIX = "whsec_"  # noqa: S105 -- the public prefix of every secret, not a secret
SECRET_BYTES = 32


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


def secret_seal(
    keyring: KeyRing,
    secret: str,
    *,
    tenant_id: uuid.UUID,
    endpoint_id: uuid.UUID,
    secret_id: uuid.UUID,
) -> bytes:
    """The signing secret sealed for its row (moved to another row or endpoint, it fails)."""
    return keyring.seal_text(secret, context=secret_context(tenant_id, endpoint_id, secret_id))


def secret_open(
    keyring: KeyRing,
    sealed: bytes,
    *,
    tenant_id: uuid.UUID,
    endpoint_id: uuid.UUID,
    secret_id: uuid.UUID,
) -> str:
    """The signing secret of a `webhook_secrets` row."""
    return keyring.open_text(sealed, context=secret_context(tenant_id, endpoint_id, secret_id))
