"""Idempotency keys (API_CONVENTIONS.md): a retried POST returns the first response.

Same key + same request within the TTL replays the stored response with
`Idempotent-Replayed: true`; same key + a different request is a 409; concurrent
duplicates wait for the first to finish and then replay its response, so exactly one runs.

The key row is claimed in its own short transaction before the operation runs, and the
response is stored after it. If the process dies in between, the claim expires after
`LOCK_S` and a retry runs the operation again; operations that move money therefore also
carry the key into their own transaction (the ledger's unique transfer key), which makes
the second run return the first result instead of posting twice.

At rest, stored responses are sealed with the key ring (bound to the tenant and key):
they can carry a secret shown once (a webhook signing secret) or personal data; `fiscus
keys rotate` re-seals them like every other registered column. The request fingerprint is
an HMAC under the key ring's index key, which survives every rotation (a retry after a
rotation still matches), so a dump cannot be used to guess a password sent in a request
body offline.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pydantic_core
from fastapi import Request
from sqlalchemy import delete, select, text, update
from sqlalchemy.dialects.postgresql import insert
from starlette.responses import Response

from fiscus.core import clock
from fiscus.core.db import Database
from fiscus.core.errors import (
    DomainError,
    IdempotencyKeyInUse,
    IdempotencyKeyRequired,
    IdempotencyKeyReused,
    ValidationProblem,
)
from fiscus.core.http import render_error
from fiscus.core.keyring import KeyRing, SealedColumn, context_of, register_sealed_column
from fiscus.core.models import IdempotencyKey

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
LOCK_S = 60
WAIT_S = 10.0
MAX_KEY_LENGTH = 255
PURGE_BATCH = 10_000
FINGERPRINT_PURPOSE = "idempotency.request"
# Response headers worth replaying; the rest (dates, request ids) belong to each reply.
_KEPT_HEADERS = ("content-type", "location", "deprecation", "sunset")


@dataclass(frozen=True, slots=True)
class Claim:
    """This request owns the key and must complete or release it."""

    tenant_id: uuid.UUID
    key: str


@dataclass(frozen=True, slots=True)
class Replay:
    """The stored response of an earlier identical request."""

    status_code: int
    body: bytes
    headers: dict[str, str]


def request_fingerprint(keyring: KeyRing, method: str, path: str, body: bytes) -> bytes:
    """HMAC-SHA256 under the index key of method, path and the body (canonical JSON when
    it parses); exact bytes, so two bodies that differ only in Unicode form still differ."""
    try:
        canonical = json.dumps(json.loads(body), sort_keys=True, separators=(",", ":")).encode()
    except (ValueError, UnicodeDecodeError):
        canonical = body
    framed = b"".join(
        len(part).to_bytes(8, "big") + part for part in (method.encode(), path.encode(), canonical)
    )
    return keyring.keyed_hash(framed, purpose=FINGERPRINT_PURPOSE)


def _response_context(tenant_id: uuid.UUID, key: str) -> bytes:
    return context_of("idempotency_keys.response_body", tenant_id, key)


register_sealed_column(
    SealedColumn(
        table="idempotency_keys",
        column="response_body",
        key=("tenant_id", "key"),
        context=lambda values: _response_context(values[0], values[1]),
    )
)


def check_key(key: str) -> str:
    """Keys are 1..255 printable ASCII characters."""
    if not 0 < len(key) <= MAX_KEY_LENGTH or not key.isascii() or not key.isprintable():
        raise ValidationProblem(
            f"{HEADER} must be 1 to {MAX_KEY_LENGTH} printable ASCII characters.", field=HEADER
        )
    return key


class IdempotencyStore:
    """Claims, completes and replays idempotency keys in the `idempotency_keys` table."""

    def __init__(self, db: Database, *, ttl_s: int = 86400, keyring: KeyRing | None = None) -> None:
        """`keyring` (the process's key ring) is needed to record or replay responses;
        purging expired keys works without it."""
        self.db = db
        self.ttl = timedelta(seconds=ttl_s)
        self._keyring = keyring

    @property
    def keyring(self) -> KeyRing:
        """The key ring that seals responses and keys fingerprints."""
        assert self._keyring is not None, "recording responses needs the key ring"
        return self._keyring

    def _seal(self, tenant_id: uuid.UUID, key: str, body: bytes) -> bytes:
        return self.keyring.seal(body, context=_response_context(tenant_id, key))

    def _open(self, tenant_id: uuid.UUID, key: str, sealed: bytes) -> bytes:
        return self.keyring.open(sealed, context=_response_context(tenant_id, key))

    async def begin(
        self, *, tenant_id: uuid.UUID, key: str, method: str, path: str, fingerprint: bytes
    ) -> Claim | Replay:
        """Claim the key, or return the stored response, or raise a 409."""
        deadline = asyncio.get_running_loop().time() + WAIT_S
        pause = 0.02
        while True:
            outcome = await self._attempt(tenant_id, key, method, path, fingerprint)
            if outcome is not None:
                return outcome
            if asyncio.get_running_loop().time() >= deadline:
                raise IdempotencyKeyInUse(
                    "A request with this Idempotency-Key is still in progress; retry shortly.",
                    headers={"Retry-After": "1"},
                )
            await asyncio.sleep(pause)
            pause = min(pause * 2, 0.2)

    async def _attempt(
        self, tenant_id: uuid.UUID, key: str, method: str, path: str, fingerprint: bytes
    ) -> Claim | Replay | None:
        now = clock.now()
        async with self.db.uow(tenant_id=tenant_id) as uow:
            session = uow.session
            inserted = await session.execute(
                insert(IdempotencyKey)
                .values(
                    tenant_id=tenant_id,
                    key=key,
                    method=method,
                    path=path,
                    request_hash=fingerprint,
                    created_at=now,
                    locked_until=now + timedelta(seconds=LOCK_S),
                    expires_at=now + self.ttl,
                )
                .on_conflict_do_nothing()
                .returning(IdempotencyKey.key)
            )
            if inserted.first() is not None:
                return Claim(tenant_id, key)
            row = (
                await session.execute(
                    select(IdempotencyKey)
                    .where(IdempotencyKey.tenant_id == tenant_id, IdempotencyKey.key == key)
                    .with_for_update()
                )
            ).scalar_one_or_none()
            if row is None:
                return None  # released between our insert and select: try again
            if row.expires_at <= now:
                await session.delete(row)
                return None
            if (row.method, row.path) != (method, path) or (
                # An empty fingerprint was written before the key ring (migration 0006
                # could not recompute it without the body): method and path must match.
                row.request_hash and not hmac.compare_digest(row.request_hash, fingerprint)
            ):
                raise IdempotencyKeyReused(
                    f"This {HEADER} was used for a different request; use a new key."
                )
            if row.status_code is not None:
                body = self._open(tenant_id, key, row.response_body) if row.response_body else b""
                return Replay(row.status_code, body, row.response_headers or {})
            if row.locked_until <= now:
                # The first request's process died before storing its response: take over.
                row.locked_until = now + timedelta(seconds=LOCK_S)
                return Claim(tenant_id, key)
            return None

    async def complete(self, claim: Claim, response: Response) -> None:
        """Store the response of a claimed key so retries replay it."""
        headers = {name: value for name, value in response.headers.items() if name in _KEPT_HEADERS}
        async with self.db.uow(tenant_id=claim.tenant_id) as uow:
            await uow.session.execute(
                update(IdempotencyKey)
                .where(IdempotencyKey.tenant_id == claim.tenant_id, IdempotencyKey.key == claim.key)
                .values(
                    status_code=response.status_code,
                    response_body=self._seal(claim.tenant_id, claim.key, bytes(response.body)),
                    response_headers=headers,
                )
            )

    async def release(self, claim: Claim) -> None:
        """Forget a claim whose request failed on our side, so a retry can run."""
        async with self.db.uow(tenant_id=claim.tenant_id) as uow:
            await uow.session.execute(
                delete(IdempotencyKey).where(
                    IdempotencyKey.tenant_id == claim.tenant_id,
                    IdempotencyKey.key == claim.key,
                    IdempotencyKey.status_code.is_(None),
                )
            )

    async def purge_expired(self) -> int:
        """Delete expired keys in bounded batches; return how many went."""
        total = 0
        for _ in range(1000):
            async with self.db.uow() as uow:
                result = await uow.session.execute(
                    text(
                        "DELETE FROM idempotency_keys WHERE ctid = ANY(ARRAY("
                        " SELECT ctid FROM idempotency_keys WHERE expires_at <= :now"
                        " LIMIT :batch))"
                    ),
                    {"now": clock.now(), "batch": PURGE_BATCH},
                )
            deleted = int(getattr(result, "rowcount", 0) or 0)
            total += deleted
            if deleted < PURGE_BATCH:
                break
        return total


async def idempotent(
    request: Request,
    *,
    store: IdempotencyStore,
    tenant_id: uuid.UUID,
    required: bool,
    handler: Callable[[], Awaitable[Response]],
) -> Response:
    """Run `handler` at most once per Idempotency-Key; replay its response on retries."""
    raw_key = request.headers.get(HEADER)
    if raw_key is None:
        if required:
            raise IdempotencyKeyRequired(
                f"This operation moves money: send an {HEADER} header (a UUID works well).",
                field=HEADER,
            )
        return await handler()
    key = check_key(raw_key)
    body = await request.body()
    fingerprint = request_fingerprint(store.keyring, request.method, request.url.path, body)
    outcome = await store.begin(
        tenant_id=tenant_id,
        key=key,
        method=request.method,
        path=request.url.path,
        fingerprint=fingerprint,
    )
    if isinstance(outcome, Replay):
        return Response(
            outcome.body,
            status_code=outcome.status_code,
            headers={**outcome.headers, REPLAYED_HEADER: "true"},
        )
    try:
        response = await handler()
    except DomainError as error:
        response = render_error(error, instance=request.url.path)
    except BaseException:
        await asyncio.shield(store.release(outcome))
        raise
    if response.status_code >= 500:
        await store.release(outcome)
    else:
        await store.complete(outcome, response)
    return response


def model_response(payload: Any, *, status_code: int = 200) -> Response:
    """Serialise a pydantic model (or list/dict of them) to a JSON response, as FastAPI
    renders a `response_model` (pydantic's serialiser: datetimes end in `Z`)."""
    return Response(
        pydantic_core.to_json(payload),
        status_code=status_code,
        media_type="application/json",
    )
