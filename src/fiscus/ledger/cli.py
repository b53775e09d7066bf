"""`fiscus ledger ...`: verify balances against entries, print trial balances."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table

from fiscus.core.config import ConfigError, load_settings
from fiscus.core.db import Database
from fiscus.core.embedded import EmbeddedPostgres
from fiscus.ledger import queries

app = typer.Typer(help="Ledger tools: verify balances, trial balance.", no_args_is_help=True)
out = Console()
err = Console(stderr=True)
VERIFY_BATCH = 2000
ZERO = uuid.UUID(int=0)


@asynccontextmanager
async def _database() -> AsyncIterator[Database]:
    try:
        settings = load_settings()
    except ConfigError as error:
        err.print(f"[red]Configuration error:[/red] {error}")
        raise typer.Exit(2) from None
    embedded = None
    url = settings.database_url
    if url is None:
        embedded = EmbeddedPostgres(settings.data_dir)
        url = await asyncio.to_thread(embedded.start)
    db = Database(url, pool_size=2, max_overflow=0)
    try:
        yield db
    finally:
        await db.dispose()
        if embedded is not None:
            await asyncio.to_thread(embedded.stop)


async def _verify() -> int:
    differences = 0
    async with _database() as db:
        total = await queries.ledger_account_count(db=db)
        after: tuple[uuid.UUID, uuid.UUID] | None = (ZERO, ZERO)
        with Progress(
            TextColumn("Verifying accounts"), BarColumn(), MofNCompleteColumn(), console=err
        ) as progress:
            task = progress.add_task("verify", total=total)
            while after is not None:
                checked, found, after = await queries.ledger_verify_chunk(
                    db=db, after=after, batch=VERIFY_BATCH
                )
                for d in found:
                    differences += 1
                    out.print(
                        f"[red]DIFFERENCE[/red] tenant {d.tenant_id} account {d.account_id}: "
                        f"stored (debits_pending, debits_posted, credits_pending, credits_posted)"
                        f" = {d.stored}, from entries = {d.from_entries}"
                    )
                progress.advance(task, checked)
    if differences:
        err.print(f"[red]{differences} account(s) differ from their entries.[/red]")
    else:
        err.print(f"[green]All {total} account(s) match the sum of their entries.[/green]")
    return differences


@app.command("verify")
def verify() -> None:
    """Recompute every account's balances from its entries; exit 1 on any difference."""
    if asyncio.run(_verify()):
        raise typer.Exit(1)


async def _trial_balance() -> bool:
    async with _database() as db:
        rows = await queries.trial_balance_all(db=db)
    table = Table(
        "tenant",
        "currency",
        "debits posted",
        "credits posted",
        "debits pending",
        "credits pending",
        "balanced",
    )
    balanced = True
    for tenant_id, currency, dp, cp, dq, cq in rows:
        ok = dp == cp and dq == cq
        balanced = balanced and ok
        table.add_row(
            str(tenant_id),
            currency,
            str(dp),
            str(cp),
            str(dq),
            str(cq),
            "yes" if ok else "[red]NO[/red]",
        )
    out.print(table)
    return balanced


@app.command("trial-balance")
def trial_balance() -> None:
    """Sum of debits and credits per tenant and currency; exit 1 if any does not balance."""
    if not asyncio.run(_trial_balance()):
        raise typer.Exit(1)
