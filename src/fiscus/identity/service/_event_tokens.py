"""Tokens that travel in an event payload to the email that delivers them, sealed.

The outbox, the change feed and webhooks never hold such a token in clear: it is sealed
with the key ring, bound to the event type and the row it belongs to, and only the
messaging dispatcher opens it, into the mail it sends (`fiscus.messaging._secrets`).
"""

from __future__ import annotations

import base64
import uuid
from typing import Any

from fiscus.core.keyring import KeyRing, context_of


def event_token_seal(keyring: KeyRing, *, event: str, subject_id: uuid.UUID, token: str) -> str:
    """The token sealed for a payload of `event` about `subject_id` (base64url text)."""
    sealed = keyring.seal_text(token, context=context_of(event, subject_id))
    return base64.urlsafe_b64encode(sealed).decode()


def event_token_unseal(
    keyring: KeyRing, *, event: str, payload: dict[str, Any], subject_field: str
) -> str:
    """The token `event_token_seal` put in `payload["token_sealed"]`."""
    subject_id = uuid.UUID(str(payload[subject_field]))
    sealed = base64.urlsafe_b64decode(str(payload["token_sealed"]))
    return keyring.open_text(sealed, context=context_of(event, subject_id))
