"""`fiscus admin create-user / unlock-user`: the operator's account commands."""

from __future__ import annotations

import os
import uuid
from typing import Annotated

import typer

from fiscus.core.cli import err, run, settings_load
from fiscus.core.config import Settings
from fiscus.core.db import Database
from fiscus.core.keyring import KeyRing

admin = typer.Typer(help="Accounts: the first users of a tenant, lifting lockouts.")


async def _keyring(db: Database, settings: Settings) -> KeyRing:
    keyring = KeyRing(settings.root_secrets)
    await keyring.load(db)
    return keyring


@admin.command("create-user")
def create_user(
    tenant: Annotated[str, typer.Option("--tenant", help="Slug of the tenant")],
    email: Annotated[str, typer.Option("--email", help="Login email of the user")],
    role: Annotated[str, typer.Option("--role", help="owner, admin, operator, analyst, ...")],
    name: Annotated[str, typer.Option("--name", help="Display name")] = "",
) -> None:
    """Create an account in a tenant and print its id.

    The password comes from FISCUS_PASSWORD, or is asked for. Accounts are per tenant: the
    same email in another tenant is another account.
    """
    from fiscus.identity.service import user_bootstrap

    password = os.environ.get("FISCUS_PASSWORD") or typer.prompt(
        "Password", hide_input=True, confirmation_prompt=True
    )

    async def operation(db: Database, settings: Settings) -> uuid.UUID:
        return await user_bootstrap(
            db,
            await _keyring(db, settings),
            tenant_slug=tenant,
            email=email,
            password=password,
            role=role,
            display_name=name,
        )

    typer.echo(str(run(operation)))


@admin.command("unlock-user")
def unlock_user(
    email: Annotated[str, typer.Option("--email", help="Login email of the person")],
    tenant: Annotated[
        str | None,
        typer.Option("--tenant", help="Slug of one tenant (default: the address in every tenant)"),
    ] = None,
) -> None:
    """Lift a person's lockout after too many failed guesses (audited).

    Clears the counters of the account (in one tenant, or of every account with this
    address) and of the address itself, which every tenant shares.

    The counters are shared through Redis (FISCUS_REDIS_URL); without it each API process
    keeps its own in memory, which this command cannot reach.
    """
    from fiscus.identity.config import IdentityConfig
    from fiscus.identity.service import user_unlock
    from fiscus.identity.throttle import Throttle, storage_for

    settings = settings_load()
    if settings.redis_url is None:
        err.print(
            "[red]No FISCUS_REDIS_URL:[/red] lockouts are counted in each API process's memory,"
            " out of this command's reach; they end by themselves after the lockout time"
            " (or when the process restarts)."
        )
        raise typer.Exit(2)
    throttle = Throttle(storage_for(settings.redis_url), IdentityConfig.from_environment(settings))

    async def operation(db: Database, settings: Settings) -> list[tuple[uuid.UUID, uuid.UUID]]:
        keyring = await _keyring(db, settings)
        return await user_unlock(db, keyring, throttle, email=email, tenant_slug=tenant)

    for tenant_id, user_id in run(operation, settings=settings):
        typer.echo(f"unlocked user {user_id} in tenant {tenant_id}")
