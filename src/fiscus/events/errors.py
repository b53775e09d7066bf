"""Errors of the events module, each with a stable problem type."""

from __future__ import annotations

from fiscus.core.errors import NotFound, ValidationProblem


class EventNotFound(NotFound):
    """No event with this id in the tenant."""

    type_slug = "event-not-found"
    title = "Event not found"


class EventCursorInvalid(ValidationProblem):
    """`after` is not a cursor from `next_cursor` (or 0)."""

    type_slug = "event-cursor-invalid"
    title = "Invalid event cursor"
