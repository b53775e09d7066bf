"""Errors of the audit module, each with a stable problem type."""

from __future__ import annotations

from fiscus.core.errors import NotFound


class AuditEventNotFound(NotFound):
    """No audit event with this id in the tenant."""

    type_slug = "audit-event-not-found"
    title = "Audit event not found"
