"""`fiscus banking ...`: run the standing orders now."""

from __future__ import annotations

import uuid
from datetime import date

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from fiscus.access.queries import tenant_by_slug
from fiscus.banking import service
from fiscus.banking.service import RunReport
from fiscus.core.cli import run
from fiscus.core.config import Settings
from fiscus.core.db import Database
from fiscus.core.errors import NotFound

app = typer.Typer(help="Banking: standing orders.", no_args_is_help=True)
out = Console()


async def tenant_id_of(db: Database, slug: str) -> uuid.UUID:
    """The id of the tenant with this slug, or NotFound."""
    async with db.uow() as uow:
        found = await tenant_by_slug(uow, slug=slug)
    if found is None:
        raise NotFound(f"No tenant {slug!r}.")
    return found.id


@app.command("run-orders")
def run_orders(
    tenant: str | None = typer.Option(None, help="Only this tenant (its slug); default all"),
    on: str | None = typer.Option(
        None, "--date", help="Pay what is due up to YYYY-MM-DD (at most the business date)"
    ),
) -> None:
    """Pay every standing-order occurrence due by the business date (idempotent: an
    occurrence already paid is never paid again)."""
    through = date.fromisoformat(on) if on is not None else None
    if through is not None and tenant is None:
        raise typer.BadParameter("--date needs --tenant (each tenant has its business date)")

    async def operation(db: Database, _: Settings) -> RunReport:
        with Progress(
            TextColumn("Paying standing orders"), BarColumn(), MofNCompleteColumn(), console=out
        ) as progress:
            task = progress.add_task("orders", total=None)

            def order_done(_: uuid.UUID, __: str) -> None:
                progress.advance(task)

            if tenant is None:
                return await service.standing_orders_run_all(db, on_order=order_done)
            return await service.standing_orders_run(
                db, tenant_id=await tenant_id_of(db, tenant), on_date=through, on_order=order_done
            )

    report = run(operation)
    out.print(
        f"{report.orders} orders: {report.paid} paid, {report.retrying} to retry,"
        f" {report.failed} failed."
    )
