"""Ledger benchmark: fiscus transfers against the PostgreSQL ceiling measured by pgbench.

Not a test. It builds a dedicated database (default `fiscus_bench` on 127.0.0.1:5432),
loads 100,000 accounts, and measures with durable commits (fsync and synchronous_commit
on, which it checks):

  (a) single transfers through the service, 1/4/16 concurrent workers, Zipf(1.0) accounts
  (b) the same through the HTTP API served by a real uvicorn process
  (c) batches of 1,000 and 8,000 transfers
  (d) a hot account (every transfer touches it) against uniformly chosen accounts
  (e) balance reads (now and as_of) on an account with 1,000,000 entries
  (f) pgbench running a plain-SQL double-entry transfer on the same server and data size

and prints each fiscus figure as a ratio of the pgbench ceiling at the same client count.
Every phase is bounded by time and by operation count, so a run always ends by itself.

    .venv/bin/python bench/ledger_bench.py            # full run, ~6 minutes
    .venv/bin/python bench/ledger_bench.py --quick    # smoke run, ~1.5 minutes
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import dataclasses
import itertools
import os
import platform
import random
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg
from fastapi import FastAPI, Request
from psycopg import sql

from fiscus.access.context import Context
from fiscus.core.db import Database, libpq_url
from fiscus.core.embedded import EmbeddedPostgres
from fiscus.core.migrate import upgrade
from fiscus.ledger import queries, service
from fiscus.ledger.schemas import TransferCreate

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/fiscus_bench"
TENANT = uuid.UUID("0193a5a4-0000-7000-8000-00000000be01")
PERMISSIONS = frozenset(
    {"ledger_accounts:read", "transfers:read", "transfers:create", "transfers:manage"}
)
MAX_OPS = 200_000  # per phase, whatever the duration: runs always end
PGBENCH_SCRIPT = """\\set a random_zipfian(1, :naccounts, 1.001)
\\set b random_zipfian(1, :naccounts, 1.001)
\\set amount random(1, 1000)
BEGIN;
SELECT id FROM bench_accounts WHERE id IN (:a, :b) ORDER BY id FOR UPDATE;
UPDATE bench_accounts SET debits = debits + :amount, version = version + 1 WHERE id = :a;
UPDATE bench_accounts SET credits = credits + :amount, version = version + 1 WHERE id = :b;
INSERT INTO bench_transfers (debit_id, credit_id, amount, recorded_at)
  VALUES (:a, :b, :amount, now());
INSERT INTO bench_entries (transfer_id, account_id, direction, amount)
  VALUES (currval('bench_transfers_id_seq'), :a, 'debit', :amount),
         (currval('bench_transfers_id_seq'), :b, 'credit', :amount);
