"""Batches: up to 8,000 transfers in one database call and one transaction."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Literal

from psycopg.types.json import Jsonb
from sqlalchemy import insert

from fiscus.access.context import Context
from fiscus.core import clock
from fiscus.core.db import Database, UnitOfWork
from fiscus.core.events import Event
from fiscus.core.ids import new_id
from fiscus.ledger.codes import ResultCode
from fiscus.ledger.errors import BatchRefused
from fiscus.ledger.schemas import MAX_BATCH, TransferCreate
from fiscus.ledger.service._sql_part import BATCH_SQL, Row, call_many, run_retrying
from fiscus.ledger.service._transfer_part import (
    DEFAULT_BACKDATE_WINDOW,
    event_legs,
    event_row,
    static_refusal,
)

ACCEPTED = ("ok", ResultCode.EXISTS.value)


@dataclass(frozen=True, slots=True)
class BatchItem:
    """The outcome of one batch item, in request order."""

    index: int
    code: str
    transfer_id: Any
    status: str


def _batch_params(ctx: Context, transfers: list[TransferCreate], atomic: bool) -> tuple[Any, ...]:
    ids, given, ends, accounts, directions, amounts, currencies = [], [], [], [], [], [], []
    for request in transfers:
        ids.append(request.id or new_id())
        given.append(request.id is not None)
        for leg in request.leg_list():
            accounts.append(leg.account_id)
            directions.append(leg.direction)
            amounts.append(leg.amount)
            currencies.append(leg.currency or request.currency)
        ends.append(len(accounts))
    return (
        ctx.tenant_id,
        atomic,
        clock.now(),
        ids,
        given,
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
    )


def _static_results(
    transfers: list[TransferCreate], backdate_window: timedelta
) -> list[ResultCode | None]:
    now = clock.now()
    return [static_refusal(t, now=now, backdate_window=backdate_window) for t in transfers]


async def _emit_all(
    uow: UnitOfWork, ctx: Context, transfers: list[TransferCreate], rows: list[Row]
) -> None:
    """One multi-row insert of the outbox events of every new posting of the batch."""
    now = clock.now()
    values = []
    for request, row in zip(transfers, rows, strict=False):
        if row.code != "ok":
            continue
        legs = [
            (leg.account_id, leg.direction, leg.amount, leg.currency or request.currency)
            for leg in request.leg_list()
        ]
        kind_type, subject, payload = event_row(
            "transfer",
            row,
            currency=request.currency,
            legs=event_legs(legs, row.holders),
            parent_id=None,
        )
        values.append(
            {
                "id": new_id(),
                "tenant_id": ctx.tenant_id,
                "type": kind_type,
                "subject": subject,
                "payload": payload,
                "created_at": now,
            }
        )
    if values:
        await uow.session.execute(insert(Event), values)


async def transfer_batch(
    *,
    db: Database,
    ctx: Context,
    transfers: list[TransferCreate],
    mode: Literal["atomic", "independent"],
    backdate_window: timedelta = DEFAULT_BACKDATE_WINDOW,
) -> list[BatchItem]:
    """Post up to 8,000 transfers; atomic: all or none; independent: a result per item.

    Items refused by request-shape rules never reach the database; the rest go in one call.
    A refused item inside a linked chain fails its whole chain.
    """
    ctx.require("transfers:create")
    assert 1 <= len(transfers) <= MAX_BATCH, "batch size is validated at the edge"
    static = _static_results(transfers, backdate_window)
    atomic = mode == "atomic"
    if atomic and any(static):
        first = next(i for i, code in enumerate(static) if code)
        raise BatchRefused(
            f"Item {first} was refused ({static[first]}); nothing was posted.",
            extra={"index": first, "code": str(static[first])},
        )
    # Statically refused items are sent as a one-leg placeholder? No: they are left out,
    # and a chain containing one is failed as a whole before the call.
    chain_bad = _chains_with_static_refusals(transfers, static)
    sent = [i for i, t in enumerate(transfers) if static[i] is None and i not in chain_bad]
    sent_transfers = [transfers[i] for i in sent]

    async def operation(uow: UnitOfWork) -> list[Row]:
        rows: list[Row] = []
        if sent_transfers:
            rows = await call_many(uow, BATCH_SQL, _batch_params(ctx, sent_transfers, atomic))
        if atomic and (
            len(rows) < len(sent_transfers) or any(r.code not in ACCEPTED for r in rows)
        ):
            failed = next((i for i, r in enumerate(rows) if r.code not in ACCEPTED), len(rows))
            code = rows[failed].code if failed < len(rows) else ResultCode.BATCH_NOT_ATTEMPTED.value
            raise BatchRefused(
                f"Item {sent[failed]} was refused ({code}); nothing was posted.",
                extra={"index": sent[failed], "code": code},
            )
        await _emit_all(uow, ctx, sent_transfers, rows)
        return rows

    rows = await run_retrying(db, operation, tenant_id=ctx.tenant_id)
    by_index = dict(zip(sent, rows, strict=False))
    results = []
    for index in range(len(transfers)):
        row = by_index.get(index)
        if row is not None:
            status = row.status if row.code in ACCEPTED and row.status else "rejected"
            results.append(BatchItem(index, row.code, row.transfer_id, status))
        else:
            code = static[index] or chain_bad.get(index) or ResultCode.BATCH_NOT_ATTEMPTED
            results.append(BatchItem(index, str(code), None, "rejected"))
    return results


def _chains_with_static_refusals(
    transfers: list[TransferCreate], static: list[ResultCode | None]
) -> dict[int, ResultCode]:
    """Members of linked chains that contain a statically refused item (or never close)."""
    bad: dict[int, ResultCode] = {}
    start = 0
    for index, request in enumerate(transfers):
        if request.linked and index < len(transfers) - 1:
            continue
        members = range(start, index + 1)
        if request.linked:  # the batch ends inside a chain
            bad.update(dict.fromkeys(members, ResultCode.LINKED_EVENT_CHAIN_OPEN))
        elif len(members) > 1 and any(static[m] for m in members):
            bad.update({m: ResultCode.LINKED_EVENT_FAILED for m in members if not static[m]})
        start = index + 1
    return bad
