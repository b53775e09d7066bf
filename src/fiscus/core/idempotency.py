"""Idempotency keys (API_CONVENTIONS.md): a retried POST returns the first response.

Same key + same request within the TTL replays the stored response with
`Idempotent-Replayed: true`; same key + a different request is a 409; concurrent
duplicates wait for the first to finish and then replay its response, so exactly one runs.

The key row is claimed in its own short transaction before the operation runs, and the
response is stored after it. If the process dies in between, the claim expires after
`LOCK_S` and a retry runs the operation again; operations that move money therefore also
carry the key into their own transaction (the ledger's unique transfer key), which makes
the second run return the first result instead of posting twice.

At rest, stored responses are sealed (AES-GCM, key derived from the installation secret,
bound to the tenant and key): they can carry a secret shown once (a webhook signing
secret) or personal data. The request fingerprint is an HMAC under a second derived key,
so a dump cannot be used to guess a password sent in a request body offline.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import secrets
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
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
from fiscus.core.models import IdempotencyKey

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
LOCK_S = 60
WAIT_S = 10.0
MAX_KEY_LENGTH = 255
PURGE_BATCH = 10_000
_NONCE_BYTES = 12
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


def request_fingerprint(key: bytes, method: str, path: str, body: bytes) -> bytes:
    """HMAC-SHA256 under `key` of method, path and the body (canonical JSON when it parses)."""
    try:
        canonical = json.dumps(json.loads(body), sort_keys=True, separators=(",", ":")).encode()
    except (ValueError, UnicodeDecodeError):
        canonical = body
    digest = hmac.new(key, digestmod=hashlib.sha256)
    for part in (method.encode(), path.encode(), canonical):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.digest()


def _derive(root_secret: str, purpose: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose).derive(
        root_secret.encode()
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

    def __init__(self, db: Database, *, ttl_s: int = 86400, secret_key: str | None = None) -> None:
        """`secret_key` (the installation secret) is needed to record or replay responses;
        purging expired keys works without it."""
        self.db = db
        self.ttl = timedelta(seconds=ttl_s)
        self._aead: AESGCM | None = None
        self.fingerprint_key = b""
        if secret_key is not None:
            self._aead = AESGCM(_derive(secret_key, b"fiscus/idempotency/responses/v1"))
            self.fingerprint_key = _derive(secret_key, b"fiscus/idempotency/fingerprints/v1")

    def _sealer(self) -> AESGCM:
        assert self._aead is not None, "recording responses needs the installation secret"
        return self._aead

    def _seal(self, tenant_id: uuid.UUID, key: str, body: bytes) -> bytes:
        nonce = secrets.token_bytes(_NONCE_BYTES)
        return nonce + self._sealer().encrypt(nonce, body, tenant_id.bytes + key.encode())

    def _open(self, tenant_id: uuid.UUID, key: str, sealed: bytes) -> bytes:
        nonce, ciphertext = sealed[:_NONCE_BYTES], sealed[_NONCE_BYTES:]
        return self._sealer().decrypt(nonce, ciphertext, tenant_id.bytes + key.encode())

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
            if (row.request_hash, row.method, row.path) != (fingerprint, method, path):
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
    assert store.fingerprint_key, "an idempotent route needs a store with the installation secret"
    body = await request.body()
    fingerprint = request_fingerprint(store.fingerprint_key, request.method, request.url.path, body)
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
    """Serialise a pydantic model (or list/dict of them) to a JSON response."""
    from fastapi.encoders import jsonable_encoder

    return Response(
        json.dumps(jsonable_encoder(payload), ensure_ascii=False).encode(),
        status_code=status_code,
        media_type="application/json",
    )
