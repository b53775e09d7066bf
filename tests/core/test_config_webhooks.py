"""Settings of the events/webhooks/messaging module."""

from __future__ import annotations

import pytest

from fiscus.core.config import ConfigError, Environment, load_settings


def test_private_webhook_targets_are_refused_in_production() -> None:
    with pytest.raises(ConfigError, match="WEBHOOKS_ALLOW_PRIVATE"):
        load_settings(
            env=Environment.production,
            database_url="postgresql://db/fiscus",
            secret_key="s" * 48,
            webhooks_allow_private=True,
        )
