"""`python -m bench.growth`: how cost grows with size (issue 12, "Growth").

On one fresh database on the PostgreSQL at 127.0.0.1:5432 (dropped at the end), in one run:

1. accounts: one tenant grown to 10 k, 100 k and 1 M accounts (COPY, see build.py); at each
   size, the ledger service's `transfer_create` in-process with 4 clients for a fixed time
   (accounts drawn uniformly, so the working set grows with the size), pgbench's plain-SQL
   double-entry transfer on a table of as many accounts (the ceiling at that size), and
   balance reads (`queries.balance_get`, 1 client) of uniformly drawn accounts;
2. history: one account of another tenant grown to 1 M and 10 M entries (set-based
   postings with the ledger's triggers on, balances checked against the entries by
   `queries.ledger_verify_chunk` at the end of each build); at each size, pages of
   `queries.entries_page` (the API's history listing, default page size) at random
   positions, deep ones included, and the query's EXPLAIN at the largest size;
3. a statement stream: 10 k, 50 k and 100 k lines of that account streamed page by page
   (`entries_page`, the largest page) into a CSV writer; peak tracemalloc and RSS growth.

Prints the figures and their ratios (largest size against smallest), writes the Markdown
rows (`--write`) and the curves as PNGs (`bench/growth_*.png`). `--sizes small` runs small
sizes in about a minute; the full run took 12 minutes on 2 busy cores (bench/RESULTS.md).
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import gc
import os
import random
import sys
import tempfile
import time
import tracemalloc
import uuid
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import psutil
import psycopg
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from sqlalchemy import select
from sqlalchemy.dialects import postgresql

from bench.growth import build
from bench.growth.plot import curves
from bench.ledger_bench import (
    PERMISSIONS,
    PGBENCH_SCRIPT,
    Figure,
    check_durability,
    machine,
    pgbench,
    pgbench_tables,
    recreate,
    run_phase,
    transfer_request,
)
from fiscus.access.context import Context
from fiscus.core.db import TENANT_SQL, Database, libpq_url
from fiscus.core.migrate import upgrade
from fiscus.core.pagination import DEFAULT_LIMIT, MAX_LIMIT, cursor_tag, encode_cursor
from fiscus.ledger import queries, service
from fiscus.ledger.models import LedgerEntry

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/fiscus_growth"
# The history tenant sorts before the accounts tenant: verifying its two accounts is the
# first chunk of `ledger_verify_chunk` in key order.
HISTORY_TENANT = uuid.UUID("00000000-0000-7000-8000-00000000a001")
TENANT = uuid.UUID("0193a5a4-0000-7000-8000-00000000a002")
HISTORY, OTHER = uuid.UUID(int=1, version=4), uuid.UUID(int=2, version=4)
SIZES = {
    "full": {
        "accounts": [10_000, 100_000, 1_000_000],
        "entries": [1_000_000, 10_000_000],
        "lines": [10_000, 50_000, 100_000],
    },
    "small": {
        "accounts": [1_000, 10_000],
        "entries": [50_000, 200_000],
        "lines": [2_000, 10_000, 20_000],
    },
}
UNIFORM_SCRIPT = PGBENCH_SCRIPT.replace(
    "random_zipfian(1, :naccounts, 1.001)", "random(1, :naccounts)"
)
VERSION = LedgerEntry.__table__.c.account_version
T = TypeVar("T")


@dataclass
class AccountsPoint:
    """Figures at one number of accounts."""

    accounts: int
    transfers: Figure
    reads: Figure
    ceiling: Figure


@dataclass
class HistoryPoint:
    """Figures at one number of entries on the history account."""

    entries: int
    build_s: float
    pages: Figure
    deep: Figure  # the pages in the oldest tenth of the history


@dataclass
class StreamPoint:
    """One statement stream."""

    lines: int
    seconds: float
    peak_bytes: int  # tracemalloc peak while streaming
    rss_growth: int  # highest RSS during the stream minus RSS before it
    csv_bytes: int
    # seconds and RSS from an untraced stream, the peak from a stream under tracemalloc

    @property
    def per_line(self) -> float:
        return self.peak_bytes / self.lines


@dataclass
class Run:
    """Everything one run measured."""

    args: argparse.Namespace
    accounts: list[AccountsPoint] = field(default_factory=list)
    history: list[HistoryPoint] = field(default_factory=list)
    stream: list[StreamPoint] = field(default_factory=list)
    explain: list[str] = field(default_factory=list)
    settings: dict[str, str] = field(default_factory=dict)
    started: float = field(default_factory=time.time)


def progress() -> Progress:
    return Progress(
        TextColumn("{task.description:<44}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        transient=True,
    )


async def timed(bar: Progress, label: str, seconds: float, work: Awaitable[T]) -> T:
    """Await `work` (a phase of about `seconds`) with a bar advancing with the clock."""
    task = bar.add_task(label, total=int(seconds))
    started = time.perf_counter()

    async def tick() -> None:
        while True:
            bar.update(task, completed=min(int(seconds), int(time.perf_counter() - started)))
            await asyncio.sleep(0.5)

    ticker = asyncio.create_task(tick())
    try:
        return await work
    finally:
        ticker.cancel()
        bar.remove_task(task)


@contextmanager
def step(bar: Progress, label: str, total: int) -> Iterator[Callable[[int], None]]:
    """A counted bar; yields its `advance`."""
    task = bar.add_task(label, total=total)
    try:
        yield lambda n: bar.advance(task, n)
    finally:
        bar.remove_task(task)


# ----------------------------------------------------------------------------- 1. accounts


async def accounts_phase(run: Run, url: str, bar: Progress) -> None:
    args = run.args
    ids = build.account_ids(max(args.accounts))
    ctx = Context.system(TENANT, permissions=PERMISSIONS)
    db = Database(url, pool_size=args.clients + 2, max_overflow=2)
    loaded = 0
    try:
        for size in args.accounts:
            with step(bar, f"accounts: COPY up to {size:,}", size - loaded) as advance:
                build.add_accounts(url, TENANT, ids[loaded:size], loaded, advance)
            loaded = size
            print(f"{size:,} accounts:", flush=True)
            with psycopg.connect(libpq_url(url), autocommit=True) as connection:
                connection.execute(
                    "DROP TABLE IF EXISTS bench_accounts, bench_transfers, bench_entries"
                )
            pgbench_tables(url, size)
            ceiling = await timed(
                bar,
                f"pgbench transfer, {size:,} accounts",
                args.seconds,
                asyncio.to_thread(
                    pgbench,
                    url,
                    args.clients,
                    int(args.seconds),
                    size,
                    scripts={"uniform": (UNIFORM_SCRIPT, 1)},
                    label="pgbench plain SQL, uniform",
                ),
            )
            draw = random.Random(size).randrange

            async def transfer(size: int = size, draw: Callable[[int], int] = draw) -> None:
                debit = draw(size)
                credit = (debit + 1 + draw(size - 1)) % size
                await service.transfer_create(
                    db=db, ctx=ctx, request=transfer_request(ids[debit], ids[credit], 1 + draw(999))
                )

            async def read(size: int = size, draw: Callable[[int], int] = draw) -> None:
                await queries.balance_get(db=db, ctx=ctx, account_id=ids[draw(size)])

            transfers = await timed(
                bar,
                f"service transfers, {size:,} accounts",
                args.seconds,
                run_phase("service, uniform", args.clients, args.seconds, transfer),
            )
            reads = await timed(
                bar,
                f"balance reads, {size:,} accounts",
                args.read_seconds,
                run_phase("balance read (reads/s)", 1, args.read_seconds, read),
            )
            run.accounts.append(AccountsPoint(size, transfers, reads, ceiling))
    finally:
        await db.dispose()


# ----------------------------------------------------------------------------- 2. history


def history_sql(position: int, limit: int) -> str:
    """The statement `entries_page` sends for the page below `position` (literal values)."""
    statement = (
        select(LedgerEntry)
        .where(
            LedgerEntry.tenant_id == HISTORY_TENANT,
            LedgerEntry.account_id == HISTORY,
            position > VERSION,
        )
        .order_by(VERSION.desc())
        .limit(limit + 1)
    )
    compiled = statement.compile(
        dialect=postgresql.psycopg.dialect(), compile_kwargs={"literal_binds": True}
    )
    return str(compiled)


def explain(url: str, position: int) -> list[str]:
    """EXPLAIN (ANALYZE, BUFFERS) of a history page, as the tenant role under RLS."""
    with psycopg.connect(libpq_url(url)) as connection:
        connection.execute(TENANT_SQL, (str(HISTORY_TENANT),))
        rows = connection.execute(
            "EXPLAIN (ANALYZE, BUFFERS) " + history_sql(position, DEFAULT_LIMIT)
        ).fetchall()
        connection.rollback()
    return [str(row[0]) for row in rows]


async def verify_history(db: Database, entries: int) -> None:
    """Both history accounts' balances equal the sums of their entries."""
    checked, differences, _ = await queries.ledger_verify_chunk(
        db=db, after=(HISTORY_TENANT, uuid.UUID(int=0)), batch=2
    )
    assert checked == 2 and not differences, (checked, differences)
    balance = await queries.balance_get(
        db=db, ctx=Context.system(HISTORY_TENANT, permissions=PERMISSIONS), account_id=HISTORY
    )
    assert balance.debits_posted == entries, balance
    print(f"  verified: stored balances = sums of entries ({entries:,} on the account)")


