"""audit_record: the audit trail entry written in the caller's transaction.

Rows go in unsealed, so concurrent writers of one tenant never wait for each other;
`audit_seal` (a job, and `fiscus audit verify`) later links them into the tenant's chain.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import insert

from fiscus.audit.models import AuditEvent
from fiscus.core import clock
from fiscus.core.context import Context
from fiscus.core.db import UnitOfWork
from fiscus.core.ids import new_id

REDACTED = "[redacted]"
PERSONAL = "[personal data]"
# Field names whose values never enter the audit trail.
_SECRET_FIELD = re.compile(
    r"password|secret|token|hash|totp|backup_code|^key$|_key$", re.IGNORECASE
)
# Personal data stays out too: the trail records THAT it changed, never the values (the
# trail is append-only and hash-chained, so nothing written can be erased later).
_PERSONAL_FIELD = re.compile(r"e_?mail|display_name|phone|full_name", re.IGNORECASE)
MAX_VALUE_CHARS = 500


def redact(values: dict[str, Any]) -> dict[str, Any]:
    """A copy with secret-looking and personal fields replaced and long values cut."""
    out: dict[str, Any] = {}
    for name, value in values.items():
        if _SECRET_FIELD.search(name):
            out[name] = REDACTED
        elif _PERSONAL_FIELD.search(name):
            out[name] = None if value is None else PERSONAL
        elif isinstance(value, str) and len(value) > MAX_VALUE_CHARS:
            out[name] = value[:MAX_VALUE_CHARS] + "..."
        else:
            out[name] = value
    return out


def changed_fields(before: dict[str, Any] | None, after: dict[str, Any] | None) -> dict[str, Any]:
    """{field: {"before": old, "after": new}} for the fields that differ, secrets and
    personal data redacted (a changed personal field shows as changed, without values)."""
    raw_old, raw_new = before or {}, after or {}
    old, new = redact(raw_old), redact(raw_new)
    return {
        name: {"before": old.get(name), "after": new.get(name)}
        for name in sorted(set(old) | set(new))
        if raw_old.get(name) != raw_new.get(name) or _SECRET_FIELD.search(name)
    }


async def audit_record(
    uow: UnitOfWork,
    *,
    ctx: Context,
    action: str,
    object_type: str | None = None,
    object_id: object | None = None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    outcome: str = "success",
    details: dict[str, Any] | None = None,
) -> None:
    """Record who did `action` to which object, in the caller's transaction."""
    assert uow.active, "audit records are written inside the use case's unit of work"
    assert outcome in ("success", "denied", "failure")
    changes: dict[str, Any] = {}
    if before is not None or after is not None:
        changes["fields"] = changed_fields(before, after)
    if details:
        changes["details"] = redact(details)
    await uow.session.execute(
        insert(AuditEvent).values(
            tenant_id=ctx.tenant_id,
            id=new_id(),
            occurred_at=clock.now(),
            actor_type=ctx.actor_type,
            actor_id=ctx.actor_id,
            api_key_id=ctx.api_key_id,
            action=action,
            outcome=outcome,
            object_type=object_type,
            object_id=None if object_id is None else str(object_id),
            changes=changes,
            ip=ctx.client_ip,
            user_agent=ctx.user_agent,
            request_id=ctx.request_id,
        )
    )
