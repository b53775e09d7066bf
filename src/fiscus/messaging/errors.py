"""Errors of the messaging module, each with a stable problem type."""

from __future__ import annotations

from fiscus.core.errors import NotFound, PermissionDenied, ValidationProblem


class TemplateNotOverridable(PermissionDenied):
    """The event's messages carry a secret (a token), so no tenant may override them.

    Only the system template places the reset or confirmation token, on every channel.
    """

    type_slug = "template-not-overridable"
    title = "Template not overridable"


class MessagesNeedAUser(ValidationProblem):
    """Only a signed-in user has messages and message choices (not an API key)."""

    type_slug = "messages-user-required"
    title = "Messages belong to a signed-in user"


class MessageCategoryUnknown(ValidationProblem):
    """The message category is not one fiscus sends."""

    type_slug = "message-category-unknown"
    title = "Unknown message category"


class MessageCategoryNotOptional(ValidationProblem):
    """Security messages are always sent: their channels cannot be chosen."""

    type_slug = "message-category-not-optional"
    title = "Message category cannot be switched off"


class MessageChannelUnknown(ValidationProblem):
    """A channel is not one of email, sms and in_app."""

    type_slug = "message-channel-unknown"
    title = "Unknown message channel"


class TimezoneUnknown(ValidationProblem):
    """The time zone is not an IANA name (such as Europe/Berlin)."""

    type_slug = "timezone-unknown"
    title = "Unknown time zone"


class QuietHoursInvalid(ValidationProblem):
    """Quiet hours need both a start and an end."""

    type_slug = "quiet-hours-invalid"
    title = "Invalid quiet hours"


class MessageNotFound(NotFound):
    """No message with this id for the caller."""

    type_slug = "message-not-found"
    title = "Message not found"


class UnsubscribeLinkInvalid(ValidationProblem):
    """The unsubscribe link is malformed, forged or for another tenant."""

    type_slug = "unsubscribe-link-invalid"
    title = "Invalid unsubscribe link"


class TemplateOutputTooLarge(ValidationProblem):
    """The template renders more characters than FISCUS_TEMPLATE_MAX_OUTPUT_CHARS allows.

    Counted on the way too: a string built inside the template counts before it is output.
    """

    type_slug = "template-output-too-large"
    title = "Template output too large"


class TemplateRenderTooSlow(ValidationProblem):
    """The template takes longer to render than FISCUS_TEMPLATE_MAX_RENDER_MS allows.

    A loop over a range longer than the output limit is refused the same way, at once.
    """

    type_slug = "template-render-too-slow"
    title = "Template render too slow"