async def page_latencies(
    db: Database, entries: int, pages: int, bar: Progress
) -> tuple[Figure, Figure]:
    """`pages` history pages: the newest, then random positions (uniform over the history)."""
    ctx = Context.system(HISTORY_TENANT, permissions=PERMISSIONS)
    tag = cursor_tag([VERSION])
    pick = random.Random(entries).randint
    every: list[float] = []
    deep: list[float] = []
    with step(bar, f"history pages, {entries:,} entries", pages) as advance:
        started = time.perf_counter()
        for i in range(pages):
            position = entries + 1 if i == 0 else pick(2, entries)
            cursor = None if i == 0 else encode_cursor([position], tag=tag)
            began = time.perf_counter()
            rows, _ = await queries.entries_page(
                db=db, ctx=ctx, account_id=HISTORY, limit=DEFAULT_LIMIT, cursor=cursor
            )
            took = (time.perf_counter() - began) * 1000
            assert rows and rows[0].account_version == position - 1, (position, rows[:1])
            every.append(took)
            if position <= entries // 10:
                deep.append(took)
            advance(1)
        seconds = time.perf_counter() - started
    return (
        Figure("history page", 1, len(every), seconds, every),
        Figure("history page, oldest tenth", 1, len(deep), seconds, deep),
    )


