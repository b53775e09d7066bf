"""Close of business: the end of a tenant's business date, in ordered idempotent steps.

A run is unique per (tenant, business date) and holds one row per step. Each step is
marked running (its `cutoff`, the moment balances and transactions are read as of, is
fixed the first time and kept), does its work in its own transactions, and is marked
completed with a count. Every step is idempotent on its own (standing-order occurrences,
accruals, postings and fees are unique rows written with their ledger transfer; dormancy
and the business date only move forward), so a run that crashed or failed is resumed by
running the same date again: completed steps are skipped and the failed one starts over
without doing twice what it had done.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import select, text
from sqlalchemy.dialects.postgresql import insert

from fiscus.access.context import Context
from fiscus.access.queries import tenant_ids_active
from fiscus.audit.service import audit_record
from fiscus.banking.cob.errors import CobDateInvalid, CobRunNotFound
from fiscus.banking.cob.models import BankCobRun, BankCobSettings, BankCobStep
from fiscus.banking.errors import AccountStatusConflict
from fiscus.banking.fees.service import fees_charge
from fiscus.banking.interest.accrual import interest_accrue, interest_post
from fiscus.banking.service import (
    account_mark_dormant,
    business_date_get,
    business_date_set,
    standing_orders_run,
)
from fiscus.core import clock
from fiscus.core.db import Database, UnitOfWork
from fiscus.core.errors import DomainError
from fiscus.core.events import emit
from fiscus.core.ids import new_id
from fiscus.ledger.service import pending_expire

COB_FINISHED = "banking.cob.finished"
COB_SETTINGS_CHANGED = "banking.cob.settings_changed"
DEFAULT_DORMANCY_DAYS = 365
DORMANCY_BATCH = 1_000
MAX_DAYS_PER_CALL = 3_660  # `--through` runs ten years at most (STYLE rule 14)
# How long `POST /v1/cob/run` waits for the run before answering 202 (it carries on).
WAIT_S = 20.0
# Runs that outlived their request, kept referenced until they end.
_CARRYING_ON: set[asyncio.Task[tuple[BankCobRun, list[BankCobStep]]]] = set()


@dataclass(frozen=True, slots=True)
class StepContext:
    """What a step works on: the tenant (as `ctx`), the business date, its cutoff, and the
    cutoff of the previous business date's fee step (per-transaction fees start there)."""

    db: Database
    ctx: Context
    day: date
    cutoff: datetime
    previous_cutoff: datetime


StepFunction = Callable[[StepContext], Awaitable[int]]


async def _expire_holds(step: StepContext) -> int:
    # The ledger voids timed-out holds of every tenant at once (its minutely job does the
    # same); running it here makes sure none is left before the day closes.
    return await pending_expire(db=step.db)


async def _standing_orders(step: StepContext) -> int:
    report = await standing_orders_run(step.db, tenant_id=step.ctx.tenant_id, on_date=step.day)
    return report.paid + report.failed


async def _accrue_interest(step: StepContext) -> int:
    return await interest_accrue(
        step.db, tenant_id=step.ctx.tenant_id, day=step.day, cutoff=step.cutoff
    )


async def _post_interest(step: StepContext) -> int:
    posted, _ = await interest_post(step.db, step.ctx, day=step.day)
    return posted


async def _charge_fees(step: StepContext) -> int:
    charged, _ = await fees_charge(
        step.db, step.ctx, day=step.day, since=step.previous_cutoff, cutoff=step.cutoff
    )
    return charged


async def _mark_dormant(step: StepContext) -> int:
    return await dormant_mark(step.db, step.ctx, day=step.day)


async def _roll_date(step: StepContext) -> int:
    if await business_date_get(step.db, step.ctx) > step.day:
        return 0  # rolled already, before a crash stopped the run from recording it
    await business_date_set(step.db, step.ctx, business_date=step.day + timedelta(days=1))
    return 1


# In order. Tests replace an entry to make a step fail; nothing else changes this table.
STEPS: dict[str, StepFunction] = {
    "expire_holds": _expire_holds,
    "standing_orders": _standing_orders,
    "accrue_interest": _accrue_interest,
    "post_interest": _post_interest,
    "charge_fees": _charge_fees,
    "mark_dormant": _mark_dormant,
    "roll_date": _roll_date,
}


# --- Dormancy ---------------------------------------------------------------------------

