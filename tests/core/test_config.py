import stat
from pathlib import Path

import pytest

from fiscus.core.config import ConfigError, Environment, load_settings


def test_production_without_secret_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FISCUS_SECRET_KEY", raising=False)
    with pytest.raises(ConfigError, match="FISCUS_SECRET_KEY is not set"):
        load_settings(env=Environment.production, database_url="postgresql://x@h/db")


def test_production_without_database_url_is_a_clear_error() -> None:
    with pytest.raises(ConfigError, match="FISCUS_DATABASE_URL must be set"):
        load_settings(env=Environment.production, secret_key="s" * 40)


@pytest.mark.parametrize("weak", ["changeme", "short-secret"])
def test_placeholder_or_short_secrets_are_refused(weak: str) -> None:
    with pytest.raises(ConfigError, match="placeholder or shorter"):
        load_settings(
            env=Environment.production, database_url="postgresql://x@h/d", secret_key=weak
        )


def test_embedded_secret_is_generated_once_and_kept_private(tmp_path: Path) -> None:
    first = load_settings(data_dir=tmp_path, secret_key=None).resolved_secret_key
    second = load_settings(data_dir=tmp_path, secret_key=None).resolved_secret_key
    assert first == second
    assert len(first) >= 48
    mode = (tmp_path / "secret_key").stat().st_mode
    assert stat.S_IMODE(mode) == 0o600


def test_settings_read_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FISCUS_PORT", "9123")
    monkeypatch.setenv("FISCUS_HOST", "0.0.0.0")
    settings = load_settings()
    assert (settings.port, settings.host) == (9123, "0.0.0.0")
    monkeypatch.setenv("FISCUS_PORT", "not-a-port")
    with pytest.raises(ConfigError):
        load_settings()