async def history_phase(run: Run, url: str, bar: Progress) -> None:
    args = run.args
    with psycopg.connect(libpq_url(url)) as connection:
        for i, account in enumerate((HISTORY, OTHER)):
            connection.execute(
                "INSERT INTO ledger_accounts (tenant_id, id, code, name, currency, type,"
                " normal_side, created_at) VALUES (%s, %s, %s, %s, 'EUR', 'asset', 'debit', now())",
                (HISTORY_TENANT, account, f"history-{i}", f"History {i}"),
            )
    db = Database(url, pool_size=2, max_overflow=0)
    built = 0
    try:
        for size in args.entries:
            started = time.perf_counter()
            with step(bar, f"entries: posting up to {size:,}", size - built) as advance:
                build.add_entries(url, HISTORY_TENANT, HISTORY, OTHER, built, size, advance)
            build_s = time.perf_counter() - started
            built = size
            print(f"{size:,} entries on one account (built in {build_s:.0f} s):", flush=True)
            await verify_history(db, size)
            pages, deep = await page_latencies(db, size, args.pages, bar)
            for figure in (pages, deep):
                print(
                    f"  {figure.name:<28} p50 {figure.pct(0.5):6.2f} ms"
                    f"  p99 {figure.pct(0.99):6.2f} ms  (n={figure.count})",
                    flush=True,
                )
            run.history.append(HistoryPoint(size, build_s, pages, deep))
        if args.stream:
            await stream_phase(run, db, bar)
    finally:
        await db.dispose()
    largest = max(args.entries)
    for position in (largest + 1, 2 + DEFAULT_LIMIT):
        run.explain += [
            f"-- page below version {position:,} of {largest:,}",
            *explain(url, position),
        ]
    print("\n".join(run.explain))


# ----------------------------------------------------------------------------- 3. stream