# Active accounts opened before the threshold with no customer transaction since: no
# deposit or transfer in or out (standing orders included), no outgoing payment, no
# incoming credit. Interest and fees are the bank's own postings and do not count.
_INACTIVE_SQL = text(
    "SELECT a.id FROM banking_accounts a WHERE a.tenant_id = :tenant AND a.status = 'active'"
    " AND a.created_at < :threshold"
    " AND NOT EXISTS (SELECT 1 FROM banking_transfers t WHERE t.tenant_id = a.tenant_id"
    "   AND t.to_account_id = a.id AND t.created_at >= :threshold)"
    " AND NOT EXISTS (SELECT 1 FROM banking_transfers t WHERE t.tenant_id = a.tenant_id"
    "   AND t.from_account_id = a.id AND t.created_at >= :threshold)"
    " AND NOT EXISTS (SELECT 1 FROM banking_payments p WHERE p.tenant_id = a.tenant_id"
    "   AND p.from_account_id = a.id AND p.created_at >= :threshold)"
    " AND NOT EXISTS (SELECT 1 FROM banking_incoming_credits c WHERE c.tenant_id = a.tenant_id"
    "   AND c.account_id = a.id AND c.created_at >= :threshold)"
    " ORDER BY a.id LIMIT :limit"
)


async def dormancy_days_get(db: Database, ctx: Context) -> int:
    """After how many days without a customer transaction an account becomes dormant."""
    async with db.uow(tenant_id=ctx.tenant_id) as uow:
        row = await uow.session.get(BankCobSettings, ctx.tenant_id)
    return row.dormancy_days if row is not None else DEFAULT_DORMANCY_DAYS


async def dormancy_days_set(db: Database, ctx: Context, *, days: int) -> int:
    """Set the tenant's dormancy period in days (audited)."""
    async with db.uow(tenant_id=ctx.tenant_id) as uow:
        values = {"dormancy_days": days, "updated_by": ctx.actor_id, "updated_at": clock.now()}
        await uow.session.execute(
            insert(BankCobSettings)
            .values(tenant_id=ctx.tenant_id, **values)
            .on_conflict_do_update(index_elements=["tenant_id"], set_=values)
        )
        await audit_record(
            uow,
            ctx=ctx,
            action=COB_SETTINGS_CHANGED,
            object_type="banking_cob_settings",
            object_id=ctx.tenant_id,
            after={"dormancy_days": days},
        )
    return days


async def dormant_mark(db: Database, ctx: Context, *, day: date) -> int:
    """Mark dormant every active account without a customer transaction in the tenant's
    dormancy period before `day` (through `account_mark_dormant`); how many."""
    days = await dormancy_days_get(db, ctx)
    threshold = datetime.combine(day - timedelta(days=days), datetime.min.time(), UTC)
    async with db.uow(tenant_id=ctx.tenant_id) as uow:
        ids = [
            row[0]
            for row in await uow.session.execute(
                _INACTIVE_SQL,
                {"tenant": ctx.tenant_id, "threshold": threshold, "limit": DORMANCY_BATCH},
            )
        ]
    marked = 0
    for account_id in ids:
        try:
            await account_mark_dormant(db, ctx, account_id=account_id)
            marked += 1
        except AccountStatusConflict:
            continue  # frozen or closed in the meantime
    return marked


# --- Runs -------------------------------------------------------------------------------


async def _run_for(db: Database, ctx: Context, day: date) -> BankCobRun:
    """The run of `day`, created with its pending steps on first use."""
    async with db.uow(tenant_id=ctx.tenant_id) as uow:
        await uow.session.execute(
            insert(BankCobRun)
            .values(
                tenant_id=ctx.tenant_id,
                id=new_id(),
                business_date=day,
                status="running",
                started_by=ctx.actor_id,
                started_at=clock.now(),
            )
            .on_conflict_do_nothing(index_elements=["tenant_id", "business_date"])
        )
        run = (
            await uow.session.execute(
                select(BankCobRun).where(
                    BankCobRun.tenant_id == ctx.tenant_id, BankCobRun.business_date == day
                )
            )
        ).scalar_one()
        await uow.session.execute(
            insert(BankCobStep)
            .values(
                [
                    {
                        "tenant_id": ctx.tenant_id,
                        "run_id": run.id,
                        "step": name,
                        "position": position,
                        "status": "pending",
                        "count": 0,
                    }
                    for position, name in enumerate(STEPS, start=1)
                ]
            )
            .on_conflict_do_nothing()
        )
        return run


