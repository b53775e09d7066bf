"""Messaging's personal data at rest: sealed with the key ring, bound to its row.

Recipient addresses (email, phone), message subjects and bodies, message-profile phone
numbers, and the errors and status-history notes that can quote an address (an SMTP
"recipient refused", a provider's "invalid number") are stored only sealed. Each value's
associated data names its table, column and row (tenant and id), so a value copied to
another row does not open; every column is registered for `fiscus keys rotate` (in
`models.py`, next to the tables).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from fiscus.core.keyring import KeyRing
from fiscus.messaging._templates import Rendered
from fiscus.messaging.models import (
    SEALED_COLUMNS,
    Message,
    MessageStatusChange,
    sealed_context,
)

CONTENT = "messages.content_sealed"
ADDRESS = "messages.address_sealed"
LAST_ERROR = "messages.last_error_sealed"
DETAIL = "message_status_changes.detail_sealed"
PHONE = "message_profiles.phone_sealed"
assert {CONTENT, ADDRESS, LAST_ERROR, DETAIL, PHONE} == set(SEALED_COLUMNS)

Row = tuple[uuid.UUID, uuid.UUID]


def seal(keyring: KeyRing, name: str, row: Row, value: str | None) -> bytes | None:
    """`value` sealed for column `name` of `row` (tenant id, row id); None stays None."""
    assert name in SEALED_COLUMNS
    return None if value is None else keyring.seal_text(value, context=sealed_context(name, row))


def unseal(keyring: KeyRing, name: str, row: Row, sealed: bytes | None) -> str | None:
    """The text sealed in column `name` of `row`; None stays None."""
    assert name in SEALED_COLUMNS
    return None if sealed is None else keyring.open_text(sealed, context=sealed_context(name, row))


def content_seal(keyring: KeyRing, row: Row, rendered: Rendered) -> bytes:
    """Subject, text and HTML of a message, sealed together (one seal per message)."""
    content = json.dumps(
        {"subject": rendered.subject, "text": rendered.text, "html": rendered.html}
    )
    sealed = seal(keyring, CONTENT, row, content)
    assert sealed is not None
    return sealed


def content_unseal(keyring: KeyRing, row: Row, sealed: bytes) -> Rendered:
    """The subject, text and HTML of a message."""
    opened = unseal(keyring, CONTENT, row, sealed)
    assert opened is not None
    content = json.loads(opened)
    return Rendered(subject=content["subject"], text=content["text"], html=content["html"])


@dataclass(frozen=True, slots=True)
class StatusView:
    """One step of a message's history, opened."""

    status: str
    detail: str | None
    at: datetime


@dataclass(frozen=True, slots=True)
class MessageView:
    """A message with its sealed columns opened, for the API (never stored like this)."""

    id: uuid.UUID
    user_id: uuid.UUID
    event_id: uuid.UUID | None
    event_type: str
    channel: str
    category: str
    subject: str | None
    body: str
    html: str | None
    address: str | None
    status: str
    attempt_count: int
    last_error: str | None
    next_attempt_at: datetime | None
    created_at: datetime
    sent_at: datetime | None
    delivered_at: datetime | None
    read_at: datetime | None
    history: list[StatusView] = field(default_factory=list)


def message_open(
    keyring: KeyRing, message: Message, history: Sequence[MessageStatusChange] = ()
) -> MessageView:
    """The message and its history as the API shows them."""
    row = (message.tenant_id, message.id)
    content = content_unseal(keyring, row, message.content_sealed)
    return MessageView(
        id=message.id,
        user_id=message.user_id,
        event_id=message.event_id,
        event_type=message.event_type,
        channel=message.channel,
        category=message.category,
        subject=content.subject,
        body=content.text,
        html=content.html,
        address=unseal(keyring, ADDRESS, row, message.address_sealed),
        status=message.status,
        attempt_count=message.attempt_count,
        last_error=unseal(keyring, LAST_ERROR, row, message.last_error_sealed),
        next_attempt_at=message.next_attempt_at,
        created_at=message.created_at,
        sent_at=message.sent_at,
        delivered_at=message.delivered_at,
        read_at=message.read_at,
        history=[
            StatusView(
                status=change.status,
                detail=unseal(keyring, DETAIL, (change.tenant_id, change.id), change.detail_sealed),
                at=change.at,
            )
            for change in history
        ],
    )
