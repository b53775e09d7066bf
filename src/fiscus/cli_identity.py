"""`fiscus admin ...` and `fiscus audit ...`: tenants, users, permissions page, audit chain."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, TypeVar

import typer
from rich.console import Console

from fiscus.core.db import Database
from fiscus.core.errors import DomainError

T = TypeVar("T")
admin_app = typer.Typer(
    help="Administration: create tenants and users, generate the permissions page.",
    no_args_is_help=True,
)
audit_app = typer.Typer(
    help="Audit trail: seal new rows into the chain, verify it.", no_args_is_help=True
)
err = Console(stderr=True)
PERMISSIONS_DOC = Path("docs/permissions.md")


def _run(operation: Callable[[Database], Awaitable[T]]) -> T:
    """Run `operation` against the configured database (embedded if none), then close it."""
    from fiscus.cli import _settings, database

    settings = _settings()
    with database(settings) as (url, _):

        async def main() -> T:
            db = Database(url, pool_size=2, max_overflow=0)
            try:
                return await operation(db)
            finally:
                await db.dispose()

        try:
            return asyncio.run(main())
        except DomainError as error:
            err.print(f"[red]{error.title}:[/red] {error.detail}")
            raise typer.Exit(1) from None


@admin_app.command("create-tenant")
def create_tenant(
    slug: Annotated[str, typer.Argument(help="Short name used at login, e.g. acme")],
    name: Annotated[str, typer.Option("--name", help="Display name of the organisation")],
    plan: Annotated[
        str | None,
        typer.Option("--plan", help="Rate-limit tier (default: FISCUS_DEFAULT_PLAN)"),
    ] = None,
) -> None:
    """Create a tenant and print its id."""
    from fiscus.access.service import tenant_create

    chosen = _plan_check(plan)

    async def operation(db: Database) -> uuid.UUID:
        async with db.uow() as uow:
            return await tenant_create(uow, slug=slug, name=name, plan=chosen)

    typer.echo(str(_run(operation)))


@admin_app.command("set-plan")
def set_plan(
    slug: Annotated[str, typer.Argument(help="Slug of the tenant")],
    plan: Annotated[str, typer.Argument(help="A plan of FISCUS_PLAN_LIMITS")],
) -> None:
    """Set a tenant's plan (its rate-limit tier); tenants cannot change their own."""
    from fiscus.access.errors import TenantNotFound
    from fiscus.access.queries import tenant_by_slug

    _plan_check(plan)

    async def operation(db: Database) -> str:
        async with db.uow() as uow:
            tenant = await tenant_by_slug(uow, slug=slug)
        if tenant is None:
            raise TenantNotFound(f"No tenant with slug {slug!r}.")
        await _plan_set(db, tenant.id, plan)
        return f"{slug}: {plan}"

    typer.echo(_run(operation))


def _plan_check(plan: str | None) -> str:
    """The plan, or the configured default; exit 2 naming the plans if it is not one."""
    from fiscus.cli import _settings

    settings = _settings()
    if plan is None:
        return settings.default_plan
    if plan not in settings.plan_limits:
        choices = ", ".join(sorted(settings.plan_limits))
        err.print(f"[red]Unknown plan {plan!r}:[/red] choose {choices} (FISCUS_PLAN_LIMITS).")
        raise typer.Exit(2)
    return plan


async def _plan_set(db: Database, tenant_id: uuid.UUID, plan: str) -> None:
    """Change only the plan, as the platform operator (a system actor, audited)."""
    from fiscus.access.context import Context
    from fiscus.access.queries import tenant_get
    from fiscus.access.service import tenant_settings_update

    async with db.uow() as uow:
        current = (await tenant_get(uow, tenant_id=tenant_id)).settings
    settings = current.model_copy(update={"plan": plan})
    await tenant_settings_update(
        db, ctx=Context.system(tenant_id, permissions=frozenset()), settings=settings
    )


@admin_app.command("create-user")
def create_user(
    tenant: Annotated[str, typer.Option("--tenant", help="Slug of the tenant")],
    email: Annotated[str, typer.Option("--email", help="Login email of the user")],
    role: Annotated[str, typer.Option("--role", help="owner, admin, operator, analyst, ...")],
    name: Annotated[str, typer.Option("--name", help="Display name")] = "",
) -> None:
    """Create an account in a tenant and print its id (password from FISCUS_PASSWORD or a
    prompt). Accounts are per tenant: the same email in another tenant is another account."""
    from fiscus.access.context import Context
    from fiscus.access.queries import tenant_by_slug
    from fiscus.audit.service import audit_record
    from fiscus.cli import _settings
    from fiscus.core.keyring import KeyRing
    from fiscus.identity.service import user_provision

    password = os.environ.get("FISCUS_PASSWORD") or typer.prompt(
        "Password", hide_input=True, confirmation_prompt=True
    )

    async def operation(db: Database) -> uuid.UUID:
        async with db.uow() as uow:
            found = await tenant_by_slug(uow, slug=tenant.strip().lower())
        if found is None:
            err.print(f"[red]No tenant {tenant!r}.[/red]")
            raise typer.Exit(1)
        keyring = KeyRing(_settings().root_secrets)
        await keyring.load(db)
        async with db.uow(tenant_id=found.id) as uow:
            user_id = await user_provision(
                uow,
                keyring,
                tenant_id=found.id,
                email=email,
                password=password,
                role=role,
                display_name=name,
            )
            await audit_record(
                uow,
                ctx=Context.system(found.id, permissions=frozenset()),
                action="user.added",
                object_type="user",
                object_id=user_id,
                after={"role": role},
                details={"via": "cli"},
            )
        return user_id

    typer.echo(str(_run(operation)))


@admin_app.command("permissions-doc")
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


@audit_app.command("seal")
def seal() -> None:
    """Link every unsealed audit row into its tenant's hash chain now."""
    from fiscus.audit.chain import audit_seal

    sealed = _run(audit_seal)
    err.print(f"Sealed {sealed} audit row(s).")


@audit_app.command("verify")
def verify(
    tenant: Annotated[
        str | None, typer.Option("--tenant", help="Slug of one tenant (default: every tenant)")
    ] = None,
) -> None:
    """Recompute the audit hash chains; name the first broken row and exit 1 if any."""
    from fiscus.access.queries import tenant_by_slug
    from fiscus.audit.chain import ChainReport, audit_verify

    async def operation(db: Database) -> list[ChainReport]:
        tenant_id = None
        if tenant is not None:
            async with db.uow() as uow:
                found = await tenant_by_slug(uow, slug=tenant.strip().lower())
            if found is None:
                err.print(f"[red]No tenant {tenant!r}.[/red]")
                raise typer.Exit(2)
            tenant_id = found.id
        return await audit_verify(db, tenant_id=tenant_id)

    reports = _run(operation)
    broken = [r for r in reports if not r.ok]
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
    if broken:
        raise typer.Exit(1)
    typer.echo(f"Audit trail intact ({len(reports)} tenant(s)).")
