"""Errors of the events module, each with a stable problem type."""

from __future__ import annotations

from fiscus.core.errors import NotFound


class EventNotFound(NotFound):
    """No event with this id in the tenant."""

    type_slug = "event-not-found"
    title = "Event not found"
