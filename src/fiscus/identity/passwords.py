"""Passwords: NIST SP 800-63B rules and argon2id hashing.

8-128 characters of any Unicode, NFKC-normalised, no composition rules, never
truncated, refused when on the bundled list of common passwords.
"""

from __future__ import annotations

import unicodedata
from functools import cache
from importlib import resources

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from fiscus.identity.errors import WeakPassword

MIN_LENGTH = 8
MAX_LENGTH = 128
_hasher = PasswordHasher()  # argon2id with the library's RFC 9106 low-memory profile
# Verified when the account does not exist, so timing does not reveal which emails exist.
_DUMMY_HASH = _hasher.hash("fiscus-dummy-password-for-timing")


def normalise(password: str) -> str:
    """NFKC form, so the same password typed on different keyboards matches."""
    return unicodedata.normalize("NFKC", password)


@cache
def common_passwords() -> frozenset[str]:
    """The bundled list of common passwords (lower-case)."""
    text = resources.files("fiscus.identity").joinpath("data/common-passwords.txt").read_text()
    return frozenset(
        line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")
    )


def password_check(password: str) -> str:
    """The normalised password, or WeakPassword saying which rule it breaks."""
    value = normalise(password)
    if len(value) < MIN_LENGTH:
        raise WeakPassword(f"A password needs at least {MIN_LENGTH} characters.")
    if len(value) > MAX_LENGTH:
        raise WeakPassword(f"A password may have at most {MAX_LENGTH} characters.")
    if value.lower() in common_passwords():
        raise WeakPassword("This password is on the list of commonly used passwords.")
    return value


def password_hash(password: str) -> str:
    """argon2id hash of a password that passed `password_check`."""
    return _hasher.hash(normalise(password))


def password_verify(stored_hash: str | None, password: str) -> bool:
    """True if `password` matches; with no hash, spends the same time and answers False."""
    try:
        return _hasher.verify(stored_hash or _DUMMY_HASH, normalise(password)) and bool(stored_hash)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def password_needs_rehash(stored_hash: str) -> bool:
    """True when the hash was made with weaker parameters than today's."""
    return _hasher.check_needs_rehash(stored_hash)
