"""The key ring: one set of keys for everything fiscus encrypts at rest or hashes for look-up.

Envelope encryption. The data itself is encrypted with random 256-bit *data keys* kept in
the `encryption_keys` table, each wrapped (AES-GCM) by a key derived from the root secret
`FISCUS_SECRET_KEY`. A database dump therefore holds no readable personal data or secret
without the root secret, and:

* rotating the root secret re-wraps a handful of keys, not every row: set the new
  `FISCUS_SECRET_KEY`, list the old one in `FISCUS_PREVIOUS_SECRET_KEYS`, start fiscus (or
  run `fiscus keys rotate`); the keys are re-wrapped under the new secret at start;
* rotating the data key (`fiscus keys rotate`) makes a new key, waits until every process
  has loaded it, switches new writes to it, re-encrypts every registered column in the
  background, and deletes the old key once nothing refers to it.

Every sealed value names its key: `0x01 | key id (8 ASCII) | nonce (12) | AES-GCM ciphertext`,
with caller-chosen associated data (the table, column and row) so that a value copied to
another row or column does not decrypt.

Look-up hashes (blind indexes of emails, phone numbers; backup codes) are HMAC-SHA256
under the *index key*, which is never replaced, only re-wrapped: replacing it would make
every stored backup code unusable. It protects low-entropy values against offline guessing
by anyone who has the database but not the root secret.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import os
import time
import unicodedata
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import delete, insert, select, text, update
from sqlalchemy.engine import Connection

from fiscus.core import clock
from fiscus.core.db import Database
from fiscus.core.models import EncryptionKey

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
    """The keys cannot be opened or used; the message says what to configure."""


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
        if secret is not current:
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
            raise KeyRingError("The database has no encryption keys yet; run `fiscus migrate`.")
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
            except KeyRingError:
                raise
            except Exception:  # noqa: S112 - an outage must not end the refresher
                continue

    # Using -----------------------------------------------------------------------------

    @property
    def current_kid(self) -> str:
        """The data key new values are sealed with."""
        assert self._current is not None, "load the key ring before using it"
        return self._current

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
        assert self._index is not None, "load the key ring before using it"
        normal = unicodedata.normalize("NFKC", value)
        return hmac.new(
            self._index, purpose.encode() + b"\x00" + normal.encode(), hashlib.sha256
        ).digest()


# Rotation ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SealedColumn:
    """A column of sealed values that `fiscus keys rotate` re-encrypts.

    `key` names the primary-key columns; `context` builds each row's associated data from
    their values, exactly as the owning module does when it writes the column.
    """

    table: str
    column: str
    key: tuple[str, ...]
    context: Callable[[Sequence[Any]], bytes]


_sealed_columns: dict[tuple[str, str], SealedColumn] = {}


def register_sealed_column(column: SealedColumn) -> None:
    """Declare a sealed column (each module, for its own tables, at import)."""
    _sealed_columns[(column.table, column.column)] = column


def sealed_columns() -> list[SealedColumn]:
    """Every registered sealed column."""
    return sorted(_sealed_columns.values(), key=lambda c: (c.table, c.column))


async def data_key_create(db: Database, ring: KeyRing) -> str:
    """Add a new data key, readable by every process but not yet used for writing."""
    values, _ = _new_key_row(ring.roots[0], DATA, active=False)
    async with db.uow() as uow:
        await uow.session.execute(insert(EncryptionKey).values(**values))
    await ring.load(db, create=False)
    return str(values["id"])


async def data_key_activate(db: Database, ring: KeyRing, kid: str) -> None:
    """Make `kid` the key new values are sealed with."""
    async with db.uow() as uow:
        await uow.session.execute(
            update(EncryptionKey).where(EncryptionKey.id == kid).values(activated_at=clock.now())
        )
    await ring.load(db, create=False)


async def column_stale_count(db: Database, ring: KeyRing, column: SealedColumn) -> int:
    """How many values of the column are not sealed with the current data key."""
    async with db.uow() as uow:
        found = await uow.session.execute(
            text(
                f"SELECT count(*) FROM {column.table} WHERE {column.column} IS NOT NULL"  # noqa: S608
                f" AND substring({column.column} from 2 for {KID_CHARS}) <> :kid"
            ),
            {"kid": ring.current_kid.encode()},
        )
        return int(found.scalar_one())


async def column_reseal_batch(
    db: Database, ring: KeyRing, column: SealedColumn, *, batch: int = 500
) -> int:
    """Re-encrypt up to `batch` stale values of the column with the current key; how many."""
    assert 1 <= batch <= 10_000
    keys = ", ".join(column.key)
    async with db.uow() as uow:
        rows = (
            await uow.session.execute(
                text(
                    f"SELECT {keys}, {column.column} FROM {column.table}"  # noqa: S608
                    f" WHERE {column.column} IS NOT NULL"
                    f" AND substring({column.column} from 2 for {KID_CHARS}) <> :kid"
                    f" ORDER BY {keys} LIMIT :limit FOR UPDATE SKIP LOCKED"
                ),
                {"kid": ring.current_kid.encode(), "limit": batch},
            )
        ).all()
        where = " AND ".join(f"{name} = :k{i}" for i, name in enumerate(column.key))
        statement = text(
            f"UPDATE {column.table} SET {column.column} = :sealed WHERE {where}"  # noqa: S608
        )
        for row in rows:
            key_values = tuple(row[: len(column.key)])
            context = column.context(key_values)
            plain = ring.open(bytes(row[-1]), context=context)
            params = {f"k{i}": value for i, value in enumerate(key_values)}
            params["sealed"] = ring.seal(plain, context=context)
            await uow.session.execute(statement, params)
    return len(rows)


async def data_keys_retire(db: Database, ring: KeyRing) -> list[str]:
    """Delete every data key but the current one (call after every column is re-sealed)."""
    async with db.uow() as uow:
        gone = (
            await uow.session.execute(
                delete(EncryptionKey)
                .where(EncryptionKey.purpose == DATA, EncryptionKey.id != ring.current_kid)
                .returning(EncryptionKey.id)
            )
        ).scalars()
        retired = list(gone)
    await ring.load(db, create=False)
    return retired


def roots_from(current: str, previous: Iterable[str]) -> list[str]:
    """The root secrets, newest first, without repeats."""
    return list(dict.fromkeys([current, *previous]))
