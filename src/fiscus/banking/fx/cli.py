"""`fiscus fx ...`: load the provider's exchange rates now."""

from __future__ import annotations

import uuid

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from fiscus.banking.fx import service
from fiscus.core.cli import run
from fiscus.core.config import Settings
from fiscus.core.db import Database

app = typer.Typer(help="Exchange rates: load the provider's reference rates.", no_args_is_help=True)
out = Console()


@app.command()
def load(
    url: str | None = typer.Option(
        None, help="Provider URL (ECB daily reference-rate format); default FISCUS_FX_RATES_URL"
    ),
) -> None:
    """Fetch the provider's rates and store them in every active tenant (idempotent: a
    rate already stored for its pair, provider and moment is kept)."""

    async def operation(db: Database, settings: Settings) -> int:
        with Progress(
            TextColumn("Storing rates per tenant"), BarColumn(), MofNCompleteColumn(), console=out
        ) as progress:
            task = progress.add_task("tenants", total=None)

            def tenant_done(_: uuid.UUID, __: int) -> None:
                progress.advance(task)

            return await service.provider_load(
                db, settings=settings, url=url, on_tenant=tenant_done
            )

    stored = run(operation)
    out.print(f"{stored} new rates stored.")
