"""The key ring itself: data and index keys loaded from the database, seal, open, hash."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import os
import time
import unicodedata
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import insert, select, text
from sqlalchemy.engine import Connection

from fiscus.core import clock
from fiscus.core.db import Database
from fiscus.core.logging import get_logger
from fiscus.core.models import EncryptionKey

log = get_logger("fiscus.keyring")

FORMAT = b"\x01"
KID_CHARS = 8
NONCE_BYTES = 12
HEADER_BYTES = len(FORMAT) + KID_CHARS + NONCE_BYTES
DATA, INDEX = "data", "index"
# Serialises key creation and re-wrapping between processes starting at the same time.
KEYRING_LOCK = 0x6669_7363_7573_0002
# How often a running process re-reads the keys, so that it reads a new data key soon
# after `fiscus keys rotate` made it and writes with it soon after it became current.
REFRESH_S = 30.0


class KeyRingError(Exception):
    """The keys cannot be opened or used; the message says what to configure.

    Messages name key ids and settings, never a key or a secret: they are logged and shown.
    """


class KeyRingEmpty(KeyRingError):
    """The database has no keys yet (a new database, or a dump from before the key ring)."""


class KeyRingNotLoaded(KeyRingError):
    """The keys were not read yet (the database was unreachable when the process started)."""


def root_kid(secret: str) -> str:
    """The id of a root secret: names which secret wrapped a data key, reveals nothing."""
    return hashlib.sha256(b"fiscus/keyring/root-id:" + secret.encode()).hexdigest()[:KID_CHARS]


def _wrapping_key(secret: str) -> AESGCM:
    derived = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=b"fiscus", info=b"fiscus/keyring/wrap/v1"
    ).derive(secret.encode())
    return AESGCM(derived)


def _wrap(secret: str, kid: str, purpose: str, key: bytes) -> bytes:
    nonce = os.urandom(NONCE_BYTES)
    return nonce + _wrapping_key(secret).encrypt(nonce, key, f"{kid}:{purpose}".encode())


def _unwrap(secret: str, kid: str, purpose: str, wrapped: bytes) -> bytes:
    try:
        return _wrapping_key(secret).decrypt(
            wrapped[:NONCE_BYTES], wrapped[NONCE_BYTES:], f"{kid}:{purpose}".encode()
        )
    except InvalidTag:
        raise KeyRingError(
            f"The {purpose} key {kid} does not open with the secret it names; "
            "the encryption_keys table was altered."
        ) from None


def context_of(label: str, *parts: uuid.UUID | str | bytes) -> bytes:
    """Associated data for a sealed value: where it lives (e.g. `users.email` + row id)."""
    pieces = [label.encode()]
    for part in parts:
        if isinstance(part, uuid.UUID):
            pieces.append(part.bytes)
        elif isinstance(part, str):
            pieces.append(part.encode())
        else:
            pieces.append(part)
    return b"\x00".join(pieces)


def kid_of(sealed: bytes) -> str:
    """The id of the data key a sealed value was written with."""
    if len(sealed) < HEADER_BYTES or sealed[:1] != FORMAT:
        raise KeyRingError("This value was not sealed by the key ring.")
    return sealed[1 : 1 + KID_CHARS].decode("ascii")


@dataclass(frozen=True, slots=True)
class _Row:
    id: str
    purpose: str
    wrapped: bytes
    wrapped_by: str
    created_at: datetime
    activated_at: datetime | None


@dataclass
class _Plan:
    """What loading found: opened keys, and what must be written before they are usable."""

    keys: dict[str, tuple[str, bytes, datetime | None]] = field(default_factory=dict)
    insert: list[dict[str, Any]] = field(default_factory=list)
    rewrap: list[dict[str, Any]] = field(default_factory=list)

    @property
    def writes(self) -> bool:
        return bool(self.insert or self.rewrap)


def _new_key_row(secret: str, purpose: str, *, active: bool) -> tuple[dict[str, Any], bytes]:
    key = os.urandom(32)
    kid = os.urandom(KID_CHARS // 2).hex()
    now = clock.now()
    return (
        {
            "id": kid,
            "purpose": purpose,
            "wrapped": _wrap(secret, kid, purpose, key),
            "wrapped_by": root_kid(secret),
            "created_at": now,
            "activated_at": now if active else None,
        },
        key,
    )


def _plan(rows: Sequence[_Row], roots: Sequence[str], *, create: bool) -> _Plan:
    """Open every key with the root that wrapped it; plan creation and re-wrapping."""
    by_kid = {root_kid(secret): secret for secret in roots}
    current = roots[0]
    plan = _Plan()
    for row in rows:
        secret = by_kid.get(row.wrapped_by)
        if secret is None:
            raise KeyRingError(
                f"The keys of this database were wrapped with a root secret (id "
                f"{row.wrapped_by}) that is not configured. Set FISCUS_SECRET_KEY to the "
                "secret of the installation this database belongs to, or list it in "
                "FISCUS_PREVIOUS_SECRET_KEYS while you rotate."
            )
        key = _unwrap(secret, row.id, row.purpose, row.wrapped)
        plan.keys[row.id] = (row.purpose, key, row.activated_at)
        if secret != current:
            plan.rewrap.append(
                {
                    "b_id": row.id,
                    "wrapped": _wrap(current, row.id, row.purpose, key),
                    "wrapped_by": root_kid(current),
                }
            )
    if create:
        for purpose in (DATA, INDEX):
            if not any(p == purpose for p, _, _ in plan.keys.values()):
                values, key = _new_key_row(current, purpose, active=True)
                plan.insert.append(values)
                plan.keys[values["id"]] = (purpose, key, values["activated_at"])
    return plan


_SELECT = select(
    EncryptionKey.id,
    EncryptionKey.purpose,
    EncryptionKey.wrapped,
    EncryptionKey.wrapped_by,
    EncryptionKey.created_at,
    EncryptionKey.activated_at,
).order_by(EncryptionKey.created_at, EncryptionKey.id)
_LOCK = text("SELECT pg_advisory_xact_lock(:key)").bindparams(key=KEYRING_LOCK)


def _rewrap_statement() -> Any:
    return text(
        "UPDATE encryption_keys SET wrapped = :wrapped, wrapped_by = :wrapped_by WHERE id = :b_id"
    )


class KeyRing:
    """The opened keys of one database: seal, open, look-up hashes.

    Built from the root secrets (newest first) when the process starts, loaded from the
    database once it is reachable (`await ring.load(db)`), refreshed every REFRESH_S.
    """

    def __init__(self, roots: Sequence[str]) -> None:
        assert roots, "the key ring needs the root secret"
        self.roots = list(dict.fromkeys(roots))
        self._data: dict[str, AESGCM] = {}
        self._current: str | None = None
        self._index: bytes | None = None
        self._loaded_at = 0.0

    # Loading ---------------------------------------------------------------------------

    def _install(self, plan: _Plan) -> None:
        data = {kid: (key, at) for kid, (p, key, at) in plan.keys.items() if p == DATA}
        index = [key for p, key, _ in plan.keys.values() if p == INDEX]
        active = [(at, kid) for kid, (_, at) in data.items() if at is not None]
        if not active or not index:
            raise KeyRingEmpty(
                "The database has no encryption keys yet; fiscus creates them when it first"
                " starts on it (`fiscus serve`, `fiscus keys status`)."
            )
        self._data = {kid: AESGCM(key) for kid, (key, _) in data.items()}
        self._current = max(active)[1]
        self._index = index[0]
        self._loaded_at = time.monotonic()

    async def load(self, db: Database, *, create: bool = True) -> None:
        """Open the keys (creating them on a new database, re-wrapping after a root
        rotation), as the login role; safe when several processes start at once."""
        async with db.uow() as uow:
            rows = [_Row(*r) for r in (await uow.session.execute(_SELECT)).all()]
            plan = _plan(rows, self.roots, create=create)
            if plan.writes:
                await uow.session.execute(_LOCK)
                rows = [_Row(*r) for r in (await uow.session.execute(_SELECT)).all()]
                plan = _plan(rows, self.roots, create=create)
                if plan.insert:
                    await uow.session.execute(insert(EncryptionKey), plan.insert)
                if plan.rewrap:
                    await uow.session.execute(_rewrap_statement(), plan.rewrap)
        self._install(plan)

    def load_sync(self, connection: Connection, *, create: bool = True) -> None:
        """`load` on a synchronous connection in its transaction (migrations, CLI)."""
        rows = [_Row(*r) for r in connection.execute(_SELECT).all()]
        plan = _plan(rows, self.roots, create=create)
        if plan.writes:
            connection.execute(_LOCK)
            rows = [_Row(*r) for r in connection.execute(_SELECT).all()]
            plan = _plan(rows, self.roots, create=create)
            if plan.insert:
                connection.execute(insert(EncryptionKey), plan.insert)
            if plan.rewrap:
                connection.execute(_rewrap_statement(), plan.rewrap)
        self._install(plan)

    @property
    def loaded(self) -> bool:
        """True once the keys were read from the database."""
        return self._current is not None

    def refresh_due(self) -> bool:
        """True when the keys were last read more than REFRESH_S ago."""
        return time.monotonic() - self._loaded_at > REFRESH_S

    async def keep_fresh(self, db: Database) -> None:
        """Re-read the keys every REFRESH_S until cancelled (run as a task per process);
        while they could not be read yet (the database was down at start), every second."""
        while True:
            await asyncio.sleep(REFRESH_S if self.loaded else 1.0)
            try:
                await self.load(db, create=not self.loaded)
            except KeyRingError as error:
                # The keys in the database changed under this process (a root secret it
                # does not know wrapped them, or a restore from another installation).
                # Ending the refresher would leave it on stale keys for good; it keeps
                # serving with what it has and says so until it is restarted or fixed.
                log.error("keyring_refresh_refused", reason=str(error))
            except Exception:  # noqa: S112 - an outage must not end the refresher
                continue

    # Using -----------------------------------------------------------------------------

    @property
    def current_kid(self) -> str:
        """The data key new values are sealed with."""
        self._require_loaded()
        assert self._current is not None
        return self._current

    def _require_loaded(self) -> None:
        if self._current is None or self._index is None:
            raise KeyRingNotLoaded(
                "The encryption keys are not loaded yet: the database was unreachable when"
                " this process started; they are read again every second."
            )

    def kids(self) -> set[str]:
        """Every data key this process can open."""
        return set(self._data)

    def seal(self, plaintext: bytes, *, context: bytes) -> bytes:
        """Encrypt with the current data key; `context` is bound as associated data."""
        kid = self.current_kid
        nonce = os.urandom(NONCE_BYTES)
        return FORMAT + kid.encode() + nonce + self._data[kid].encrypt(nonce, plaintext, context)

    def open(self, sealed: bytes, *, context: bytes) -> bytes:
        """Decrypt a sealed value; KeyRingError if its key is unknown or it was altered/moved."""
        kid = kid_of(sealed)
        aead = self._data.get(kid)
        if aead is None:
            raise KeyRingError(f"Data key {kid} is not in the key ring.")
        nonce = sealed[1 + KID_CHARS : HEADER_BYTES]
        try:
            return aead.decrypt(nonce, sealed[HEADER_BYTES:], context)
        except InvalidTag:
            raise KeyRingError("A sealed value was altered or moved to another row.") from None

    def seal_text(self, value: str, *, context: bytes) -> bytes:
        """`seal` for text."""
        return self.seal(value.encode(), context=context)

    def open_text(self, sealed: bytes, *, context: bytes) -> str:
        """`open` for text."""
        return self.open(sealed, context=context).decode()

    def is_current(self, sealed: bytes) -> bool:
        """True if the value is sealed with the current data key (rotation skips it)."""
        return kid_of(sealed) == self.current_kid

    def lookup_hash(self, value: str, *, purpose: str) -> bytes:
        """HMAC-SHA256 of a normalised value under the index key (blind index, codes)."""
        return self.keyed_hash(unicodedata.normalize("NFKC", value).encode(), purpose=purpose)

    def keyed_hash(self, data: bytes, *, purpose: str) -> bytes:
        """HMAC-SHA256 of exact bytes under the index key: fingerprints and MACs, where two
        inputs that normalise alike must still differ (a request body, a signed link)."""
        self._require_loaded()
        assert self._index is not None
        return hmac.new(self._index, purpose.encode() + b"\x00" + data, hashlib.sha256).digest()


def roots_from(current: str, previous: Iterable[str]) -> list[str]:
    """The root secrets, newest first, without repeats."""
    return list(dict.fromkeys([current, *previous]))
