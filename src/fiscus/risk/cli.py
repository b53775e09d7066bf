"""`fiscus sanctions ...`: the operator loads sanctions lists, sees them, tries a name."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table

from fiscus.core.cli import err, run
from fiscus.core.config import Settings
from fiscus.core.db import Database
from fiscus.core.errors import ValidationProblem
from fiscus.risk import queries, service

app = typer.Typer(
    help="Sanctions lists: load the lists names are screened against, see them, screen a name.",
    no_args_is_help=True,
)
out = Console()


def _default_list_name(path: Path) -> str:
    return re.sub(r"[^a-z0-9_.-]+", "-", path.stem.lower()).strip("-._") or "sanctions"


@app.command("load")
def load(
    file: Annotated[
        Path, typer.Argument(exists=True, dir_okay=False, readable=True, help="CSV file")
    ],
    list_name: Annotated[
        str | None,
        typer.Option("--list", help="Name of the list to replace; default: the file's name"),
    ] = None,
) -> None:
    """Load a CSV list (columns list_id, name, aliases, type, country), replacing the list
    of that name in one transaction: screening sees the old list or the new one."""
    name = list_name or _default_list_name(file)
    try:
        with err.status(f"Reading {file.name} ..."):
            parsed = service.sanctions_file_read(file.read_bytes(), source=file.name)
    except ValidationProblem as error:
        err.print(f"[red]{error.title}:[/red] {error.detail}")
        for problem in error.errors:
            err.print(f"  {problem.field}: {problem.message}")
        raise typer.Exit(1) from None

    async def operation(db: Database, _: Settings) -> service.SanctionsLoadResult:
        with Progress(
            TextColumn(f"Loading {name}"), BarColumn(), MofNCompleteColumn(), console=err
        ) as progress:
            task = progress.add_task("load", total=len(parsed.rows))
            async with db.uow() as uow:
                return await service.sanctions_list_load(
                    uow, name=name, file=parsed, on_progress=lambda n: progress.advance(task, n)
                )

    result = run(operation)
    replaced = f", replacing {result.replaced_count}" if result.replaced_count else ""
    err.print(
        f"[green]Loaded {result.entry_count} entries into list {result.name}{replaced}.[/green]"
    )


@app.command("status")
def status() -> None:
    """List the loaded lists: entries, source file, checksum and when each was loaded."""

    async def operation(db: Database, _: Settings) -> list[queries.SanctionsListStatus]:
        async with db.uow() as uow:
            return await queries.sanctions_list_statuses(uow)

    lists = run(operation)
    if not lists:
        err.print("No sanctions list is loaded: names are screened against nothing.")
        return
    table = Table("list", "entries", "source", "sha256", "loaded at (UTC)")
    for item in lists:
        table.add_row(
            item.name,
            str(item.entry_count),
            item.source,
            item.sha256[:12],
            item.loaded_at.strftime("%Y-%m-%d %H:%M:%S"),
        )
    out.print(table)


@app.command("screen")
def screen(
    name: Annotated[str, typer.Argument(help="The name to screen")],
    threshold: Annotated[
        float | None,
        typer.Option(min=1, max=100, help="Score from 1 to 100; default: the configured one"),
    ] = None,
) -> None:
    """Screen one name against every loaded list, as a payment would be; exit 1 on a hit."""

    async def operation(db: Database, settings: Settings) -> list[queries.Hit]:
        async with db.uow() as uow:
            return await queries.screen_name(
                uow, name, threshold=threshold or settings.sanctions_match_threshold
            )

    hits = run(operation)
    if not hits:
        err.print("No match.")
        return
    table = Table("list", "id", "listed name", "matched", "type", "country", "score")
    for hit in hits:
        table.add_row(
            hit.list_name,
            hit.entry_id,
            hit.name,
            hit.matched_name,
            hit.kind,
            hit.country or "",
            f"{hit.score:.1f}",
        )
    out.print(table)
    raise typer.Exit(1)