END;
"""


@dataclass
class Figure:
    """One measured phase."""

    name: str
    workers: int
    count: int
    seconds: float
    latencies_ms: list[float] = field(default_factory=list)
    unit_per_op: int = 1  # transfers per operation (batch size)

    @property
    def rate(self) -> float:
        """Transfers per second."""
        return self.count * self.unit_per_op / self.seconds if self.seconds else 0.0

    def pct(self, q: float) -> float:
        """Latency percentile in ms."""
        if not self.latencies_ms:
            return float("nan")
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


class Zipf:
    """Zipf(s) over ranks 0..n-1 by inverse CDF (exact for s = 1.0, unlike numpy's)."""

    def __init__(self, n: int, s: float = 1.0, seed: int = 7) -> None:
        self.cdf = list(itertools.accumulate(1.0 / (k**s) for k in range(1, n + 1)))
        self.random = random.Random(seed)

    def __call__(self) -> int:
        return bisect.bisect_left(self.cdf, self.random.random() * self.cdf[-1])


# ----------------------------------------------------------------------------- set-up


def recreate(url: str) -> None:
    """Drop and create the bench database."""
    parsed = psycopg.conninfo.conninfo_to_dict(libpq_url(url))
    name = str(parsed["dbname"])
    admin = psycopg.conninfo.make_conninfo(libpq_url(url), dbname="postgres")
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
        connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def load_accounts(url: str, n: int) -> list[uuid.UUID]:
    """n ledger accounts (ids in rank order), the hot/reader accounts, and pgbench's table."""
    ids = [uuid.UUID(int=(0x0193A5A4 << 96) | (i + 1)) for i in range(n + 3)]
    random.Random(3).shuffle(ids)  # rank and id order differ, like real data
    with (
        psycopg.connect(libpq_url(url)) as connection,
        connection.cursor().copy(
            "COPY ledger_accounts (tenant_id, id, code, name, currency, type, normal_side,"
            " created_at) FROM STDIN"
        ) as copy,
    ):
        for i, account_id in enumerate(ids):
            copy.write_row(
                (TENANT, account_id, f"acc-{i}", f"Account {i}", "EUR", "asset", "debit", "now")
            )
    pgbench_tables(url, n)
    with psycopg.connect(libpq_url(url), autocommit=True) as connection:
        # Only the loaded tables: statistics saying "empty" on the ledger's transfer and
        # entry tables would steer cached plans to sequential scans as they fill up.
        connection.execute("VACUUM ANALYZE ledger_accounts")
    return ids


def pgbench_tables(url: str, n: int) -> None:
    """pgbench's plain-SQL ledger: n accounts, transfers and their entries."""
    with psycopg.connect(libpq_url(url)) as connection:
        connection.execute(
            "CREATE TABLE bench_accounts (id int PRIMARY KEY, debits bigint NOT NULL DEFAULT 0,"
            " credits bigint NOT NULL DEFAULT 0, version bigint NOT NULL DEFAULT 0,"
            " code text NOT NULL, metadata jsonb NOT NULL DEFAULT '{}');"
            "CREATE TABLE bench_transfers (id bigserial PRIMARY KEY, debit_id int NOT NULL,"
            " credit_id int NOT NULL, amount bigint NOT NULL, recorded_at timestamptz NOT NULL);"
            "CREATE TABLE bench_entries (transfer_id bigint NOT NULL, account_id int NOT NULL,"
            " direction text NOT NULL, amount bigint NOT NULL,"
            " PRIMARY KEY (transfer_id, direction));"
            "CREATE INDEX ON bench_entries (account_id, transfer_id)"
        )
        connection.execute(
            "INSERT INTO bench_accounts (id, code) SELECT g, 'acc-' || g"
            " FROM generate_series(1, %s) g",
            (n,),
        )
    with psycopg.connect(libpq_url(url), autocommit=True) as connection:
        connection.execute("VACUUM ANALYZE bench_accounts")


def load_entries(url: str, reader: uuid.UUID, other: uuid.UUID, n: int) -> None:
    """n transfers reader <- other, written directly (balanced by construction).

    Triggers are skipped for this bulk load only (session_replication_role = replica):
    the point is a realistic index of n entries on one account, not the posting speed.
    """
    with psycopg.connect(libpq_url(url)) as connection:
        connection.execute("SET session_replication_role = replica")
        params = {"n": n, "t": TENANT, "r": reader, "o": other}
        for statement in LOAD_ENTRIES:
            connection.execute(statement, params)
    with psycopg.connect(libpq_url(url), autocommit=True) as connection:
        connection.execute("VACUUM ANALYZE ledger_entries")


LOAD_ENTRIES = (
    "CREATE TEMP TABLE seq AS SELECT g, uuid_generate_v7_bench(g) AS id,"
    " now() - make_interval(secs => (%(n)s - g) * 0.01) AS at FROM generate_series(1, %(n)s) g",
    "INSERT INTO ledger_transfers (tenant_id, id, kind, status, pending, currency, amount,"
    " effective_at, recorded_at)"
    " SELECT %(t)s, id, 'transfer', 'posted', false, 'EUR', 1, at, at FROM seq",
    "INSERT INTO ledger_entries (tenant_id, transfer_id, leg, account_id, currency, direction,"
    " posted_amount, pending_amount, account_version, debits_pending, debits_posted,"
    " credits_pending, credits_posted, recorded_at)"
    " SELECT %(t)s, id, 0, %(r)s, 'EUR', 'debit', 1, 0, g, 0, g, 0, 0, at FROM seq"
    " UNION ALL"
    " SELECT %(t)s, id, 1, %(o)s, 'EUR', 'credit', 1, 0, g, 0, 0, 0, g, at FROM seq",
    "UPDATE ledger_accounts SET debits_posted = %(n)s, version = %(n)s"
    " WHERE tenant_id = %(t)s AND id = %(r)s",
    "UPDATE ledger_accounts SET credits_posted = %(n)s, version = %(n)s"
    " WHERE tenant_id = %(t)s AND id = %(o)s",
)

UUID7_FUNCTION = """
CREATE OR REPLACE FUNCTION uuid_generate_v7_bench(g bigint) RETURNS uuid LANGUAGE sql AS $$
  SELECT (lpad(to_hex(g), 12, '0') || '7000' || '8000' || lpad(to_hex(g), 12, '0'))::uuid
$$;
"""


# ----------------------------------------------------------------------------- runners


async def run_phase(
    name: str,
    workers: int,
    duration_s: float,
    operation: Callable[[], Awaitable[Any]],
    *,
    unit_per_op: int = 1,
    max_ops: int = MAX_OPS,
) -> Figure:
    """`workers` tasks call `operation` until the time or the operation budget is spent."""
    latencies: list[float] = []
    budget = itertools.count()
    loop = asyncio.get_running_loop()
    deadline = loop.time() + duration_s

    async def worker() -> None:
        while loop.time() < deadline and next(budget) < max_ops:
            started = time.perf_counter()
            await operation()
            latencies.append((time.perf_counter() - started) * 1000)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(workers)))
    seconds = time.perf_counter() - started
    figure = Figure(name, workers, len(latencies), seconds, latencies, unit_per_op)
    print(
        f"  {name:<28} w={workers:<3} {figure.rate:>9.0f} transfers/s"
        f"  p50 {figure.pct(0.5):7.2f} ms  p99 {figure.pct(0.99):7.2f} ms  (n={figure.count})",
        flush=True,
    )
    return figure


