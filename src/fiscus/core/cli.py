"""What every module's `cli.py` shares: settings, the database in use, one async run.

A command parses its arguments, calls one service function through `run`, and renders the
result. `run` turns a DomainError into its title and detail on stderr and exit status 1.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

import typer
from rich.console import Console

from fiscus.core.config import ConfigError, Settings, load_settings
from fiscus.core.db import Database
from fiscus.core.embedded import EmbeddedError, EmbeddedPostgres
from fiscus.core.errors import DomainError

T = TypeVar("T")
err = Console(stderr=True)


def settings_load() -> Settings:
    """The settings, or a configuration error on stderr and exit status 2."""
    try:
        return load_settings()
    except ConfigError as error:
        err.print(f"[red]Configuration error:[/red] {error}")
        raise typer.Exit(2) from None


@contextmanager
def database(settings: Settings) -> Iterator[tuple[str, EmbeddedPostgres | None]]:
    """The database URL in use; starts (and afterwards releases) the embedded server if needed."""
    if settings.database_url is not None:
        yield settings.database_url, None
        return
    embedded = EmbeddedPostgres(settings.data_dir)
    try:
        with err.status(f"Starting the embedded PostgreSQL in {embedded.pgdata} ..."):
            url = embedded.start()
    except EmbeddedError as error:
        err.print(f"[red]{error}[/red]")
        raise typer.Exit(1) from None
    try:
        yield url, embedded
    finally:
        embedded.stop()


def run(
    operation: Callable[[Database, Settings], Awaitable[T]],
    *,
    settings: Settings | None = None,
    pool_size: int = 2,
) -> T:
    """Run `operation` against the database in use (embedded if none configured), then close.

    A DomainError (a refused request: unknown tenant, taken slug, weak password) is said on
    stderr with exit status 1, as the API would answer it with problem+json.
    """
    settings = settings or settings_load()
    with database(settings) as (url, _):

        async def main() -> T:
            db = Database(url, pool_size=pool_size, max_overflow=0)
            try:
                return await operation(db, settings)
            finally:
                await db.dispose()

        try:
            return asyncio.run(main())
        except DomainError as error:
            err.print(f"[red]{error.title}:[/red] {error.detail}")
            raise typer.Exit(1) from None
