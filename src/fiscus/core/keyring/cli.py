"""`fiscus keys ...`: the key ring's status, data-key rotation, and the root secret's backup."""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, TypeVar

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn
from rich.table import Table

from fiscus.core.cli import err, run, settings_load
from fiscus.core.config import Settings
from fiscus.core.db import Database
from fiscus.core.keyring import (
    MIN_PASSPHRASE_CHARS,
    ROLLOUT_WAIT_S,
    KeyRing,
    KeyRingError,
    KeysStatus,
    RotationResult,
    SecretBundleError,
    keys_rotate,
    keys_status,
    secret_bundle_export,
    secret_bundle_import,
)

T = TypeVar("T")
keys_app = typer.Typer(
    help="Encryption keys: status, rotation of the data key, backup of the root secret.",
    no_args_is_help=True,
)
PASSPHRASE_ENV = "FISCUS_BUNDLE_PASSPHRASE"  # noqa: S105 - a variable name, not a secret


def _with_keyring(operation: Callable[[Database, KeyRing], Awaitable[T]]) -> T:
    """Run `operation` with the database in use and the key ring opened from the settings."""
    from fiscus.core.models import import_all_models

    import_all_models()  # every module registers its sealed columns next to its tables

    async def with_ring(db: Database, settings: Settings) -> T:
        return await operation(db, KeyRing(settings.root_secrets))

    try:
        return run(with_ring, pool_size=3)
    except KeyRingError as error:
        err.print(f"[red]Keys:[/red] {error}")
        raise typer.Exit(1) from None


@keys_app.command("status")
def status() -> None:
    """List the keys (which one is current) and how many values each column holds per key."""
    found: KeysStatus = _with_keyring(keys_status)
    keys = Table("key", "purpose", "created", "activated", "wrapped by", "current")
    for key in found.keys:
        keys.add_row(
            key.id,
            key.purpose,
            key.created_at.isoformat(timespec="seconds"),
            key.activated_at.isoformat(timespec="seconds") if key.activated_at else "-",
            key.wrapped_by,
            "yes" if key.current else "",
        )
    console = Console()
    console.print(f"Root secret id: {found.root_id}")
    console.print(keys)
    columns = Table("column", "values per data key")
    for name, counts in found.columns.items():
        spread = ", ".join(f"{kid}: {n}" for kid, n in counts.items()) or "none"
        columns.add_row(name, spread)
    console.print(columns)


class _Bars:
    """Rich progress for a rotation: one line per step, one bar per column."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.tasks: dict[str, TaskID] = {}

    def phase(self, description: str) -> None:
        self.progress.console.print(description)

    def column(self, name: str, total: int) -> None:
        self.tasks[name] = self.progress.add_task(name, total=total)

    def advance(self, name: str, done: int) -> None:
        self.progress.advance(self.tasks[name], done)


@keys_app.command("rotate")
def rotate(
    wait_s: Annotated[
        float,
        typer.Option(
            "--wait-s",
            min=0,
            help="Seconds to wait for every running process to re-read the keys, before and"
            " after the new key becomes current (they re-read them every 30 s)",
        ),
    ] = ROLLOUT_WAIT_S,
    batch: Annotated[
        int, typer.Option(min=1, max=10_000, help="Values re-sealed per transaction")
    ] = 500,
) -> None:
    """Rotate the data key while fiscus runs: new key, every value re-sealed, old key deleted.

    Also re-wraps every key under the current root secret (after a change of
    FISCUS_SECRET_KEY with the old one in FISCUS_PREVIOUS_SECRET_KEYS).
    """
    with Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), console=err
    ) as progress:
        bars = _Bars(progress)
        result: RotationResult = _with_keyring(
            lambda db, ring: keys_rotate(db, ring, wait_s=wait_s, batch=batch, progress=bars)
        )
    total = sum(result.resealed.values())
    retired = ", ".join(result.retired) or "none"
    err.print(
        f"Data key {result.new_kid} is current; {total} value(s) re-sealed; retired: {retired}."
    )


def _passphrase(*, confirm: bool) -> str:
    """From FISCUS_BUNDLE_PASSPHRASE (scripts), else asked for without echo."""
    given = os.environ.get(PASSPHRASE_ENV)
    if given:
        return given
    return str(
        typer.prompt(
            f"Passphrase (at least {MIN_PASSPHRASE_CHARS} characters)",
            hide_input=True,
            confirmation_prompt=confirm,
        )
    )


@keys_app.command("export")
def export(
    output: Annotated[Path, typer.Option("-o", "--output", help="Bundle file to write")],
    force: Annotated[bool, typer.Option("--force", help="Replace an existing file")] = False,
) -> None:
    """Back up the root secret (and any previous ones) as a passphrase-encrypted bundle.

    Keep the bundle and the passphrase apart from the database dumps: a dump opens only
    with the root secret of the installation that wrote it.
    """
    secrets = settings_load().root_secrets
    try:
        root_id = secret_bundle_export(output, secrets, _passphrase(confirm=True), replace=force)
    except SecretBundleError as error:
        err.print(f"[red]Export refused:[/red] {error}")
        raise typer.Exit(1) from None
    err.print(f"Wrote {output} (root secret id {root_id}, mode 0600).")


@keys_app.command("import")
def import_(
    bundle: Annotated[
        Path, typer.Argument(exists=True, dir_okay=False, help="A bundle from `keys export`")
    ],
    env_file: Annotated[
        Path | None,
        typer.Option(
            "--env-file",
            help="Write FISCUS_SECRET_KEY (and FISCUS_PREVIOUS_SECRET_KEYS) lines to this file"
            " instead of the data folder's secret_key",
        ),
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace a different secret")] = False,
) -> None:
    """Restore the root secret from a bundle made by `fiscus keys export`.

    It goes to `$FISCUS_DATA_DIR/secret_key` (what the embedded installation reads), or
    with --env-file to an env file (FISCUS_SECRET_KEY=...), mode 0600 either way.
    """
    target = None if env_file is not None else settings_load().data_dir / "secret_key"
    try:
        opened = secret_bundle_import(
            bundle,
            _passphrase(confirm=False),
            secret_file=target,
            env_file=env_file,
            replace=force,
        )
    except SecretBundleError as error:
        err.print(f"[red]Import refused:[/red] {error}")
        raise typer.Exit(1) from None
    err.print(
        f"Wrote the root secret (id {opened.root_id}) to {env_file or target} (mode 0600)."
        " `fiscus keys status` checks that it opens this database's keys."
    )
    if target is not None and opened.previous_secret_keys:
        err.print(
            f"The bundle also holds {len(opened.previous_secret_keys)} previous secret(s);"
            " import it with --env-file to keep them."
        )