def transfer_request(debit: uuid.UUID, credit: uuid.UUID, amount: int) -> TransferCreate:
    """A two-leg transfer."""
    return TransferCreate(
        debit_account_id=debit, credit_account_id=credit, amount=amount, currency="EUR"
    )


def pair(pick: Callable[[], int], ids: list[uuid.UUID]) -> tuple[uuid.UUID, uuid.UUID]:
    """Two different accounts drawn by `pick`."""
    a = pick()
    b = pick()
    while b == a:
        b = pick()
    return ids[a], ids[b]


# ----------------------------------------------------------------------------- HTTP


def bench_app() -> FastAPI:
    """The real app, with a fixed-Context authenticator (the identity module's real one
    is not what this benchmark measures). Started by uvicorn in a subprocess."""
    from fiscus.api import create_app
    from fiscus.identity import ratelimit

    app = create_app()
    # The per-address request budget protects a real deployment from one client; the
    # benchmark is exactly one client on 127.0.0.1, so it is lifted here.
    identity = app.state.identity
    app.state.identity = dataclasses.replace(
        identity, config=dataclasses.replace(identity.config, ip_requests_per_minute=10**9)
    )
    ratelimit.IP_BURST_PER_S = 10**9

    async def authenticate(request: Request) -> Context:
        return Context.system(TENANT, permissions=PERMISSIONS)

    app.state.authenticator = authenticate
    return app


