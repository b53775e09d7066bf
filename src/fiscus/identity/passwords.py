"""Passwords: NIST SP 800-63B rules and argon2id hashing in a bounded pool.

8-128 characters of any Unicode, NFKC-normalised, no composition rules, never
truncated, refused when on the bundled list of common passwords.

argon2id parameters follow OWASP's Password Storage Cheat Sheet (m=19 MiB, t=2, p=1: one
core and 19 MiB per hash) and are configurable; a hash made with other parameters is
replaced at the next successful log-in. Hashing runs on its own few threads behind a
capacity limiter, so a burst of log-ins queues there instead of taking every core and the
event loop's default thread pool (DNS look-ups, file writes) from other requests.

The queue is bounded too: when `queue` hashes already wait, the next one is refused at once
with `PasswordHashingBusy` (503, Retry-After from the measured time of a hash) instead of
waiting. Without the bound a burst above the pool's rate grows the queue without end: every
log-in waits for all the ones before it, clients time out and retry, and the wait reaches
tens of seconds (measured: p99 20 s at 250 requests/s in `bench.load`). A refusal costs
nothing and is not a failed guess: no counter moves.
"""

from __future__ import annotations

import math
import os
import time
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache, cached_property
from importlib import resources
from typing import TypeVar

from anyio import CapacityLimiter, to_thread
from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from fiscus.identity.errors import PasswordHashingBusy, WeakPassword

T = TypeVar("T")

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


# Hashes that may wait per pool thread when not configured: at OWASP's parameters a hash
# takes 25-40 ms on one core, so a full queue is drained in about a quarter of a second.
QUEUE_PER_THREAD = 8


def default_queue(concurrency: int) -> int:
    """Waiting hashes allowed when not configured."""
    return QUEUE_PER_THREAD * concurrency


class PasswordHashing:
    """argon2id with one set of parameters, run on at most `concurrency` threads, with at
    most `queue` hashes waiting for a thread."""

    def __init__(
        self, parameters: Argon2Parameters, *, concurrency: int, queue: int | None = None
    ) -> None:
        self.parameters = parameters
        self.queue = default_queue(concurrency) if queue is None else queue
        # Seconds per hash, a moving average of the measured ones (for Retry-After).
        self.seconds_per_hash = 0.05
        self.hasher = PasswordHasher(
            time_cost=parameters.time_cost,
            memory_cost=parameters.memory_kib,
            parallelism=parameters.parallelism,
            hash_len=32,
            salt_len=16,
            type=Type.ID,
        )
        self.limiter = CapacityLimiter(concurrency)
        # Hashes admitted and not finished: running on a thread or waiting for one.
        self.inside = 0

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

    def waiting(self) -> int:
        """Hashes waiting for a thread now."""
        return max(0, self.inside - self.limiter.borrowed_tokens)

    async def run(self, work: Callable[..., T], *args: str | None) -> T:
        """`work(*args)` on a pool thread; PasswordHashingBusy when the queue is full.

        Admission is counted here, before the first await: the limiter's own count of
        waiters moves only once a task reaches it, so checking that instead let a burst
        slip one or two past the bound."""
        threads = self.limiter.total_tokens
        if self.inside >= threads + self.queue:
            wait_s = self.inside * self.seconds_per_hash / threads
            raise PasswordHashingBusy(
                "Too many log-ins are being checked right now; try again shortly.",
                retry_after_s=math.ceil(wait_s),
            )
        self.inside += 1
        try:
            return await to_thread.run_sync(self._timed, work, *args, limiter=self.limiter)
        finally:
            self.inside -= 1

    def _timed(self, work: Callable[..., T], *args: str | None) -> T:
        started = time.perf_counter()
        try:
            return work(*args)
        finally:
            spent = time.perf_counter() - started
            self.seconds_per_hash += (spent - self.seconds_per_hash) / 8


# One pool per process: the cores it shares are the process's. Replaced by configuration.
_process = [PasswordHashing(Argon2Parameters(), concurrency=default_concurrency())]


def password_hashing_configure(
    parameters: Argon2Parameters, *, concurrency: int, queue: int | None = None
) -> None:
    """Use these parameters and these bounds for every later hash of the process."""
    current = _process[0]
    wanted_queue = default_queue(concurrency) if queue is None else queue
    if (
        current.parameters != parameters
        or current.limiter.total_tokens != concurrency
        or current.queue != wanted_queue
    ):
        _process[0] = PasswordHashing(parameters, concurrency=concurrency, queue=wanted_queue)


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
    return await hashing.run(hashing.hash, password)


async def password_verify_pooled(stored_hash: str | None, password: str) -> bool:
    """`password_verify` on the bounded hashing pool."""
    hashing = password_hashing()
    return await hashing.run(hashing.verify, stored_hash, password)


def password_needs_rehash(stored_hash: str) -> bool:
    """True when the hash was made with other parameters than the configured ones."""
    try:
        return password_hashing().hasher.check_needs_rehash(stored_hash)
    except InvalidHashError:
        return True
