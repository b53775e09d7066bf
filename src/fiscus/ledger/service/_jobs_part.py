"""Housekeeping across tenants: voiding pending transfers whose timeout has passed."""

from __future__ import annotations

import uuid

from sqlalchemy import text

from fiscus.access.context import Context
from fiscus.core import clock
from fiscus.core.db import Database
from fiscus.ledger.errors import TransferRefused
from fiscus.ledger.schemas import TransferAction
from fiscus.ledger.service._transfer_part import transfer_void_pending

EXPIRE_BATCH = 1000
SYSTEM_PERMISSIONS = frozenset({"transfers:manage"})


async def pending_expire(*, db: Database, limit: int = EXPIRE_BATCH) -> int:
    """Void up to `limit` pending transfers past their timeout; return how many."""
    assert 1 <= limit <= 10 * EXPIRE_BATCH
    async with db.uow() as uow:
        expired: list[tuple[uuid.UUID, uuid.UUID]] = [
            (row[0], row[1])
            for row in await uow.session.execute(
                text(
                    "SELECT tenant_id, id FROM ledger_transfers"
                    " WHERE status = 'pending' AND timeout_at <= :now"
                    " ORDER BY timeout_at LIMIT :limit"
                ),
                {"now": clock.now(), "limit": limit},
            )
        ]
    voided = 0
    for tenant_id, transfer_id in expired:
        ctx = Context.system(tenant_id, permissions=SYSTEM_PERMISSIONS)
        try:
            await transfer_void_pending(
                db=db,
                ctx=ctx,
                pending_id=transfer_id,
                request=TransferAction(description="Pending transfer timed out"),
            )
            voided += 1
        except TransferRefused:
            continue  # posted or voided by a client in the meantime: nothing to do
    return voided
