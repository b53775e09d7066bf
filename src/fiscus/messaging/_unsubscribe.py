"""One-click unsubscribe tokens (RFC 8058): signed, so the link needs no login.

The MAC is keyed with the key ring's index key, which is never replaced (only re-wrapped),
so a link in an email sent years ago keeps working through every `fiscus keys rotate` and
every change of `FISCUS_SECRET_KEY`. Links sent before the key ring were keyed with a hash
of the root secret itself; they are still accepted while that secret is configured
(current or in FISCUS_PREVIOUS_SECRET_KEYS), because a recipient must always be able to
unsubscribe.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from fiscus.core.keyring import KeyRing
from fiscus.messaging.errors import UnsubscribeLinkInvalid

PURPOSE = "messaging.unsubscribe"


@dataclass(frozen=True, slots=True)
class Unsubscribe:
    """Who wants to stop which category in which tenant."""

    tenant_id: uuid.UUID
    user_id: uuid.UUID
    category: str


def _legacy_key(root_secret: str) -> bytes:
    return hashlib.sha256(b"fiscus/messaging/unsubscribe/v1:" + root_secret.encode()).digest()


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def token_make(keyring: KeyRing, request: Unsubscribe) -> str:
    """`<payload>.<mac>`, both base64url."""
    payload = f"{request.tenant_id}|{request.user_id}|{request.category}".encode()
    return f"{_b64(payload)}.{_b64(keyring.keyed_hash(payload, purpose=PURPOSE))}"


def token_read(keyring: KeyRing, token: str, *, legacy_roots: Sequence[str] = ()) -> Unsubscribe:
    """Check and decode a token; a forged or malformed one is a 400."""
    try:
        payload_part, mac_part = token.split(".", 1)
        payload, mac = _unb64(payload_part), _unb64(mac_part)
        expected = [keyring.keyed_hash(payload, purpose=PURPOSE)]
        expected += [
            hmac.new(_legacy_key(root), payload, hashlib.sha256).digest() for root in legacy_roots
        ]
        # Every candidate is compared, so the time taken does not say which one matched.
        if not any([hmac.compare_digest(mac, candidate) for candidate in expected]):  # noqa: C419
            raise ValueError("bad mac")
        tenant, user, category = payload.decode().split("|")
        return Unsubscribe(uuid.UUID(tenant), uuid.UUID(user), category)
    except ValueError:
        raise UnsubscribeLinkInvalid("The unsubscribe link is not valid.", field="token") from None
