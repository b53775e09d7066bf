"""`fiscus insights ...`: categorise movements posted before spending insights existed."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from fiscus.access.queries import tenant_by_slug
from fiscus.banking.insights import service
from fiscus.core.cli import run
from fiscus.core.config import Settings
from fiscus.core.db import Database
from fiscus.core.errors import NotFound

app = typer.Typer(help="Spending insights: categorise past movements.", no_args_is_help=True)
out = Console()


@app.command()
def categorise(
    tenant: str | None = typer.Option(None, help="Only this tenant (its slug); default all"),
) -> None:
    """Give every customer movement not categorised yet its category by the rules in force
    (idempotent: a categorised movement keeps its category; no budget alerts)."""

    async def operation(db: Database, _: Settings) -> int:
        with Progress(
            TextColumn("Categorising movements"), BarColumn(), MofNCompleteColumn(), console=out
        ) as progress:
            task = progress.add_task("movements", total=None)

            def batch_done(count: int) -> None:
                progress.advance(task, count)

            if tenant is None:
                return await service.movements_backfill_all(db, on_batch=batch_done)
            async with db.uow() as uow:
                found = await tenant_by_slug(uow, slug=tenant)
            if found is None:
                raise NotFound(f"No tenant {tenant!r}.")
            return await service.movements_backfill(db, tenant_id=found.id, on_batch=batch_done)

    out.print(f"{run(operation)} movements categorised.")
