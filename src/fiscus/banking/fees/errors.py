"""Errors of fees."""

from __future__ import annotations

from fiscus.core.errors import Conflict, NotFound


class FeeNotFound(NotFound):
    """No fee with this id that the caller may see."""

    type_slug = "fee-not-found"
    title = "Fee not found"


class FeeAlreadyReversed(Conflict):
    """The fee was already given back; a fee is reversed at most once."""

    type_slug = "fee-already-reversed"
    title = "Fee already reversed"
