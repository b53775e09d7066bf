"""One-click unsubscribe tokens (RFC 8058): signed, so the link needs no login."""

from __future__ import annotations

import base64
import hashlib
import hmac
import uuid
from dataclasses import dataclass

from fiscus.core.errors import ValidationProblem


@dataclass(frozen=True, slots=True)
class Unsubscribe:
    """Who wants to stop which category in which tenant."""

    tenant_id: uuid.UUID
    user_id: uuid.UUID
    category: str


def _key(root_secret: str) -> bytes:
    return hashlib.sha256(b"fiscus/messaging/unsubscribe/v1:" + root_secret.encode()).digest()


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def token_make(root_secret: str, request: Unsubscribe) -> str:
    """`<payload>.<mac>`, both base64url."""
    payload = f"{request.tenant_id}|{request.user_id}|{request.category}".encode()
    mac = hmac.new(_key(root_secret), payload, hashlib.sha256).digest()
    return f"{_b64(payload)}.{_b64(mac)}"


def token_read(root_secret: str, token: str) -> Unsubscribe:
    """Check and decode a token; a forged or malformed one is a 400."""
    try:
        payload_part, mac_part = token.split(".", 1)
        payload = base64.urlsafe_b64decode(payload_part + "=" * (-len(payload_part) % 4))
        mac = base64.urlsafe_b64decode(mac_part + "=" * (-len(mac_part) % 4))
        expected = hmac.new(_key(root_secret), payload, hashlib.sha256).digest()
        if not hmac.compare_digest(mac, expected):
            raise ValueError("bad mac")
        tenant, user, category = payload.decode().split("|")
        return Unsubscribe(uuid.UUID(tenant), uuid.UUID(user), category)
    except ValueError:
        raise ValidationProblem("The unsubscribe link is not valid.", field="token") from None
