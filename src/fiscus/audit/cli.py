"""`fiscus audit seal / verify`: link new rows into each tenant's chain, check the chains."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Annotated

import typer

from fiscus.audit.chain import ChainReport, audit_seal, audit_verify
from fiscus.core.cli import err, run
from fiscus.core.config import Settings
from fiscus.core.db import Database

# The id of the tenant with a slug, or None. Tenants belong to access, which records into
# the audit trail: audit cannot import it, so `fiscus.cli` hands this look-up in.
TenantLookup = Callable[[Database, str], Awaitable[uuid.UUID | None]]


def build(*, tenant_lookup: TenantLookup) -> typer.Typer:
    """The `fiscus audit` commands, resolving `--tenant SLUG` with `tenant_lookup`."""
    app = typer.Typer(
        help="Audit trail: seal new rows into the chain, verify it.", no_args_is_help=True
    )

    @app.command("seal")
    def seal() -> None:
        """Link every unsealed audit row into its tenant's hash chain now."""

        async def operation(db: Database, _: Settings) -> int:
            return await audit_seal(db)

        err.print(f"Sealed {run(operation)} audit row(s).")

    @app.command("verify")
    def verify(
        tenant: Annotated[
            str | None,
            typer.Option("--tenant", help="Slug of one tenant (default: every tenant)"),
        ] = None,
    ) -> None:
        """Recompute the audit hash chains; name the first broken row and exit 1 if any."""

        async def operation(db: Database, _: Settings) -> list[ChainReport]:
            tenant_id = None
            if tenant is not None:
                tenant_id = await tenant_lookup(db, tenant.strip().lower())
                if tenant_id is None:
                    err.print(f"[red]No tenant {tenant!r}.[/red]")
                    raise typer.Exit(2)
            return await audit_verify(db, tenant_id=tenant_id)

        _render(run(operation))

    return app


def _render(reports: list[ChainReport]) -> None:
    for report in reports:
        line = f"tenant {report.tenant_id}: {report.checked} row(s) verified"
        if report.unsealed:
            line += f", {report.unsealed} not sealed yet"
        if not report.ok:
            line += (
                f"; BROKEN at row {report.first_broken_id} (chain position "
                f"{report.first_broken_seq}): {report.reason}"
            )
        typer.echo(line)
    if any(not r.ok for r in reports):
        raise typer.Exit(1)
    typer.echo(f"Audit trail intact ({len(reports)} tenant(s)).")
