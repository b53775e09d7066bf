"""`fiscus admin create-tenant / set-plan / permissions-doc`: the operator's tenant commands."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Annotated

import typer

from fiscus.core.cli import err, run
from fiscus.core.config import Settings
from fiscus.core.db import Database

admin = typer.Typer(help="Tenants and their plans; the permissions page.")
PERMISSIONS_DOC = Path("docs/permissions.md")


def _plan_check(plan: str | None) -> str:
    """The plan, or the configured default; exit 2 naming the plans if it is not one."""
    from fiscus.core.cli import settings_load

    settings = settings_load()
    if plan is None:
        return settings.default_plan
    if plan not in settings.plan_limits:
        choices = ", ".join(sorted(settings.plan_limits))
        err.print(f"[red]Unknown plan {plan!r}:[/red] choose {choices} (FISCUS_PLAN_LIMITS).")
        raise typer.Exit(2)
    return plan


@admin.command("create-tenant")
def create_tenant(
    slug: Annotated[str, typer.Argument(help="Short name used at login, e.g. acme")],
    name: Annotated[str, typer.Option("--name", help="Display name of the organisation")],
    plan: Annotated[
        str | None,
        typer.Option("--plan", help="Rate-limit tier (default: FISCUS_DEFAULT_PLAN)"),
    ] = None,
) -> None:
    """Create a tenant and print its id."""
    from fiscus.access.service import tenant_provision

    chosen = _plan_check(plan)

    async def operation(db: Database, _: Settings) -> uuid.UUID:
        return await tenant_provision(db, slug=slug, name=name, plan=chosen)

    typer.echo(str(run(operation)))


@admin.command("set-plan")
def set_plan(
    slug: Annotated[str, typer.Argument(help="Slug of the tenant")],
    plan: Annotated[str, typer.Argument(help="A plan of FISCUS_PLAN_LIMITS")],
) -> None:
    """Set a tenant's plan (its rate-limit tier); tenants cannot change their own."""
    from fiscus.access.service import tenant_plan_set

    _plan_check(plan)

    async def operation(db: Database, _: Settings) -> None:
        await tenant_plan_set(db, slug=slug, plan=plan)

    run(operation)
    typer.echo(f"{slug}: {plan}")


@admin.command("permissions-doc")
def permissions_doc(
    output: Annotated[Path, typer.Option("-o", "--output", help="File to write")] = (
        PERMISSIONS_DOC
    ),
    check: Annotated[
        bool, typer.Option("--check", help="Only check the file is current (exit 1 if not)")
    ] = False,
) -> None:
    """Write the permissions page generated from the policy table."""
    from fiscus.access.policy import permissions_markdown

    text = permissions_markdown()
    if check:
        current = output.read_text(encoding="utf-8") if output.exists() else ""
        if current != text:
            err.print(f"[red]{output} is out of date; run `fiscus admin permissions-doc`.[/red]")
            raise typer.Exit(1)
        err.print(f"{output} is current.")
        return
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(text, encoding="utf-8")
    err.print(f"Wrote {output}.")