async def _previous_cutoff(uow: UnitOfWork, ctx: Context, day: date, cutoff: datetime) -> datetime:
    found = (
        await uow.session.execute(
            select(BankCobStep.cutoff)
            .join(
                BankCobRun,
                (BankCobRun.tenant_id == BankCobStep.tenant_id)
                & (BankCobRun.id == BankCobStep.run_id),
            )
            .where(
                BankCobStep.tenant_id == ctx.tenant_id,
                BankCobStep.step == "charge_fees",
                BankCobStep.cutoff.is_not(None),
                BankCobRun.business_date < day,
            )
            .order_by(BankCobRun.business_date.desc())
            .limit(1)
        )
    ).scalar_one_or_none()
    return found if found is not None else cutoff - timedelta(days=1)


async def _step_begin(db: Database, ctx: Context, run: BankCobRun, name: str) -> StepContext:
    async with db.uow(tenant_id=ctx.tenant_id) as uow:
        step = await uow.session.get(
            BankCobStep, (ctx.tenant_id, run.id, name), with_for_update=True
        )
        assert step is not None
        now = clock.now()
        step.status, step.error, step.finished_at = "running", None, None
        cutoff = step.cutoff or now
        step.started_at, step.cutoff = step.started_at or now, cutoff
        previous = await _previous_cutoff(uow, ctx, run.business_date, cutoff)
        return StepContext(db, ctx, run.business_date, cutoff, previous)


async def _step_end(
    db: Database, ctx: Context, run: BankCobRun, name: str, *, count: int, error: str | None
) -> None:
    async with db.uow(tenant_id=ctx.tenant_id) as uow:
        step = await uow.session.get(
            BankCobStep, (ctx.tenant_id, run.id, name), with_for_update=True
        )
        assert step is not None
        step.status = "failed" if error is not None else "completed"
        step.count, step.error, step.finished_at = count, error, clock.now()


async def _run_end(db: Database, ctx: Context, run_id: uuid.UUID, error: str | None) -> None:
    async with db.uow(tenant_id=ctx.tenant_id) as uow:
        run = await uow.session.get(BankCobRun, (ctx.tenant_id, run_id), with_for_update=True)
        assert run is not None
        run.status = "failed" if error is not None else "completed"
        run.error, run.finished_at = error, clock.now()
        steps = await _steps(uow, ctx, run_id)
        await emit(
            uow,
            tenant_id=ctx.tenant_id,
            type=COB_FINISHED,
            subject=f"cob_run/{run_id}",
            payload={
                "run_id": str(run_id),
                "business_date": run.business_date.isoformat(),
                "status": run.status,
                "error": error,
                "steps": {s.step: {"status": s.status, "count": s.count} for s in steps},
            },
        )


async def _steps(uow: UnitOfWork, ctx: Context, run_id: uuid.UUID) -> list[BankCobStep]:
    return list(
        (
            await uow.session.execute(
                select(BankCobStep)
                .where(BankCobStep.tenant_id == ctx.tenant_id, BankCobStep.run_id == run_id)
                .order_by(BankCobStep.position)
            )
        ).scalars()
    )


def _error_text(error: BaseException) -> str:
    if isinstance(error, DomainError):
        return f"{error.type_slug}: {error.detail}"[:500]
    return f"{type(error).__name__}: {error}"[:500]


OnStep = Callable[[str, str, int], None]


