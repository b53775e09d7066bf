"""Identifiers: UUIDv7, time-ordered, so primary keys index well and sort by creation."""

from __future__ import annotations

import uuid

from uuid_utils.compat import uuid7


def new_id() -> uuid.UUID:
    """A fresh UUIDv7 as a standard-library UUID."""
    return uuid7()


def parse_id(value: str) -> uuid.UUID | None:
    """Parse a UUID string; None when it is not one (callers answer 404 for bad ids)."""
    try:
        return uuid.UUID(value)
    except (ValueError, AttributeError, TypeError):
        return None
