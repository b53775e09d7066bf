"""Risk errors."""

from __future__ import annotations

from fiscus.core.errors import NotFound, ValidationProblem


class SanctionsFileInvalid(ValidationProblem):
    """A sanctions list file cannot be loaded as it stands; nothing was changed."""

    type_slug = "sanctions-file-invalid"
    title = "Invalid sanctions list file"


class SanctionsListNotFound(NotFound):
    """No sanctions list of this name is loaded."""

    type_slug = "sanctions-list-not-found"
    title = "Sanctions list not found"