async def cob_run(
    db: Database, ctx: Context, *, day: date | None = None, on_step: OnStep | None = None
) -> tuple[BankCobRun, list[BankCobStep]]:
    """Close business date `day` (default: the tenant's business date), or resume its run;
    `on_step(name, status, count)` after each step. A failed step fails the run (recorded,
    not raised): running the date again resumes at that step."""
    today = await business_date_get(db, ctx)
    day = day or today
    existing = await _run_of_day(db, ctx, day)
    if existing is None and day != today:
        raise CobDateInvalid(
            f"The business date is {today}: close it first; {day} cannot be closed now."
        )
    if existing is not None and existing.status == "completed":
        return await cob_run_get(db, ctx, run_id=existing.id)
    run = existing or await _run_for(db, ctx, day)
    error: str | None = None
    async with db.uow(tenant_id=ctx.tenant_id) as uow:
        done = {s.step for s in await _steps(uow, ctx, run.id) if s.status == "completed"}
    for name, function in STEPS.items():
        if name in done:
            if on_step is not None:
                on_step(name, "completed", -1)
            continue
        step = await _step_begin(db, ctx, run, name)
        try:
            count = await function(step)
        except Exception as failure:  # recorded on the step; the run resumes here
            error = f"{name}: {_error_text(failure)}"
            await _step_end(db, ctx, run, name, count=0, error=_error_text(failure))
            if on_step is not None:
                on_step(name, "failed", 0)
            break
        await _step_end(db, ctx, run, name, count=count, error=None)
        if on_step is not None:
            on_step(name, "completed", count)
    await _run_end(db, ctx, run.id, error)
    return await cob_run_get(db, ctx, run_id=run.id)


async def cob_run_waiting(
    db: Database, ctx: Context, *, day: date | None, wait_s: float | None = None
) -> tuple[BankCobRun, list[BankCobStep], bool]:
    """`cob_run`, waiting at most `wait_s` (default WAIT_S) for it: (run, steps, finished).
    A run not finished by then carries on in this process; if the process stops, running
    the date again resumes it, as after any crash."""
    day = day or await business_date_get(db, ctx)
    task = asyncio.create_task(cob_run(db, ctx, day=day))
    _CARRYING_ON.add(task)  # referenced until it ends, even if the request goes away
    task.add_done_callback(_CARRYING_ON.discard)
    try:
        run, steps = await asyncio.wait_for(
            asyncio.shield(task), WAIT_S if wait_s is None else wait_s
        )
        return run, steps, True
    except TimeoutError:
        pass
    found = await _run_of_day(db, ctx, day)
    if found is None:  # not even started yet: wait for it after all
        run, steps = await task
        return run, steps, True
    run, steps = await cob_run_get(db, ctx, run_id=found.id)
    return run, steps, False


async def _run_of_day(db: Database, ctx: Context, day: date) -> BankCobRun | None:
    async with db.uow(tenant_id=ctx.tenant_id) as uow:
        return (
            await uow.session.execute(
                select(BankCobRun).where(
                    BankCobRun.tenant_id == ctx.tenant_id, BankCobRun.business_date == day
                )
            )
        ).scalar_one_or_none()


async def cob_run_through(
    db: Database,
    ctx: Context,
    *,
    through: date,
    on_day: Callable[[date], None] | None = None,
    on_step: OnStep | None = None,
) -> list[tuple[BankCobRun, list[BankCobStep]]]:
    """Close every business date from the tenant's current one through `through`, one
    after the other; stops at the first failed run."""
    runs: list[tuple[BankCobRun, list[BankCobStep]]] = []
    for _ in range(MAX_DAYS_PER_CALL):
        today = await business_date_get(db, ctx)
        if today > through:
            break
        if on_day is not None:
            on_day(today)
        run, steps = await cob_run(db, ctx, day=today, on_step=on_step)
        runs.append((run, steps))
        if run.status != "completed":
            break
    return runs


async def cob_run_get(
    db: Database, ctx: Context, *, run_id: uuid.UUID
) -> tuple[BankCobRun, list[BankCobStep]]:
    """A run and its steps in order."""
    async with db.uow(tenant_id=ctx.tenant_id) as uow:
        run = await uow.session.get(BankCobRun, (ctx.tenant_id, run_id))
        if run is None:
            raise CobRunNotFound(f"COB run {run_id} was not found.")
        return run, await _steps(uow, ctx, run_id)


def job_context(tenant_id: uuid.UUID) -> Context:
    """Who closes the day in the scheduled job: the bank itself."""
    return Context.system(tenant_id, permissions=frozenset())


async def cob_run_all(db: Database) -> int:
    """The scheduled job (late each day): close the business date of every active tenant
    whose business date is not after today (UTC); how many runs completed."""
    async with db.uow() as uow:
        tenant_ids = await tenant_ids_active(uow)
    completed = 0
    for tenant_id in tenant_ids:
        ctx = job_context(tenant_id)
        if await business_date_get(db, ctx) > clock.now().date():
            continue
        run, _ = await cob_run(db, ctx)
        completed += run.status == "completed"
    return completed
