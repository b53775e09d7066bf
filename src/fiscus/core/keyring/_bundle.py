"""The root secret's backup: a passphrase-encrypted bundle (`fiscus keys export/import`).

A database dump holds only wrapped keys: restoring it needs the root secret of the
installation that wrote it. The bundle carries that secret (and any previous ones still
configured) encrypted with AES-256-GCM under a key derived from a passphrase with scrypt
(N=2^17, r=8, p=1: about 128 MiB and a few hundred milliseconds per guess). Its header
(format, KDF parameters, salt, the root secret's id) is authenticated with it. The secret
never appears in clear on the way: not in the file, not on the terminal, not in a log.
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from fiscus.core import clock
from fiscus.core.keyring._ring import NONCE_BYTES, root_kid

BUNDLE_FORMAT = "fiscus-secret-bundle/1"
MIN_PASSPHRASE_CHARS = 12
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**17, 8, 1
# Bounds on the parameters a bundle may ask for, so that a crafted file cannot make an
# import allocate gigabytes or spin for minutes.
_MAX_N, _MAX_R, _MAX_P = 2**20, 16, 4
_SALT_BYTES = 16
_MAX_BUNDLE_BYTES = 64 * 1024


class SecretBundleError(Exception):
    """The bundle cannot be written or opened; the message says why (never the secret)."""


@dataclass(frozen=True, slots=True)
class SecretBundle:
    """What a bundle holds: the root secret, the previous ones, and the root secret's id."""

    secret_key: str
    previous_secret_keys: list[str]

    @property
    def root_id(self) -> str:
        """The id `fiscus keys status` shows for this secret."""
        return root_kid(self.secret_key)


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def _unb64(value: Any) -> bytes:
    if not isinstance(value, str):
        raise SecretBundleError("The bundle is damaged (a field is not base64 text).")
    try:
        return base64.b64decode(value, validate=True)
    except ValueError:
        raise SecretBundleError("The bundle is damaged (a field is not base64 text).") from None


def _derive(passphrase: str, salt: bytes, n: int, r: int, p: int) -> AESGCM:
    return AESGCM(Scrypt(salt=salt, length=32, n=n, r=r, p=p).derive(passphrase.encode()))


def _aad(header: dict[str, Any]) -> bytes:
    return json.dumps(header, sort_keys=True, separators=(",", ":")).encode()


def secret_bundle_seal(secrets: Sequence[str], passphrase: str, *, cost: int = SCRYPT_N) -> bytes:
    """The bundle (JSON text) holding `secrets` (current first) under `passphrase`."""
    assert secrets, "a bundle holds at least the current root secret"
    if len(passphrase) < MIN_PASSPHRASE_CHARS:
        raise SecretBundleError(
            f"The passphrase must have at least {MIN_PASSPHRASE_CHARS} characters."
        )
    salt, nonce = os.urandom(_SALT_BYTES), os.urandom(NONCE_BYTES)
    header: dict[str, Any] = {
        "format": BUNDLE_FORMAT,
        "kdf": {"name": "scrypt", "n": cost, "r": SCRYPT_R, "p": SCRYPT_P, "salt": _b64(salt)},
        "cipher": "AES-256-GCM",
        "root_id": root_kid(secrets[0]),
        "created_at": clock.rfc3339(clock.now()),
    }
    plaintext = json.dumps(
        {"secret_key": secrets[0], "previous_secret_keys": list(secrets[1:])}
    ).encode()
    sealed = _derive(passphrase, salt, cost, SCRYPT_R, SCRYPT_P).encrypt(
        nonce, plaintext, _aad(header)
    )
    body = {**header, "nonce": _b64(nonce), "ciphertext": _b64(sealed)}
    return (json.dumps(body, indent=2) + "\n").encode()


