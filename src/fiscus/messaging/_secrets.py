"""Secrets in messages (a password-reset token): placeholders in what is stored, the real
value only in the mail that is sent.

Messages are rendered when an event fans out and stored with their status history, which
admins can read. A secret must not be stored that way, nor sit in the outbox in clear, so
the emitting module seals it into the event payload and registers an expander; templates
use `{{ secret.<name> }}`, which renders to a placeholder, and the dispatcher swaps the
placeholder for the unsealed value just before the mail leaves.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from sqlalchemy import select

from fiscus.core.db import UnitOfWork
from fiscus.core.events import Event
from fiscus.core.keyring import KeyRing

# (key ring, tenant, event payload) -> the secret's value.
Expander = Callable[[KeyRing, uuid.UUID, dict[str, Any]], str]
_expanders: dict[str, dict[str, Expander]] = {}
_MARK = "[[fiscus-secret:{}]]"


def register_secret(event_type: str, name: str, expander: Expander) -> None:
    """Let templates of `event_type` use `{{ secret.<name> }}`, filled in at send time."""
    _expanders.setdefault(event_type, {})[name] = expander


def placeholders(event_type: str) -> dict[str, str]:
    """The `secret` template variable for an event type: a placeholder per secret."""
    return {name: _MARK.format(name) for name in _expanders.get(event_type, {})}


async def secrets_expand(
    uow: UnitOfWork,
    *,
    keyring: KeyRing,
    tenant_id: uuid.UUID,
    event_id: uuid.UUID | None,
    event_type: str,
    texts: list[str | None],
) -> list[str | None]:
    """`texts` with every placeholder replaced by its secret (unchanged if none are used)."""
    wanted = {
        name: fn
        for name, fn in _expanders.get(event_type, {}).items()
        if any(t and _MARK.format(name) in t for t in texts)
    }
    if not wanted or event_id is None:
        return texts
    payload = await uow.session.scalar(
        select(Event.payload).where(Event.id == event_id, Event.tenant_id == tenant_id)
    )
    if payload is None:
        return texts
    values = {_MARK.format(name): fn(keyring, tenant_id, payload) for name, fn in wanted.items()}
    result: list[str | None] = []
    for text in texts:
        filled = text
        for mark, value in values.items():
            filled = filled.replace(mark, value) if filled else filled
        result.append(filled)
    return result
