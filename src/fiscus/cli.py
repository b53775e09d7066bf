"""The `fiscus` command."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import uuid
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import psycopg
import typer
from rich.progress import BarColumn, DownloadColumn, Progress, SpinnerColumn, TextColumn

from fiscus import __version__
from fiscus.access import cli as access_cli
from fiscus.access.queries import tenant_by_slug
from fiscus.audit import cli as audit_cli
from fiscus.banking.cli import app as banking_cli
from fiscus.banking.cob.cli import app as cob_cli
from fiscus.banking.fx.cli import app as fx_cli
from fiscus.banking.insights.cli import app as insights_cli
from fiscus.core.cli import database, err
from fiscus.core.cli import settings_load as _settings
from fiscus.core.config import Settings
from fiscus.core.db import Database, libpq_url, redact_url
from fiscus.core.embedded import client_bin_dir
from fiscus.core.keyring.cli import keys_app
from fiscus.core.server import StoppingServer
from fiscus.identity import cli as identity_cli
from fiscus.ledger.cli import app as ledger_cli
from fiscus.risk.cli import app as sanctions_cli

app = typer.Typer(
    help="fiscus: a multi-tenant financial platform around one double-entry ledger.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="Database tools: shell, dump and restore.", no_args_is_help=True)
# `fiscus admin` gathers the operator's commands of several modules, each in its cli.py.
admin_app = typer.Typer(
    help="Administration: create tenants and users, lift lockouts, generate the permissions page.",
    no_args_is_help=True,
)
for module_admin in (access_cli.admin, identity_cli.admin):
    admin_app.registered_commands.extend(module_admin.registered_commands)


async def _tenant_id(db: Database, slug: str) -> uuid.UUID | None:
    async with db.uow() as uow:
        found = await tenant_by_slug(uow, slug=slug)
    return None if found is None else found.id


app.add_typer(db_app, name="db")
app.add_typer(admin_app, name="admin")
app.add_typer(audit_cli.build(tenant_lookup=_tenant_id), name="audit")
app.add_typer(ledger_cli, name="ledger")
app.add_typer(keys_app, name="keys")
app.add_typer(sanctions_cli, name="sanctions")
app.add_typer(fx_cli, name="fx")
app.add_typer(cob_cli, name="cob")
app.add_typer(banking_cli, name="banking")
app.add_typer(insights_cli, name="insights")


def _tool(name: str, url: str) -> str:
    """Path of a PostgreSQL client program suiting the server: the wheel's, else PATH's."""
    try:
        candidate = client_bin_dir(libpq_url(url)) / name
    except psycopg.OperationalError as error:
        err.print(f"[red]Cannot reach the database:[/red] {error}")
        raise typer.Exit(1) from None
    if candidate.exists():
        return str(candidate)
    found = shutil.which(name)
    if found is None:
        err.print(f"[red]{name} not found[/red]")
        raise typer.Exit(1)
    return found


def _migrate(url: str, settings: Settings) -> None:
    from fiscus.core import migrate

    pending = migrate.pending_revisions(url)
    if pending == 0:
        err.print("Database schema is up to date.")
        return
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        console=err,
    ) as progress:
        task = progress.add_task("Applying migrations", total=pending)
        config = migrate.alembic_config(url, root_secrets=settings.root_secrets)
        config.attributes["on_version_apply"] = lambda **_: progress.advance(task)
        from alembic import command

        command.upgrade(config, "heads")
    err.print(f"Applied {pending} migration(s).")


def _refuse_unopenable_keys(url: str, settings: Settings) -> None:
    """Stop with a clear message (exit 3) when FISCUS_SECRET_KEY does not open the keys.

    Another installation's database (a restore), or the secret changed without the old
    one in FISCUS_PREVIOUS_SECRET_KEYS: better said at start than as failing requests.
    """
    from fiscus.core.backup import keyring_check

    keys = keyring_check(url, settings.root_secrets)
    if not keys.keys_open:
        err.print(f"[red]The encryption keys do not open:[/red] {keys.message}")
        raise typer.Exit(3)


@app.command()
def version() -> None:
    """Print the fiscus version."""
    typer.echo(__version__)


@app.command()
def migrate(
    revision: Annotated[str, typer.Option(help="Target revision (default: every head)")] = "heads",
    down: Annotated[bool, typer.Option("--down", help="Downgrade to REVISION instead")] = False,
) -> None:
    """Apply (or revert) database migrations."""
    settings = _settings()
    with database(settings) as (url, _):
        if down:
            from fiscus.core.migrate import downgrade

            downgrade(url, revision)
            err.print(f"Downgraded to {revision}.")
        elif revision == "heads":
            _migrate(url, settings)
        else:
            from fiscus.core.migrate import upgrade

            upgrade(url, revision, root_secrets=settings.root_secrets)


@app.command()
def demo() -> None:
    """Seed the demo bank `demo-bank` (50 customers, accounts in EUR and USD, rates, alerts,
    spending rules and budgets, ten weeks of history) and print its logins. Idempotent: a
    second run duplicates nothing and prints the same logins."""
    from rich.console import Console
    from rich.progress import MofNCompleteColumn
    from rich.table import Table

    from fiscus.core.keyring import KeyRing
    from fiscus.demo import HISTORY_DAYS, Seeded, demo_seed

    settings = _settings()
    with database(settings) as (url, _):
        _migrate(url, settings)

        async def main() -> Seeded:
            db = Database(url, pool_size=4, max_overflow=0)
            try:
                keyring = KeyRing(settings.root_secrets)
                await keyring.load(db)
                with Progress(
                    TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), console=err
                ) as progress:
                    tasks = {
                        "customers": progress.add_task("Customers and accounts", total=None),
                        "history": progress.add_task(
                            f"History ({HISTORY_DAYS} days)", total=HISTORY_DAYS
                        ),
                    }

                    def advance(step: str, done: int, total: int) -> None:
                        progress.update(tasks[step], completed=done, total=total)

                    return await demo_seed(db, keyring, progress=advance)
            finally:
                await db.dispose()

        seeded = asyncio.run(main())
    table = Table(title=f"Logins of tenant {seeded.tenant_slug!r}")
    for column in ("role", "email", "password", "TOTP secret", ""):
        table.add_column(column, overflow="fold")
    for login in seeded.logins:
        table.add_row(login.role, login.email, login.password, login.totp_secret or "-", login.note)
    out = Console()
    out.print(table)
    out.print(
        f"{seeded.customers} customers, {seeded.accounts} accounts, {seeded.movements} movements"
        f" ({seeded.refused} refused for lack of funds, as in life)."
        ' Log in with POST /v1/auth/login {"tenant": "demo-bank", ...};'
        " the API docs are at /docs."
    )


class WorkerMode(StrEnum):
    """Where `fiscus serve` runs the background jobs."""

    process = "process"  # a `fiscus worker` child process, supervised by serve
    inline = "inline"  # inside each API process (its lifespan)
    none = "none"  # not here: `fiscus worker` runs elsewhere


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Bind address [env FISCUS_HOST]")] = None,
    port: Annotated[int | None, typer.Option(help="Port [env FISCUS_PORT]")] = None,
    reload: Annotated[bool, typer.Option(help="Restart on code changes (development)")] = False,
    workers: Annotated[int, typer.Option(min=1, max=64, help="API processes")] = 1,
    worker: Annotated[
        WorkerMode,
        typer.Option(
            "--worker",
            help="Background jobs: in a supervised child process, inside each API process,"
            " or not here (run `fiscus worker` elsewhere)",
        ),
    ] = WorkerMode.process,
    no_worker: Annotated[
        bool, typer.Option("--no-worker", help="Same as --worker none", hidden=True)
    ] = False,
    worker_concurrency: Annotated[
        int, typer.Option(min=1, max=64, help="Jobs run at once by the worker child")
    ] = 4,
    migrate_first: Annotated[
        bool, typer.Option("--migrate/--no-migrate", help="Apply migrations before serving")
    ] = True,
) -> None:
    """Serve the API and, by default, run the background jobs in a child process."""
    import uvicorn

    from fiscus.core.logging import configure_logging
    from fiscus.core.supervisor import FORCED_GRACE_S, WorkerChild

    mode = WorkerMode.none if no_worker else worker
    settings = _settings()
    configure_logging(level=settings.log_level, json=settings.log_json)
    with database(settings) as (url, embedded):
        if migrate_first:
            _migrate(url, settings)
        _refuse_unopenable_keys(url, settings)
        # Child processes (reload, workers, the worker child) read settings from the
        # environment; the embedded server stays this process's to stop, after them.
        os.environ["FISCUS_DATABASE_URL"] = url
        os.environ["FISCUS_RUN_WORKER"] = "true" if mode is WorkerMode.inline else "false"
        if embedded is not None:
            os.environ.setdefault("FISCUS_SECRET_KEY", settings.resolved_secret_key)
        bind_host, bind_port = host or settings.host, port or settings.port
        err.print(
            f"fiscus {__version__} on http://{bind_host}:{bind_port}  (docs: /docs)  "
            f"database: {'embedded ' + str(embedded.pgdata) if embedded else redact_url(url)}"
            f"  jobs: {mode.value}"
        )
        options: dict[str, Any] = {
            "factory": True,
            "host": bind_host,
            "port": bind_port,
            "reload": reload,
            "workers": None if reload else workers,
            "log_config": None,
            "proxy_headers": False,
            # In-flight requests get this long after SIGTERM/SIGINT; the job worker (child
            # or lifespan) gets the same for its running jobs, at the same time.
            "timeout_graceful_shutdown": settings.shutdown_timeout_s,
        }
        child: WorkerChild | None = None
        if mode is WorkerMode.process:
            child = WorkerChild(
                [
                    sys.executable,
                    "-m",
                    "fiscus.cli",
                    "worker",
                    "--concurrency",
                    str(worker_concurrency),
                    "--parent-pid",
                    str(os.getpid()),
                ],
                env=os.environ,
            )
            child.start()
        forced = False
        started = True
        try:
            if reload or workers > 1:
                # uvicorn's supervisors stop their children on SIGTERM/SIGINT, then return
                # here; the worker child is stopped after them.
                uvicorn.run("fiscus.api:create_app", **options)
            else:

                def on_signal(_second: bool) -> None:
                    if child is not None:
                        child.request_stop()  # the worker drains alongside the requests

                server = StoppingServer(
                    uvicorn.Config("fiscus.api:create_app", **options), on_signal=on_signal
                )
                server.run()
                forced, started = server.forced, server.started
        finally:
            if child is not None:
                # Counted from the latest stop signal: after a first, the jobs' own limit
                # plus a margin; after a second, the margin only.
                child.stop(FORCED_GRACE_S + (0 if forced else settings.shutdown_timeout_s))
        if forced:
            raise typer.Exit(1)  # a second signal cut the drain short
        if not started:
            raise typer.Exit(3)


@app.command("worker")
def worker_command(
    concurrency: Annotated[int, typer.Option(min=1, max=64, help="Jobs run at once")] = 4,
    parent_pid: Annotated[
        int | None,
        typer.Option(hidden=True, help="Stop when this process (serve) is gone"),
    ] = None,
) -> None:
    """Run the background-job worker until interrupted."""
    from fiscus.core.db import Database
    from fiscus.core.keyring import KeyRing
    from fiscus.core.logging import configure_logging
    from fiscus.messaging.service import RenderLimits
    from fiscus.webhooks.delivery import DISPATCH_CONCURRENCY
    from fiscus.worker import build_job_app, run_worker

    settings = _settings()
    configure_logging(level=settings.log_level, json=settings.log_json)
    with database(settings) as (url, _):
        _refuse_unopenable_keys(url, settings)

        async def main() -> None:
            # Every job holds a connection, and a webhook dispatch holds one per lane while
            # its requests are in flight: size the pool so that jobs never wait for one.
            lanes = DISPATCH_CONCURRENCY
            db = Database(
                url, pool_size=concurrency + lanes, max_overflow=(concurrency - 1) * lanes
            )
            job_app = build_job_app(url, template_limits=RenderLimits.of(settings))
            keyring = KeyRing(settings.root_secrets)
            await keyring.load(db)
            refresher = asyncio.create_task(keyring.keep_fresh(db))
            orphaned = None if parent_pid is None else asyncio.create_task(_orphaned(parent_pid))
            try:
                async with job_app.open_async():
                    await run_worker(
                        job_app, db=db, settings=settings, keyring=keyring, concurrency=concurrency
                    )
            finally:
                refresher.cancel()
                if orphaned is not None:
                    orphaned.cancel()
                await db.dispose()

        asyncio.run(main())


async def _orphaned(parent_pid: int) -> None:
    """Stop this worker (as SIGTERM does) once `serve`, its parent, is gone.

    `serve` killed with SIGKILL cannot stop its worker child; the child then notices
    that its parent changed within a second and stops gracefully by itself.
    """
    import signal

    while os.getppid() == parent_pid:  # noqa: ASYNC110 (no event tells of a parent's death)
        await asyncio.sleep(1.0)
    err.print("fiscus serve is gone: stopping the worker")
    os.kill(os.getpid(), signal.SIGTERM)


class DumpFormat(StrEnum):
    """pg_dump output formats."""

    plain = "plain"
    custom = "custom"


@db_app.command("shell")
def db_shell() -> None:
    """Open psql on the database in use."""
    settings = _settings()
    with database(settings) as (url, _):
        code = subprocess.call([_tool("psql", url), libpq_url(url)])  # noqa: S603
    raise typer.Exit(code)


@db_app.command("dump")
def db_dump(
    fmt: Annotated[DumpFormat, typer.Option("--format", help="plain SQL or custom archive")] = (
        DumpFormat.plain
    ),
    output: Annotated[
        Path | None, typer.Option("-o", "--output", help="File to write (default: stdout)")
    ] = None,
) -> None:
    """Back up the database in use with pg_dump (plain SQL to stdout by default)."""
    settings = _settings()
    with database(settings) as (url, _):
        args = [
            _tool("pg_dump", url),
            "--dbname",
            libpq_url(url),
            "--no-owner",
            "--format",
            "p" if fmt is DumpFormat.plain else "c",
        ]
        if fmt is DumpFormat.plain:
            args += ["--clean", "--if-exists"]
        if output is None:
            if fmt is DumpFormat.custom and sys.stdout.isatty():
                err.print(
                    "[red]Refusing to write a binary archive to a terminal; use -o FILE.[/red]"
                )
                raise typer.Exit(2)
            code = subprocess.call(args)  # noqa: S603
            raise typer.Exit(code)
        _run_with_progress([*args, "--file", str(output)], output, "Dumping")
        err.print(f"Wrote {output} ({output.stat().st_size:,} bytes).")


@db_app.command("restore")
def db_restore(
    file: Annotated[
        Path, typer.Argument(exists=True, dir_okay=False, help="A dump from `db dump`")
    ],
) -> None:
    """Restore a dump made by `fiscus db dump` into the database in use (replaces its contents).

    Works on a brand-new server too (it creates the `fiscus_app` role the dump needs). The
    dump opens only with the root secret of the installation that wrote it: set
    FISCUS_SECRET_KEY to it (`fiscus keys import` restores it from its backup bundle).
    """
    from fiscus.core.backup import RestoreError, database_restore

    settings = _settings()
    with database(settings) as (url, _):
        with Progress(
            SpinnerColumn(), TextColumn("Restoring {task.description}"), console=err
        ) as p:
            p.add_task(file.name, total=None)
            try:
                result = database_restore(
                    url,
                    file,
                    psql=_tool("psql", url),
                    pg_restore=_tool("pg_restore", url),
                    roots=settings.root_secrets,
                )
            except RestoreError as error:
                err.print(f"[red]Restore failed:[/red] {error}")
                raise typer.Exit(1) from None
        err.print(f"Restored {file}.")
        if not result.keys_open:
            err.print(
                "[red]The restored keys do not open with this FISCUS_SECRET_KEY:[/red] "
                f"{result.message}"
            )
            raise typer.Exit(3)
        err.print(result.message)


def _run_with_progress(args: list[str], output: Path, label: str) -> None:
    with Progress(
        SpinnerColumn(),
        TextColumn(f"{label} {{task.description}}"),
        DownloadColumn(),
        console=err,
    ) as progress:
        task = progress.add_task(output.name, total=None)
        process = subprocess.Popen(args, stderr=subprocess.PIPE, text=True)  # noqa: S603
        while process.poll() is None:
            if output.exists():
                progress.update(task, completed=output.stat().st_size)
            try:
                process.wait(timeout=0.2)
            except subprocess.TimeoutExpired:
                continue
        stderr = process.stderr.read() if process.stderr else ""
    if process.returncode != 0:
        err.print(f"[red]{label} failed:[/red] {stderr.strip()[-2000:]}")
        raise typer.Exit(1)


def main() -> None:
    """Entry point of the `fiscus` command."""
    app()


if __name__ == "__main__":
    main()