def _header(bundle: dict[str, Any]) -> tuple[dict[str, Any], int, int, int, bytes]:
    if bundle.get("format") != BUNDLE_FORMAT:
        raise SecretBundleError(f"This is not a {BUNDLE_FORMAT} file.")
    kdf = bundle.get("kdf")
    if not isinstance(kdf, dict) or kdf.get("name") != "scrypt":
        raise SecretBundleError("The bundle names an unknown key derivation.")
    n, r, p = kdf.get("n"), kdf.get("r"), kdf.get("p")
    if not (
        isinstance(n, int)
        and isinstance(r, int)
        and isinstance(p, int)
        and 2 <= n <= _MAX_N
        and n & (n - 1) == 0
        and 1 <= r <= _MAX_R
        and 1 <= p <= _MAX_P
    ):
        raise SecretBundleError("The bundle's key derivation parameters are out of bounds.")
    header = {k: bundle[k] for k in ("format", "kdf", "cipher", "root_id", "created_at")}
    return header, n, r, p, _unb64(kdf.get("salt"))


def secret_bundle_open(data: bytes, passphrase: str) -> SecretBundle:
    """The secrets in a bundle; SecretBundleError on a wrong passphrase or altered file."""
    if len(data) > _MAX_BUNDLE_BYTES:
        raise SecretBundleError("This file is far larger than a secret bundle.")
    try:
        bundle = json.loads(data)
        header, n, r, p, salt = _header(bundle)
    except (ValueError, KeyError, TypeError, AttributeError):
        raise SecretBundleError(f"This is not a {BUNDLE_FORMAT} file.") from None
    try:
        plaintext = _derive(passphrase, salt, n, r, p).decrypt(
            _unb64(bundle.get("nonce")), _unb64(bundle.get("ciphertext")), _aad(header)
        )
    except InvalidTag:
        raise SecretBundleError("Wrong passphrase, or the bundle was altered.") from None
    content = json.loads(plaintext)
    opened = SecretBundle(
        secret_key=str(content["secret_key"]),
        previous_secret_keys=[str(s) for s in content.get("previous_secret_keys", [])],
    )
    if opened.root_id != header["root_id"]:
        raise SecretBundleError("The bundle was altered (its root id does not match).")
    return opened


def _write_private(path: Path, content: str, *, replace: bool) -> None:
    """Write `content` to a new file only its owner can read (mode 0600).

    An existing file with the same content is left as it is; another is replaced only
    with `replace`, so that an import never silently swaps an installation's secret.
    """
    if path.exists():
        if path.read_text(encoding="utf-8") == content:
            return
        if not replace:
            raise SecretBundleError(
                f"{path} exists and holds another secret; move it away first (or --force)."
            )
        path.unlink()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(content)


def secret_bundle_export(
    path: Path, secrets: Sequence[str], passphrase: str, *, replace: bool = False
) -> str:
    """Write the bundle of `secrets` to `path` (mode 0600); return the root secret's id."""
    _write_private(path, secret_bundle_seal(secrets, passphrase).decode(), replace=replace)
    return root_kid(secrets[0])


def secret_bundle_import(
    bundle_path: Path,
    passphrase: str,
    *,
    secret_file: Path | None = None,
    env_file: Path | None = None,
    replace: bool = False,
) -> SecretBundle:
    """Open a bundle and write its secret where fiscus reads it (mode 0600).

    `secret_file` is the embedded installation's `$FISCUS_DATA_DIR/secret_key` (the current
    secret only); `env_file` gets `FISCUS_SECRET_KEY` and `FISCUS_PREVIOUS_SECRET_KEYS`
    lines, for installations configured through the environment or a `.env` file.
    """
    assert (secret_file is None) != (env_file is None), "one destination"
    try:
        data = bundle_path.read_bytes()
    except OSError as error:
        raise SecretBundleError(f"Cannot read {bundle_path}: {error.strerror}") from None
    opened = secret_bundle_open(data, passphrase)
    if secret_file is not None:
        _write_private(secret_file, opened.secret_key, replace=replace)
    else:
        assert env_file is not None
        lines = [f"FISCUS_SECRET_KEY={json.dumps(opened.secret_key)}"]
        if opened.previous_secret_keys:
            previous = json.dumps(json.dumps(opened.previous_secret_keys))
            lines.append(f"FISCUS_PREVIOUS_SECRET_KEYS={previous}")
        _write_private(env_file, "\n".join(lines) + "\n", replace=replace)
    return opened
