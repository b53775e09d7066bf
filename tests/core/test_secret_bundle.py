"""`fiscus keys export/import`: the root secret's backup, encrypted with a passphrase."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from fiscus.core.config import load_settings
from fiscus.core.keyring import (
    SecretBundleError,
    root_kid,
    secret_bundle_open,
    secret_bundle_seal,
)
from tests.live import fiscus_cli

SECRET = "root-secret-of-the-bank-" + "q" * 40
PREVIOUS = "root-secret-before-it-" + "p" * 40
PASSPHRASE = "correct horse battery staple, twice"


def _cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return fiscus_cli(*args, env={"FISCUS_ENV": "test"} | env)


def test_export_then_import_restores_the_secret_and_never_shows_it(tmp_path: Path) -> None:
    bundle = tmp_path / "secret.bundle"
    exported = _cli(
        "keys",
        "export",
        "-o",
        str(bundle),
        env={
            "FISCUS_SECRET_KEY": SECRET,
            "FISCUS_PREVIOUS_SECRET_KEYS": json.dumps([PREVIOUS]),
            "FISCUS_BUNDLE_PASSPHRASE": PASSPHRASE,
        },
    )
    assert exported.returncode == 0, exported.stderr
    assert bundle.stat().st_mode & 0o777 == 0o600
    content = bundle.read_text()
    assert SECRET not in content and PREVIOUS not in content
    assert json.loads(content)["root_id"] == root_kid(SECRET)

    data_dir = tmp_path / "restored"
    imported = _cli(
        "keys",
        "import",
        str(bundle),
        env={"FISCUS_DATA_DIR": str(data_dir), "FISCUS_BUNDLE_PASSPHRASE": PASSPHRASE},
    )
    assert imported.returncode == 0, imported.stderr
    secret_file = data_dir / "secret_key"
    assert secret_file.read_text() == SECRET
    assert secret_file.stat().st_mode & 0o777 == 0o600
    env_file = tmp_path / "fiscus.env"
    as_env = _cli(
        "keys",
        "import",
        str(bundle),
        "--env-file",
        str(env_file),
        env={"FISCUS_BUNDLE_PASSPHRASE": PASSPHRASE},
    )
    assert as_env.returncode == 0, as_env.stderr
    settings = load_settings(_env_file=str(env_file), data_dir=tmp_path / "unused")  # type: ignore[call-arg]
    assert settings.root_secrets == [SECRET, PREVIOUS]
    for result in (exported, imported, as_env):
        assert SECRET not in result.stdout + result.stderr
        assert PREVIOUS not in result.stdout + result.stderr


def test_a_wrong_passphrase_an_altered_bundle_and_a_different_secret_are_refused(
    tmp_path: Path,
) -> None:
    bundle = tmp_path / "secret.bundle"
    bundle.write_bytes(secret_bundle_seal([SECRET], PASSPHRASE))
    wrong = _cli(
        "keys",
        "import",
        str(bundle),
        env={"FISCUS_DATA_DIR": str(tmp_path), "FISCUS_BUNDLE_PASSPHRASE": "not the passphrase"},
    )
    assert wrong.returncode == 1 and "Wrong passphrase" in wrong.stderr
    assert not (tmp_path / "secret_key").exists()

    altered = json.loads(bundle.read_text())
    altered["root_id"] = "00000000"
    with pytest.raises(SecretBundleError, match="altered"):
        secret_bundle_open(json.dumps(altered).encode(), PASSPHRASE)
    greedy = json.loads(bundle.read_text())
    greedy["kdf"]["n"] = 2**30
    with pytest.raises(SecretBundleError, match="out of bounds"):
        secret_bundle_open(json.dumps(greedy).encode(), PASSPHRASE)
    with pytest.raises(SecretBundleError, match="not a"):
        secret_bundle_open(b"PGDMP not a bundle", PASSPHRASE)

    (tmp_path / "secret_key").write_text("the secret of another installation " + "x" * 20)
    kept = _cli(
        "keys",
        "import",
        str(bundle),
        env={"FISCUS_DATA_DIR": str(tmp_path), "FISCUS_BUNDLE_PASSPHRASE": PASSPHRASE},
    )
    assert kept.returncode == 1 and "another secret" in kept.stderr
    assert (tmp_path / "secret_key").read_text().startswith("the secret of another")


def test_a_short_passphrase_is_refused() -> None:
    with pytest.raises(SecretBundleError, match="at least"):
        secret_bundle_seal([SECRET], "short")
