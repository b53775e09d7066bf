"""`fiscus cob run`: close a tenant's business date, or many, with a progress bar per step."""

from __future__ import annotations

from datetime import date

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn

from fiscus.banking.cli import tenant_id_of
from fiscus.banking.cob import service
from fiscus.core.cli import run
from fiscus.core.config import Settings
from fiscus.core.db import Database

app = typer.Typer(help="Banking close of business.", no_args_is_help=True)
out = Console()


@app.command("run")
def cob_run(
    tenant: str = typer.Option(..., help="The tenant's slug"),
    on: str | None = typer.Option(
        None, "--date", help="Close (or resume) this YYYY-MM-DD; default the business date"
    ),
    through: str | None = typer.Option(
        None, "--through", help="Close every business date up to and including YYYY-MM-DD"
    ),
) -> None:
    """Close the business date: expire holds, pay standing orders, accrue and post
    interest, charge fees, mark dormant accounts, roll the date. Safe to rerun: a run that
    stopped resumes at the step it stopped in."""
    if on is not None and through is not None:
        raise typer.BadParameter("give --date or --through, not both")
    day = date.fromisoformat(on) if on is not None else None
    last = date.fromisoformat(through) if through is not None else None

    async def operation(db: Database, _: Settings) -> list[str]:
        ctx = service.job_context(await tenant_id_of(db, tenant))
        with Progress(
            TextColumn("{task.description:<18}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[did]}"),
            console=out,
        ) as progress:
            bars: dict[str, TaskID] = {
                name: progress.add_task(name, total=None, did="") for name in service.STEPS
            }
            days = progress.add_task("business dates", total=None, did="")

            def on_step(name: str, status: str, count: int) -> None:
                did = "done before" if count < 0 else f"{status}: {count}"
                progress.update(bars[name], advance=1, did=did)

            def on_day(current: date) -> None:
                progress.update(days, advance=1, did=current.isoformat())

            if last is None:
                runs = [await service.cob_run(db, ctx, day=day, on_step=on_step)]
            else:
                runs = await service.cob_run_through(
                    db, ctx, through=last, on_day=on_day, on_step=on_step
                )
        return [
            f"{r.business_date}: {r.status}" + (f" ({r.error})" if r.error else "") for r, _ in runs
        ]

    lines = run(operation)
    for line in lines[-10:]:
        out.print(line)
    out.print(f"{len(lines)} business date(s) run.")
    if any(": failed" in line for line in lines):
        raise typer.Exit(1)
