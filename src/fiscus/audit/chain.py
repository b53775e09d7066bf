"""The per-tenant hash chain: sealing unsealed rows in order, and verifying the chain.

hash = sha256(prev_hash || canonical_json(row)), with prev_hash of the first row 32 zero
bytes. Sealing takes a per-tenant advisory lock, so sealers never interleave, while
writers (audit_record) never take it: the hot path stays lock-free.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select, text, update

from fiscus.audit.models import AuditEvent
from fiscus.core.clock import rfc3339
from fiscus.core.db import Database, UnitOfWork

GENESIS = bytes(32)
SEAL_BATCH = 500
VERIFY_BATCH = 2000
MAX_BATCHES = 10_000


def canonical_json(row: AuditEvent) -> bytes:
    """The row's content (everything but its own hash) as canonical JSON bytes."""
    body: dict[str, Any] = {
        "tenant_id": str(row.tenant_id),
        "id": str(row.id),
        "chain_seq": row.chain_seq,
        "occurred_at": rfc3339(row.occurred_at),
        "actor_type": row.actor_type,
        "actor_id": str(row.actor_id) if row.actor_id else None,
        "api_key_id": str(row.api_key_id) if row.api_key_id else None,
        "action": row.action,
        "outcome": row.outcome,
        "object_type": row.object_type,
        "object_id": row.object_id,
        "changes": row.changes,
        "ip": row.ip,
        "user_agent": row.user_agent,
        "request_id": row.request_id,
    }
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def row_hash(prev_hash: bytes, row: AuditEvent) -> bytes:
    """sha256(prev_hash || canonical_json(row))."""
    return hashlib.sha256(prev_hash + canonical_json(row)).digest()


async def _chain_tail(uow: UnitOfWork, tenant_id: uuid.UUID) -> tuple[int, bytes]:
    last = (
        await uow.session.execute(
            select(AuditEvent.chain_seq, AuditEvent.hash)
            .where(AuditEvent.tenant_id == tenant_id, AuditEvent.chain_seq.is_not(None))
            .order_by(AuditEvent.chain_seq.desc())
            .limit(1)
        )
    ).first()
    if last is None:
        return 0, GENESIS
    seq, digest = last
    assert seq is not None and digest is not None
    return int(seq), bytes(digest)


async def _seal_batch(uow: UnitOfWork, tenant_id: uuid.UUID) -> int:
    await uow.session.execute(
        text("SELECT pg_advisory_xact_lock(hashtextextended('fiscus.audit.seal.' || :t, 0))"),
        {"t": str(tenant_id)},
    )
    seq, prev = await _chain_tail(uow, tenant_id)
    rows = list(
        (
            await uow.session.execute(
                select(AuditEvent)
                .where(AuditEvent.tenant_id == tenant_id, AuditEvent.hash.is_(None))
                .order_by(AuditEvent.id)
                .limit(SEAL_BATCH)
            )
        ).scalars()
    )
    # Detached: the chain columns are set below by one guarded UPDATE per row, not by a
    # flush of these objects (which the append-only trigger would rightly refuse).
    uow.session.expunge_all()
    for row in rows:
        seq += 1
        row.chain_seq = seq
        digest = row_hash(prev, row)
        await uow.session.execute(
            update(AuditEvent)
            .where(AuditEvent.tenant_id == tenant_id, AuditEvent.id == row.id)
            .values(chain_seq=seq, prev_hash=prev, hash=digest)
            .execution_options(synchronize_session=False)
        )
        prev = digest
    return len(rows)


async def audit_seal(db: Database, *, tenant_id: uuid.UUID | None = None) -> int:
    """Append every unsealed row to its tenant's chain (in id order); return how many."""
    async with db.uow() as uow:
        stmt = select(AuditEvent.tenant_id).where(AuditEvent.hash.is_(None)).distinct()
        if tenant_id is not None:
            stmt = stmt.where(AuditEvent.tenant_id == tenant_id)
        tenants = list((await uow.session.execute(stmt)).scalars())
    total = 0
    for tenant in tenants:
        for _ in range(MAX_BATCHES):
            async with db.uow() as uow:
                sealed = await _seal_batch(uow, tenant)
            total += sealed
            if sealed < SEAL_BATCH:
                break
    return total


@dataclass(frozen=True, slots=True)
class ChainReport:
    """The result of verifying one tenant's chain."""

    tenant_id: uuid.UUID
    checked: int
    unsealed: int
    first_broken_id: uuid.UUID | None
    first_broken_seq: int | None
    reason: str | None

    @property
    def ok(self) -> bool:
        """True when every sealed row matches."""
        return self.first_broken_id is None


async def _verify_tenant(db: Database, tenant_id: uuid.UUID) -> ChainReport:
    prev, expected_seq, checked = GENESIS, 1, 0
    async with db.uow() as uow:
        unsealed = (
            await uow.session.execute(
                select(func.count()).where(
                    AuditEvent.tenant_id == tenant_id, AuditEvent.hash.is_(None)
                )
            )
        ).scalar_one()
        for _ in range(MAX_BATCHES):
            rows = list(
                (
                    await uow.session.execute(
                        select(AuditEvent)
                        .where(
                            AuditEvent.tenant_id == tenant_id, AuditEvent.chain_seq >= expected_seq
                        )
                        .order_by(AuditEvent.chain_seq)
                        .limit(VERIFY_BATCH)
                    )
                ).scalars()
            )
            for row in rows:
                reason = None
                if row.chain_seq != expected_seq:
                    reason = f"chain position {expected_seq} is missing"
                elif row.prev_hash != prev:
                    reason = "prev_hash does not match the previous row"
                elif row.hash != row_hash(prev, row):
                    reason = "content does not match its hash"
                if reason is not None:
                    return ChainReport(tenant_id, checked, unsealed, row.id, row.chain_seq, reason)
                prev, expected_seq, checked = bytes(row.hash or b""), expected_seq + 1, checked + 1
            if len(rows) < VERIFY_BATCH:
                break
    return ChainReport(tenant_id, checked, int(unsealed), None, None, None)


async def audit_verify(db: Database, *, tenant_id: uuid.UUID | None = None) -> list[ChainReport]:
    """Recompute every tenant's chain (or one tenant's); each report names the first bad row."""
    async with db.uow() as uow:
        stmt = select(AuditEvent.tenant_id).distinct().order_by(AuditEvent.tenant_id)
        if tenant_id is not None:
            stmt = stmt.where(AuditEvent.tenant_id == tenant_id)
        tenants = list((await uow.session.execute(stmt)).scalars())
    return [await _verify_tenant(db, tenant) for tenant in tenants]
