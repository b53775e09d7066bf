"""Batches: up to 8,000 transfers in one transaction, written set-based.

The accounts of the whole batch are locked once, in id order; every transfer is then
decided in memory in request order (same rules and precedence as `ledger_post`), and the
accepted ones are written with three COPYs (transfers, entries, outbox events) and one
UPDATE of the touched accounts. Updating an account row once per batch instead of once per
transfer matters: PostgreSQL keeps every version of a row updated repeatedly inside one
transaction, so per-transfer updates of a busy account grow quadratically.

A batch that reuses a client-supplied id goes through `ledger_post_batch` instead (one
call, per-item idempotency comparison in the database).
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

import psycopg
from psycopg.types.json import Jsonb
from uuid_utils import uuid7

from fiscus.access.context import Context
from fiscus.core import clock
from fiscus.core.db import Database, UnitOfWork
from fiscus.core.ids import new_id
from fiscus.ledger.codes import ResultCode
from fiscus.ledger.errors import BatchRefused
from fiscus.ledger.schemas import MAX_BATCH, TransferCreate
from fiscus.ledger.service._batch_rules_part import Account, Decided, decide, event_payload
from fiscus.ledger.service._sql_part import BATCH_SQL, Row, amounts_in_range, ledger_run
from fiscus.ledger.service._transfer_part import DEFAULT_BACKDATE_WINDOW, static_refusal

ACCEPTED = ("ok", ResultCode.EXISTS.value)
LOCK_SQL = (
    "SELECT id, currency, closed_at IS NOT NULL, debits_must_not_exceed_credits,"
    " credits_must_not_exceed_debits, overdraft_limit, debits_pending, debits_posted,"
    " credits_pending, credits_posted, version, metadata -> 'holder_user_id'"
    " FROM ledger_accounts WHERE tenant_id = %s AND id = ANY(%b::uuid[]) ORDER BY id FOR UPDATE"
)
EXISTING_SQL = "SELECT count(*) FROM ledger_transfers WHERE tenant_id = %s AND id = ANY(%b::uuid[])"
UPDATE_SQL = (
    "UPDATE ledger_accounts a SET debits_pending = v.dq, debits_posted = v.dp,"
    " credits_pending = v.cq, credits_posted = v.cp, version = v.version"
    " FROM unnest(%b::uuid[], %b::int8[], %b::int8[], %b::int8[], %b::int8[], %b::int8[])"
    " AS v(id, dq, dp, cq, cp, version) WHERE a.tenant_id = %s AND a.id = v.id"
)
# COPY is refused on tables with row-level security, so each table gets one INSERT ...
# SELECT over a JSON array of rows: one statement per table whatever the batch size, and
# one json.dumps instead of a Python-level encoding of every array element.
INSERT_TRANSFERS = (
    "INSERT INTO ledger_transfers (tenant_id, id, kind, status, pending, currency, amount,"
    " timeout_s, timeout_at, effective_at, recorded_at, description, metadata, fx)"
    " SELECT %s, (v->>0)::uuid, 'transfer', v->>1, (v->>2)::boolean, v->>3, (v->>4)::int8,"
    " (v->>5)::int4, (v->>6)::timestamptz, (v->>7)::timestamptz, %s, v->>8, v->9,"
    " nullif(v->10, 'null'::jsonb)"
    " FROM jsonb_array_elements(%s::jsonb) AS v"
)
INSERT_ENTRIES = (
    "INSERT INTO ledger_entries (tenant_id, transfer_id, leg, account_id, currency, direction,"
    " posted_amount, pending_amount, account_version, debits_pending, debits_posted,"
    " credits_pending, credits_posted, recorded_at)"
    " SELECT %s, (v->>0)::uuid, (v->>1)::int2, (v->>2)::uuid, v->>3, v->>4, (v->>5)::int8,"
    " (v->>6)::int8, (v->>7)::int8, (v->>8)::int8, (v->>9)::int8, (v->>10)::int8,"
    " (v->>11)::int8, %s FROM jsonb_array_elements(%s::jsonb) AS v"
)
INSERT_EVENTS = (
    "INSERT INTO events (id, tenant_id, type, subject, payload, created_at)"
    " SELECT (v->>0)::uuid, %s, v->>1, v->>2, v->3, %s FROM jsonb_array_elements(%s::jsonb) AS v"
)


@dataclass(frozen=True, slots=True)
class BatchItem:
    """The outcome of one batch item, in request order."""

    index: int
    code: str
    transfer_id: uuid.UUID | None
    status: str


def _chains(transfers: list[TransferCreate]) -> list[list[int]]:
    """Indexes grouped into linked chains (a single transfer is a chain of one)."""
    chains: list[list[int]] = [[]]
    for index, request in enumerate(transfers):
        chains[-1].append(index)
        if not request.linked:
            chains.append([])
    return [chain for chain in chains if chain]


async def transfer_batch_in(
    uow: UnitOfWork,
    *,
    ctx: Context,
    transfers: list[TransferCreate],
    mode: Literal["atomic", "independent"],
    backdate_window: timedelta = DEFAULT_BACKDATE_WINDOW,
) -> list[BatchItem]:
    """Post up to 8,000 transfers in the caller's unit of work; never commits. atomic:
    all or none (a refusal raises BatchRefused, and the caller's transaction rolls back);
    independent: a result per item, where a refused item fails its whole linked chain."""
    assert 1 <= len(transfers) <= MAX_BATCH, "batch size is validated at the edge"
    assert uow.active and uow.tenant_id == ctx.tenant_id, "a tenant unit of work"
    now = clock.now()
    ids = [request.id or new_id() for request in transfers]
    static = [static_refusal(t, now=now, backdate_window=backdate_window) for t in transfers]
    with amounts_in_range():
        return await _run(await uow.driver(), ctx, transfers, ids, static, mode == "atomic", now)


async def transfer_batch(
    *,
    db: Database,
    ctx: Context,
    transfers: list[TransferCreate],
    mode: Literal["atomic", "independent"],
    backdate_window: timedelta = DEFAULT_BACKDATE_WINDOW,
) -> list[BatchItem]:
    """Post up to 8,000 transfers as one use case (one transaction)."""
    ctx.require("transfers:create")
    return await ledger_run(
        db,
        lambda uow: transfer_batch_in(
            uow, ctx=ctx, transfers=transfers, mode=mode, backdate_window=backdate_window
        ),
        tenant_id=ctx.tenant_id,
    )


async def _run(
    handle: psycopg.AsyncConnection[Any],
    ctx: Context,
    transfers: list[TransferCreate],
    ids: list[uuid.UUID],
    static: list[ResultCode | None],
    atomic: bool,
    now: datetime,
) -> list[BatchItem]:
    given = [ids[i] for i, t in enumerate(transfers) if t.id is not None]
    if given:
        cursor = await handle.execute(EXISTING_SQL, (ctx.tenant_id, given))
        found = await cursor.fetchone()
        if (found and found[0]) or len(set(given)) != len(given):
            return await _run_in_database(handle, ctx, transfers, ids, static, atomic, now)
    touched = sorted({leg.account_id for t in transfers for leg in t.leg_list()})
    cursor = await handle.execute(LOCK_SQL, (ctx.tenant_id, touched))
    accounts = {row[0]: Account(*row[1:]) for row in await cursor.fetchall()}
    cursor = await handle.execute("SELECT clock_timestamp()")
    stamp = await cursor.fetchone()
    assert stamp is not None
    recorded_at: datetime = stamp[0]
    decided = decide(transfers, ids, static, accounts, _chains(transfers))
    if atomic:
        refused = next((item for item in decided.items if item.code not in ACCEPTED), None)
        if refused is not None:
            raise BatchRefused(
                f"Item {refused.index} was refused ({refused.code}); nothing was posted.",
                extra={"index": refused.index, "code": refused.code},
            )
    await _write(handle, ctx, transfers, decided, accounts, recorded_at, now)
    return [BatchItem(i.index, i.code, i.transfer_id, i.status) for i in decided.items]


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


async def _write(
    handle: psycopg.AsyncConnection[Any],
    ctx: Context,
    transfers: list[TransferCreate],
    decided: Decided,
    accounts: dict[uuid.UUID, Account],
    recorded_at: datetime,
    now: datetime,
) -> None:
    """Four set-based statements, sent together in one pipeline."""
    tenant = ctx.tenant_id
    rows, events = [], []
    for index, transfer_id, amount in decided.accepted:
        t = transfers[index]
        timeout_at = now + timedelta(seconds=t.timeout_s) if t.timeout_s else None
        rows.append(
            [
                str(transfer_id),
                "pending" if t.pending else "posted",
                t.pending,
                t.currency,
                amount,
                t.timeout_s,
                _iso(timeout_at),
                _iso(t.effective_at or now),
                t.description,
                t.metadata,
                t.fx.model_dump() if t.fx else None,
            ]
        )
        kind, payload = event_payload(t, transfer_id, accounts)
        events.append([str(uuid7()), kind, f"transfer/{transfer_id}", payload])
    entries = [[str(e[0]), e[1], str(e[2]), *e[3:]] for e in decided.entries]
    changed = [(account_id, a) for account_id, a in accounts.items() if a.dirty]
    async with handle.pipeline():
        if rows:
            await handle.execute(INSERT_TRANSFERS, (tenant, recorded_at, json.dumps(rows)))
            await handle.execute(INSERT_ENTRIES, (tenant, recorded_at, json.dumps(entries)))
            await handle.execute(INSERT_EVENTS, (tenant, now, json.dumps(events)))
        if changed:
            await handle.execute(
                UPDATE_SQL,
                (
                    [account_id for account_id, _ in changed],
                    [a.debits_pending for _, a in changed],
                    [a.debits_posted for _, a in changed],
                    [a.credits_pending for _, a in changed],
                    [a.credits_posted for _, a in changed],
                    [a.version for _, a in changed],
                    tenant,
                ),
            )


async def _run_in_database(
    handle: psycopg.AsyncConnection[Any],
    ctx: Context,
    transfers: list[TransferCreate],
    ids: list[uuid.UUID],
    static: list[ResultCode | None],
    atomic: bool,
    now: datetime,
) -> list[BatchItem]:
    """The slow but general path: `ledger_post_batch` compares reused ids item by item."""
    if atomic and any(static):
        first = next(i for i, code in enumerate(static) if code)
        raise BatchRefused(
            f"Item {first} was refused ({static[first]}); nothing was posted.",
            extra={"index": first, "code": str(static[first])},
        )
    sent = [
        i
        for i, code in enumerate(static)
        if code is None and not _chain_has_static(i, transfers, static)
    ]
    rows: list[Row] = []
    if sent:
        cursor = await handle.execute(
            BATCH_SQL,
            _batch_params(ctx, [transfers[i] for i in sent], [ids[i] for i in sent], atomic, now),
        )
        rows = [Row(*found) for found in await cursor.fetchall()]
    if atomic and (len(rows) < len(sent) or any(r.code not in ACCEPTED for r in rows)):
        failed = next((i for i, r in enumerate(rows) if r.code not in ACCEPTED), len(rows))
        code = rows[failed].code if failed < len(rows) else ResultCode.BATCH_NOT_ATTEMPTED.value
        raise BatchRefused(
            f"Item {sent[min(failed, len(sent) - 1)]} was refused ({code}); nothing was posted.",
            extra={"index": sent[min(failed, len(sent) - 1)], "code": code},
        )
    by_index = dict(zip(sent, rows, strict=False))
    items = []
    for index in range(len(transfers)):
        row = by_index.get(index)
        if row is not None and row.code in ACCEPTED:
            items.append(BatchItem(index, row.code, row.transfer_id, row.status or "posted"))
        elif row is not None:
            items.append(BatchItem(index, row.code, None, "rejected"))
        else:
            code = static[index] or ResultCode.LINKED_EVENT_FAILED
            items.append(BatchItem(index, str(code), None, "rejected"))
    return items


def _chain_has_static(
    index: int, transfers: list[TransferCreate], static: list[ResultCode | None]
) -> bool:
    for chain in _chains(transfers):
        if index in chain:
            return any(static[m] for m in chain)
    return False


def _batch_params(
    ctx: Context, transfers: list[TransferCreate], ids: list[uuid.UUID], atomic: bool, now: datetime
) -> tuple[Any, ...]:
    ends, accounts, directions, amounts, currencies = [], [], [], [], []
    for request in transfers:
        for leg in request.leg_list():
            accounts.append(leg.account_id)
            directions.append(leg.direction)
            amounts.append(leg.amount)
            currencies.append(leg.currency or request.currency)
        ends.append(len(accounts))
    return (
        ctx.tenant_id,
        atomic,
        now,
        ids,
        [t.id is not None for t in transfers],
        [None] * len(transfers),
        [t.currency for t in transfers],
        ends,
        [t.pending for t in transfers],
        [t.timeout_s for t in transfers],
        [t.effective_at for t in transfers],
        [t.description for t in transfers],
        [Jsonb(t.metadata) for t in transfers],
        [t.linked for t in transfers],
        accounts,
        directions,
        amounts,
        currencies,
        [new_id() for _ in transfers],
        [Jsonb(t.fx.model_dump()) if t.fx else None for t in transfers],
    )


__all__ = ["BatchItem", "transfer_batch", "transfer_batch_in"]