def free_port() -> int:
    """An unused local TCP port."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_server(url: str, port: int) -> subprocess.Popen[bytes]:
    """uvicorn with one worker process, uvloop and httptools, waiting until it answers."""
    env = {
        **os.environ,
        "FISCUS_DATABASE_URL": url,
        "FISCUS_SECRET_KEY": "bench-" + "x" * 40,
        "FISCUS_LOG_LEVEL": "WARNING",
        "FISCUS_DB_POOL_SIZE": "20",
        "PYTHONPATH": str(ROOT / "bench"),
    }
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "--factory",
            "ledger_bench:bench_app",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--no-access-log",
            "--log-level",
            "warning",
        ],
        env=env,
        cwd=ROOT,
    )
    for _ in range(300):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/openapi.json", timeout=1).status_code == 200:
                return process
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    process.kill()
    raise RuntimeError("uvicorn did not start")


# ----------------------------------------------------------------------------- pgbench


def pgbench(
    url: str,
    clients: int,
    duration_s: int,
    n_accounts: int,
    *,
    scripts: dict[str, tuple[str, int]] | None = None,
    label: str = "pgbench plain SQL",
    unit: str = "transfers/s",
) -> Figure:
    """The PostgreSQL ceiling: plain-SQL double-entry transfers, per-transaction latencies.

    `scripts` maps a name to (SQL script, weight) for a mixed workload; the default is the
    one transfer script.
    """
    binary = EmbeddedPostgres(ROOT / ".fiscus").bin_dir / "pgbench"
    with tempfile.TemporaryDirectory() as folder:
        weighted: list[str] = []
        for name, (text, weight) in (scripts or {"transfer": (PGBENCH_SCRIPT, 1)}).items():
            (Path(folder) / f"{name}.sql").write_text(text)
            weighted += ["-f", f"{Path(folder) / name}.sql@{weight}"]
        completed = subprocess.run(
            [
                str(binary),
                "-n",
                "-c",
                str(clients),
                "-j",
                str(min(clients, 2)),
                "-T",
                str(duration_s),
                "-D",
                f"naccounts={n_accounts}",
                *weighted,
                "-l",
                "--log-prefix",
                str(Path(folder) / "log"),
                libpq_url(url),
            ],
            capture_output=True,
            text=True,
            timeout=duration_s + 60,
            check=True,
        )
        latencies = [
            int(line.split()[2]) / 1000
            for log in Path(folder).glob("log*")
            for line in log.read_text().splitlines()
        ]
    match = re.search(r"tps = ([\d.]+) \(without initial", completed.stdout)
    assert match, completed.stdout
    tps = float(match.group(1))
    figure = Figure(label, clients, int(tps * duration_s), duration_s, latencies)
    print(
        f"  {label:<28} c={clients:<3} {tps:>9.0f} {unit}"
        f"  p50 {figure.pct(0.5):7.2f} ms  p99 {figure.pct(0.99):7.2f} ms",
        flush=True,
    )
    return figure


# ----------------------------------------------------------------------------- phases


@dataclass
class Run:
    """Every figure of one run, plus what describes the run."""

    args: argparse.Namespace
    figures: dict[str, Figure] = field(default_factory=dict)
    ceiling: dict[int, Figure] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


async def service_phases(run: Run, db: Database, ids: list[uuid.UUID]) -> None:
    """(a) service singles, (c) batches, (d) hot account vs uniform."""
    ctx = Context.system(TENANT, permissions=PERMISSIONS)
    zipf = Zipf(run.args.accounts)
    amount = random.Random(5).randint

    async def single() -> None:
        debit, credit = pair(zipf, ids)
        await service.transfer_create(
            db=db, ctx=ctx, request=transfer_request(debit, credit, amount(1, 1000))
        )

    for workers in run.args.workers:
        run.figures[f"service_{workers}"] = await run_phase(
            "service, Zipf", workers, run.args.duration, single
        )
    for size in (1000, 8000):

        async def batch(size: int = size) -> None:
            transfers = [transfer_request(*pair(zipf, ids), amount(1, 1000)) for _ in range(size)]
            await service.transfer_batch(db=db, ctx=ctx, transfers=transfers, mode="independent")

        run.figures[f"batch_{size}"] = await run_phase(
            f"batch of {size}, Zipf",
            1,
            run.args.duration,
            batch,
            unit_per_op=size,
            max_ops=max(2, int(run.args.duration)),
        )
    uniform = random.Random(9).randrange
    hot = ids[-2]
    workers = max(run.args.workers)

    async def uniform_single() -> None:
        debit, credit = pair(lambda: uniform(run.args.accounts), ids)
        await service.transfer_create(db=db, ctx=ctx, request=transfer_request(debit, credit, 1))

    async def hot_single() -> None:
        await service.transfer_create(
            db=db, ctx=ctx, request=transfer_request(ids[uniform(run.args.accounts)], hot, 1)
        )

    run.figures["uniform"] = await run_phase(
        "service, uniform", workers, run.args.duration, uniform_single
    )
    run.figures["hot"] = await run_phase(
        "service, one hot account", workers, run.args.duration, hot_single
    )


async def http_phases(run: Run, url: str, ids: list[uuid.UUID]) -> None:
    """(b) the HTTP API through a real uvicorn process."""
    port = free_port()
    server = start_server(url, port)
    zipf = Zipf(run.args.accounts, seed=11)
    amount = random.Random(6).randint
    try:
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{port}",
            limits=httpx.Limits(max_connections=64, max_keepalive_connections=64),
            timeout=30,
        ) as client:

            async def post() -> None:
                debit, credit = pair(zipf, ids)
                response = await client.post(
                    "/v1/ledger/transfers",
                    json={
                        "debit_account_id": str(debit),
                        "credit_account_id": str(credit),
                        "amount": amount(1, 1000),
                        "currency": "EUR",
                    },
                    headers={"Idempotency-Key": uuid.uuid4().hex},
                )
                assert response.status_code == 201, response.text

            for workers in run.args.workers:
                run.figures[f"http_{workers}"] = await run_phase(
                    "HTTP API, Zipf", workers, run.args.duration, post
                )
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()


async def read_phase(run: Run, db: Database, url: str, ids: list[uuid.UUID]) -> None:
    """(e) balance reads, now and as_of, on an account with many entries."""
    reader, other = ids[-1], ids[-3]
    started = time.perf_counter()
    load_entries(url, reader, other, run.args.entries)
    print(
        f"  loaded {run.args.entries} entries on one account"
        f" in {time.perf_counter() - started:.0f} s"
    )
    ctx = Context.system(TENANT, permissions=PERMISSIONS)
    pick = random.Random(4).random

    async def now() -> None:
        await queries.balance_get(db=db, ctx=ctx, account_id=reader)

    async def as_of() -> None:
        from datetime import UTC, datetime, timedelta

        back = timedelta(seconds=pick() * run.args.entries * 0.01)
        await queries.balance_get(db=db, ctx=ctx, account_id=reader, as_of=datetime.now(UTC) - back)

    reads = 2000 if not run.args.quick else 500
    run.figures["read_now"] = await run_phase("balance read, now", 1, 30, now, max_ops=reads)
    run.figures["read_as_of"] = await run_phase("balance read, as_of", 1, 30, as_of, max_ops=reads)


def check_durability(url: str) -> dict[str, str]:
    """The server settings that make commits durable, and its version."""
    with psycopg.connect(libpq_url(url)) as connection:
        rows = connection.execute(
            "SELECT name, setting FROM pg_settings WHERE name IN ('fsync', 'synchronous_commit',"
            " 'wal_sync_method', 'full_page_writes', 'shared_buffers', 'max_connections')"
        ).fetchall()
        version = connection.execute("SELECT version()").fetchone()
    settings = dict(rows)
    settings["version"] = str(version[0]) if version else "?"
    assert settings["fsync"] == "on" and settings["synchronous_commit"] == "on", settings
    return settings


# ----------------------------------------------------------------------------- report


def _memory(free_output: str) -> str:
    lines = free_output.splitlines()
    return " ".join(lines[1].split()[1:4]) if len(lines) > 1 else "?"


def machine() -> list[str]:
    """nproc, memory, CPU model, load."""
    cpu = "?"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    memory = subprocess.run(["free", "-h"], capture_output=True, text=True, check=False).stdout
    return [
        f"- CPUs (`nproc`): {os.cpu_count()}; model: {cpu}",
        f"- Memory (`free -h`, total/used/free): `{_memory(memory)}`",
        f"- Python {platform.python_version()} on {platform.platform()}",
        f"- Load average at the end of the run: {' '.join(f'{x:.2f}' for x in os.getloadavg())}",
    ]


def verdict(ratio: float, target: float) -> str:
    return "meets" if ratio >= target else f"misses ({ratio / target:.0%} of target)"


def report(run: Run, settings: dict[str, str]) -> str:
    """Markdown for RESULTS.md (also printed)."""
    f, c = run.figures, run.ceiling
    best_ceiling = max(figure.rate for figure in c.values())
    lines = [
        "| figure | workers | transfers/s | p50 ms | p99 ms | ceiling/s | ratio | target"
        " | verdict |",
        "|---|---|---|---|---|---|---|---|---|",
    ]

    def row(key: str, target: float | None, ceiling: float | None) -> None:
        if key not in f:
            return
        fig = f[key]
        ratio = fig.rate / ceiling if ceiling else float("nan")
        lines.append(
            f"| {fig.name} | {fig.workers} | {fig.rate:.0f} | {fig.pct(0.5):.2f} | "
            f"{fig.pct(0.99):.2f} | {ceiling or 0:.0f} | {ratio:.2f} | "
            f"{'' if target is None else f'>= {target:g}'} | "
            f"{'' if target is None or not ceiling else verdict(ratio, target)} |"
        )

    for w in run.args.workers:
        lines.append(
            f"| pgbench plain SQL | {w} | {c[w].rate:.0f} | {c[w].pct(0.5):.2f} | "
            f"{c[w].pct(0.99):.2f} | | 1.00 | | |"
        )
    for w in run.args.workers:
        row(f"service_{w}", 0.5 if w >= 4 else None, c[w].rate)
    for w in run.args.workers:
        row(f"http_{w}", 0.35 if w >= 4 else None, c[w].rate)
    row("batch_1000", 5, best_ceiling)
    row("batch_8000", 5, best_ceiling)
    row("uniform", None, None)
    if "hot" in f and "uniform" in f:
        ratio = f["hot"].rate / f["uniform"].rate
        lines.append(
            f"| {f['hot'].name} | {f['hot'].workers} | {f['hot'].rate:.0f} | "
            f"{f['hot'].pct(0.5):.2f} | {f['hot'].pct(0.99):.2f} | uniform {f['uniform'].rate:.0f}"
            f" | {ratio:.2f} | >= 0.5 of uniform | {verdict(ratio, 0.5)} |"
        )
    for key in ("read_now", "read_as_of"):
        if key in f:
            p99 = f[key].pct(0.99)
            lines.append(
                f"| {f[key].name} ({run.args.entries:,} entries) | 1 | {f[key].rate:.0f} reads/s | "
                f"{f[key].pct(0.5):.2f} | {p99:.2f} | | | p99 < 2 ms | "
                f"{'meets' if p99 < 2 else 'misses'} |"
            )
    head = [
        "## Run",
        "",
        f"Command: `.venv/bin/python bench/ledger_bench.py {' '.join(sys.argv[1:])}`".rstrip(),
        "",
        *machine(),
        f"- PostgreSQL: {settings['version']}",
        "- Durability: "
        + ", ".join(
            f"{k}={settings[k]}"
            for k in (
                "fsync",
                "synchronous_commit",
                "wal_sync_method",
                "full_page_writes",
                "shared_buffers",
            )
        ),
        f"- Data: {run.args.accounts:,} accounts, Zipf(1.0) choice of accounts (pgbench:"
        " `random_zipfian` with s=1.001, its smallest allowed), amounts 1..1000,"
        f" {run.args.duration:g} s per phase.",
        "",
    ]
    return "\n".join(head + lines + [""] + run.notes) + "\n"


async def main_async(args: argparse.Namespace) -> None:
    url = args.database_url
    run = Run(args)
    print(f"Setting up {args.accounts:,} accounts in {url} ...", flush=True)
    recreate(url)
    upgrade(url)
    with psycopg.connect(libpq_url(url), autocommit=True) as connection:
        connection.execute(UUID7_FUNCTION)
    ids = load_accounts(url, args.accounts)
    settings = check_durability(url)
    print("PostgreSQL ceiling (pgbench, plain-SQL double-entry transfer):", flush=True)
    for clients in args.workers:
        run.ceiling[clients] = pgbench(url, clients, int(args.duration), args.accounts)
    db = Database(url, pool_size=max(args.workers) + 2, max_overflow=4)
    try:
        if "service" in args.phases:
            print("fiscus through the service:", flush=True)
            await service_phases(run, db, ids)
        if "http" in args.phases:
            print("fiscus through the HTTP API (uvicorn, 1 process):", flush=True)
            await http_phases(run, url, ids)
        if "reads" in args.phases:
            print("Balance reads:", flush=True)
            await read_phase(run, db, url, ids)
    finally:
        await db.dispose()
    text = report(run, settings)
    print(text)
    if args.write:
        args.write.write_text(text)
        print(f"Wrote {args.write}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--database-url", default=os.environ.get("FISCUS_BENCH_DATABASE_URL", DEFAULT_URL)
    )
    parser.add_argument("--quick", action="store_true", help="short phases, 100k entries")
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--duration", type=float, default=None, help="seconds per phase")
    parser.add_argument("--entries", type=int, default=None, help="entries on the read account")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 4, 16])
    parser.add_argument(
        "--phases",
        nargs="+",
        choices=["service", "http", "reads"],
        default=["service", "http", "reads"],
        help="what to measure besides pgbench",
    )
    parser.add_argument("--write", type=Path, default=None, help="write the Markdown table here")
    args = parser.parse_args()
    args.duration = args.duration or (4.0 if args.quick else 15.0)
    args.entries = args.entries or (100_000 if args.quick else 1_000_000)
    asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