async def stream_once(db: Database, lines: int, sink: Path, measure: bool) -> StreamPoint:
    """Stream the newest `lines` entries page by page into a CSV file."""
    ctx = Context.system(HISTORY_TENANT, permissions=PERMISSIONS)
    process = psutil.Process()
    gc.collect()
    rss_before = rss_high = process.memory_info().rss
    if measure:
        tracemalloc.start()
    started = time.perf_counter()
    written = 0
    cursor: str | None = None
    with sink.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(("recorded_at", "transfer_id", "leg", "direction", "amount", "currency",
                         "version", "balance"))  # fmt: skip
        while written < lines:
            rows, cursor = await queries.entries_page(
                db=db, ctx=ctx, account_id=HISTORY, limit=min(MAX_LIMIT, lines - written),
                cursor=cursor,
            )  # fmt: skip
            writer.writerows(
                (e.recorded_at.isoformat(), e.transfer_id, e.leg, e.direction, e.posted_amount,
                 e.currency, e.account_version, e.balance)
                for e in rows
            )  # fmt: skip
            written += len(rows)
            rss_high = max(rss_high, process.memory_info().rss)
            if cursor is None:
                break
        size = handle.tell()
    seconds = time.perf_counter() - started
    peak = 0
    if measure:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    assert written == lines, (written, lines)
    return StreamPoint(lines, seconds, peak, rss_high - rss_before, size)


async def stream_phase(run: Run, db: Database, bar: Progress) -> None:
    """Each size twice: untraced (time, RSS), then under tracemalloc (peak Python memory)."""
    print("Statement stream (entries_page, 200 a page, into a CSV file):", flush=True)
    with tempfile.TemporaryDirectory() as folder:
        sink = Path(folder) / "statement.csv"
        with step(bar, "stream: warm-up", 1) as advance:
            await stream_once(db, min(run.args.lines), sink, measure=False)
            advance(1)
        for lines in run.args.lines:
            with step(bar, f"stream: {lines:,} lines, untraced then traced", 2) as advance:
                plain = await stream_once(db, lines, sink, measure=False)
                advance(1)
                traced = await stream_once(db, lines, sink, measure=True)
                advance(1)
            point = StreamPoint(
                lines, plain.seconds, traced.peak_bytes, plain.rss_growth, plain.csv_bytes
            )
            print(
                f"  {lines:>9,} lines  {point.seconds:6.1f} s"
                f"  peak {point.peak_bytes / 1024:8.0f} KiB"
                f"  RSS +{point.rss_growth / 1024:6.0f} KiB"
                f"  CSV {point.csv_bytes / 1e6:5.1f} MB",
                flush=True,
            )
            run.stream.append(point)


# ----------------------------------------------------------------------------- report


def ratio(last: float, first: float) -> str:
    return f"{last / first:.2f}" if first else "n/a"


def marginal(first: StreamPoint, point: StreamPoint) -> str:
    """Extra peak bytes per extra line over the smallest stream (0 when memory is flat)."""
    if point.lines == first.lines:
        return ""
    return f"{(point.peak_bytes - first.peak_bytes) / (point.lines - first.lines):.2f}"


