"""Passwords: NIST SP 800-63B rules and argon2id hashing in a bounded pool.

8-128 characters of any Unicode, NFKC-normalised, no composition rules, never
truncated, refused when on the bundled list of common passwords.

argon2id parameters follow OWASP's Password Storage Cheat Sheet (m=19 MiB, t=2, p=1: one
core and 19 MiB per hash) and are configurable; a hash made with other parameters is
replaced at the next successful log-in. Hashing runs on its own few threads behind a
capacity limiter, so a burst of log-ins queues there instead of taking every core and the
event loop's default thread pool (DNS look-ups, file writes) from other requests.
"""

from __future__ import annotations

import os
import unicodedata
from dataclasses import dataclass
from functools import cache, cached_property
from importlib import resources

from anyio import CapacityLimiter, to_thread
from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from fiscus.identity.errors import WeakPassword

MIN_LENGTH = 8
MAX_LENGTH = 128


@dataclass(frozen=True, slots=True)
class Argon2Parameters:
    """argon2id cost: memory in KiB, passes, lanes (OWASP's first option by default)."""

    memory_kib: int = 19 * 1024
    time_cost: int = 2
    parallelism: int = 1


def default_concurrency() -> int:
    """Hashes at once when not configured: half the cores, at least one."""
    return max(1, (os.cpu_count() or 2) // 2)


class PasswordHashing:
    """argon2id with one set of parameters, run on at most `concurrency` threads."""

    def __init__(self, parameters: Argon2Parameters, *, concurrency: int) -> None:
        self.parameters = parameters
        self.hasher = PasswordHasher(
            time_cost=parameters.time_cost,
            memory_cost=parameters.memory_kib,
            parallelism=parameters.parallelism,
            hash_len=32,
            salt_len=16,
            type=Type.ID,
        )
        self.limiter = CapacityLimiter(concurrency)

    @cached_property
    def dummy_hash(self) -> str:
        """Verified when the account does not exist, so timing does not reveal which
        emails exist; made with the current parameters, so it costs what a real one does."""
        return self.hasher.hash("fiscus-dummy-password-for-timing")

    def hash(self, password: str) -> str:
        """argon2id hash of a password that passed `password_check`."""
        return self.hasher.hash(normalise(password))

    def verify(self, stored_hash: str | None, password: str) -> bool:
        """True if `password` matches; with no hash, spends the same time and answers False."""
        try:
            verified = self.hasher.verify(stored_hash or self.dummy_hash, normalise(password))
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False
        return verified and bool(stored_hash)


# One pool per process: the cores it shares are the process's. Replaced by configuration.
_process = [PasswordHashing(Argon2Parameters(), concurrency=default_concurrency())]


def password_hashing_configure(parameters: Argon2Parameters, *, concurrency: int) -> None:
    """Use these parameters and this bound for every later hash of the process."""
    current = _process[0]
    if current.parameters != parameters or current.limiter.total_tokens != concurrency:
        _process[0] = PasswordHashing(parameters, concurrency=concurrency)


def password_hashing() -> PasswordHashing:
    """The process's hashing pool."""
    return _process[0]


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
    """argon2id hash of a password that passed `password_check` (blocking: in the calling
    thread; request paths use `password_hash_pooled`)."""
    return password_hashing().hash(password)


def password_verify(stored_hash: str | None, password: str) -> bool:
    """True if `password` matches; with no hash, spends the same time and answers False."""
    return password_hashing().verify(stored_hash, password)


async def password_hash_pooled(password: str) -> str:
    """`password_hash` on the bounded hashing pool."""
    hashing = password_hashing()
    return await to_thread.run_sync(hashing.hash, password, limiter=hashing.limiter)


async def password_verify_pooled(stored_hash: str | None, password: str) -> bool:
    """`password_verify` on the bounded hashing pool."""
    hashing = password_hashing()
    return await to_thread.run_sync(hashing.verify, stored_hash, password, limiter=hashing.limiter)


def password_needs_rehash(stored_hash: str) -> bool:
    """True when the hash was made with other parameters than the configured ones."""
    try:
        return password_hashing().hasher.check_needs_rehash(stored_hash)
    except InvalidHashError:
        return True
