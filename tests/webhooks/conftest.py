"""Webhook tests send to receivers on loopback, which the SSRF guard allows only here."""

from __future__ import annotations

import pytest

from fiscus.core.config import Settings
from tests.conftest import make_settings


@pytest.fixture
def settings(clean_database: str) -> Settings:
    """Test settings that allow loopback webhook endpoints."""
    return make_settings(clean_database, webhooks_allow_private=True)
