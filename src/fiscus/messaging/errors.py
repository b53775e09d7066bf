"""Errors of the messaging module, each with a stable problem type."""

from __future__ import annotations

from fiscus.core.errors import PermissionDenied, ValidationProblem


class TemplateNotOverridable(PermissionDenied):
    """The event's messages carry a secret (a reset or confirmation token): only the system
    template places it, so no tenant may override any of its channels."""

    type_slug = "template-not-overridable"
    title = "Template not overridable"


class TemplateOutputTooLarge(ValidationProblem):
    """The template renders (or builds on the way) more characters than
    FISCUS_TEMPLATE_MAX_OUTPUT_CHARS allows."""

    type_slug = "template-output-too-large"
    title = "Template output too large"


class TemplateRenderTooSlow(ValidationProblem):
    """The template takes longer to render than FISCUS_TEMPLATE_MAX_RENDER_MS allows (or
    loops over a range longer than the output limit)."""

    type_slug = "template-render-too-slow"
    title = "Template render too slow"