def report(run: Run) -> str:
    """The Markdown rows for bench/RESULTS.md."""
    out = [
        f"Command: `.venv/bin/python -m bench.growth {' '.join(sys.argv[1:])}`".rstrip(),
        "",
        *machine(),
        f"- PostgreSQL: {run.settings.get('version', '?')}; fsync={run.settings.get('fsync')},"
        f" synchronous_commit={run.settings.get('synchronous_commit')},"
        f" shared_buffers={run.settings.get('shared_buffers')}",
        f"- Run time: {(time.time() - run.started) / 60:.1f} min, ended"
        f" {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}",
        "",
    ]
    if run.accounts:
        a = run.accounts
        out += [
            f"Accounts: service `transfer_create` in-process, {run.args.clients} clients,"
            f" {run.args.seconds:g} s; pgbench's plain-SQL transfer, same clients and time;"
            f" balance reads 1 client, {run.args.read_seconds:g} s; accounts drawn uniformly.",
            "",
            "| accounts | service transfers/s | p99 ms | pgbench transfers/s | service/pgbench"
            " | balance read p50 ms | p99 ms | reads/s |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for p in a:
            out.append(
                f"| {p.accounts:,} | {p.transfers.rate:.0f} | {p.transfers.pct(0.99):.1f} |"
                f" {p.ceiling.rate:.0f} | {ratio(p.transfers.rate, p.ceiling.rate)} |"
                f" {p.reads.pct(0.5):.2f} | {p.reads.pct(0.99):.2f} | {p.reads.rate:.0f} |"
            )
        out.append(
            f"| **{a[-1].accounts:,} / {a[0].accounts:,}** |"
            f" **{ratio(a[-1].transfers.rate, a[0].transfers.rate)}** | |"
            f" {ratio(a[-1].ceiling.rate, a[0].ceiling.rate)} | |"
            f" {ratio(a[-1].reads.pct(0.5), a[0].reads.pct(0.5))} |"
            f" **{ratio(a[-1].reads.pct(0.99), a[0].reads.pct(0.99))}** | |"
        )
        out.append("")
    if run.history:
        h = run.history
        out += [
            f"History: `queries.entries_page`, {DEFAULT_LIMIT} a page (the API default), 1 client,"
            f" {run.args.pages:,} pages per size: the newest page, then cursors at uniformly"
            " random versions; 'oldest tenth' is the subset below a tenth of the history.",
            "",
            "| entries on the account | build s | page p50 ms | p99 ms | oldest tenth p50 ms"
            " | p99 ms | pages |",
            "|---|---|---|---|---|---|---|",
        ]
        for hp in h:
            out.append(
                f"| {hp.entries:,} | {hp.build_s:.0f} | {hp.pages.pct(0.5):.2f} |"
                f" {hp.pages.pct(0.99):.2f} | {hp.deep.pct(0.5):.2f} | {hp.deep.pct(0.99):.2f} |"
                f" {hp.pages.count} |"
            )
        out.append(
            f"| **{h[-1].entries:,} / {h[0].entries:,}** | |"
            f" {ratio(h[-1].pages.pct(0.5), h[0].pages.pct(0.5))} |"
            f" **{ratio(h[-1].pages.pct(0.99), h[0].pages.pct(0.99))}** |"
            f" {ratio(h[-1].deep.pct(0.5), h[0].deep.pct(0.5))} |"
            f" {ratio(h[-1].deep.pct(0.99), h[0].deep.pct(0.99))} | |"
        )
        out.append("")
    if run.stream:
        s = run.stream
        out += [
            f"Statement stream: the newest N entries through `entries_page` ({MAX_LIMIT} a page)"
            " into `csv.writer` on a file; tracemalloc peak while streaming, RSS growth over"
            " the RSS before the stream (after a warm-up stream).",
            "",
            "| lines | seconds (untraced) | lines/s | tracemalloc peak KiB | peak / lines B"
            " | marginal B/line | RSS growth KiB | CSV MB |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for sp in s:
            out.append(
                f"| {sp.lines:,} | {sp.seconds:.1f} | {sp.lines / sp.seconds:,.0f} |"
                f" {sp.peak_bytes / 1024:,.0f} | {sp.per_line:.1f} | {marginal(s[0], sp)} |"
                f" {sp.rss_growth / 1024:,.0f} | {sp.csv_bytes / 1e6:.1f} |"
            )
        out.append(
            f"| **{s[-1].lines:,} / {s[0].lines:,}** | {ratio(s[-1].seconds, s[0].seconds)} | |"
            f" **{ratio(s[-1].peak_bytes, s[0].peak_bytes)}** | | | | |"
        )
        out.append("")
    if run.explain:
        out += ["```", *run.explain, "```", ""]
    return "\n".join(out)


def plots(run: Run, folder: Path) -> list[Path]:
    """The PNG curves of whatever was measured."""
    made: list[Path] = []
    note = f"{os.cpu_count()} CPUs, load {' '.join(f'{x:.2f}' for x in os.getloadavg())}"
    if run.accounts:
        a = run.accounts
        path = folder / "growth_accounts.png"
        curves(
            path,
            "Cost against the number of accounts (one tenant)",
            "accounts",
            [p.accounts for p in a],
            [
                (
                    "transfers/s",
                    [
                        (f"service, {run.args.clients} clients", [p.transfers.rate for p in a]),
                        (f"pgbench, {run.args.clients} clients", [p.ceiling.rate for p in a]),
                    ],
                ),
                (
                    "balance read ms (1 client)",
                    [
                        ("p50", [p.reads.pct(0.5) for p in a]),
                        ("p99", [p.reads.pct(0.99) for p in a]),
                    ],
                ),
            ],
            note=note,
        )
        made.append(path)
    if run.history:
        h = run.history
        path = folder / "growth_history.png"
        curves(
            path,
            f"History page ({DEFAULT_LIMIT} entries) against entries on the account",
            "entries on the account",
            [p.entries for p in h],
            [
                (
                    "page ms (1 client)",
                    [
                        ("p50", [p.pages.pct(0.5) for p in h]),
                        ("p99", [p.pages.pct(0.99) for p in h]),
                        ("p99, oldest tenth", [p.deep.pct(0.99) for p in h]),
                    ],
                ),
            ],
            note=note,
        )
        made.append(path)
    if run.stream:
        s = run.stream
        path = folder / "growth_stream.png"
        curves(
            path,
            "Statement stream memory against lines",
            "lines",
            [p.lines for p in s],
            [
                (
                    "KiB",
                    [
                        ("tracemalloc peak", [p.peak_bytes / 1024 for p in s]),
                        ("RSS growth", [p.rss_growth / 1024 for p in s]),
                    ],
                ),
                (
                    "bytes per line (tracemalloc peak / lines)",
                    [
                        ("bytes/line", [p.per_line for p in s]),
                    ],
                ),
            ],
            log_x=False,
            note=note,
        )
        made.append(path)
    return made


async def main_async(args: argparse.Namespace) -> None:
    url = args.database_url
    run = Run(args)
    print(f"Fresh database {url}", flush=True)
    recreate(url)
    try:
        upgrade(url)
        run.settings = check_durability(url)
        with progress() as bar:
            if "accounts" in args.phases:
                await accounts_phase(run, url, bar)
            if "history" in args.phases:
                await history_phase(run, url, bar)
    finally:
        if not args.keep:
            build.drop(url)
            print(f"Dropped {url}", flush=True)
    text = report(run)
    print(text)
    for path in plots(run, args.plots):
        print(f"Wrote {path}")
    if args.write:
        args.write.write_text(text)
        print(f"Wrote {args.write}")


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.growth",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--database-url",
        default=os.environ.get("FISCUS_GROWTH_DATABASE_URL", DEFAULT_URL),
        help="database to create, use and drop (default %(default)s)",
    )
    parser.add_argument(
        "--sizes",
        choices=sorted(SIZES),
        default="full",
        help="full: 10k/100k/1M accounts, 1M/10M entries, 10k/50k/100k lines (~12 min);"
        " small: a quick run (~1 min)",
    )
    parser.add_argument("--accounts", type=int, nargs="+", help="account counts (override)")
    parser.add_argument("--entries", type=int, nargs="+", help="entry counts (override)")
    parser.add_argument("--lines", type=int, nargs="+", help="statement lines (override)")
    parser.add_argument(
        "--phases",
        nargs="+",
        choices=["accounts", "history"],
        default=["accounts", "history"],
        help="what to measure (history includes the statement stream)",
    )
    parser.add_argument("--no-stream", dest="stream", action="store_false")
    parser.add_argument("--clients", type=int, default=4, help="transfer clients (default 4)")
    parser.add_argument("--seconds", type=float, help="per transfer phase (20 full, 5 small)")
    parser.add_argument("--read-seconds", type=float, help="per read phase (10 full, 3 small)")
    parser.add_argument("--pages", type=int, help="history pages per size (2000 full, 300 small)")
    parser.add_argument("--keep", action="store_true", help="keep the database at the end")
    parser.add_argument("--write", type=Path, help="write the Markdown rows here")
    parser.add_argument(
        "--plots", type=Path, default=ROOT / "bench", help="folder of the PNGs (default bench/)"
    )
    args = parser.parse_args()
    small = args.sizes == "small"
    for name in ("accounts", "entries", "lines"):
        setattr(args, name, sorted(getattr(args, name) or SIZES[args.sizes][name]))
    args.seconds = args.seconds or (5.0 if small else 20.0)
    args.read_seconds = args.read_seconds or (3.0 if small else 10.0)
    args.pages = args.pages or (300 if small else 2000)
    if args.stream and "history" in args.phases and max(args.lines) > max(args.entries):
        parser.error("--lines cannot exceed the largest --entries")
    asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
