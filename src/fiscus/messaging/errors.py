"""Errors of the messaging module, each with a stable problem type."""

from __future__ import annotations

from fiscus.core.errors import PermissionDenied


class TemplateNotOverridable(PermissionDenied):
    """The event's messages carry a secret (a reset or confirmation token): only the system
    template places it, so no tenant may override any of its channels."""

    type_slug = "template-not-overridable"
    title = "Template not overridable"
