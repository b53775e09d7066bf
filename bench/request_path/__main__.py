"""`python -m bench.request_path`: fiscus's request path against a lean floor and pgbench.

In one run on one machine, on one fresh database on the PostgreSQL at 127.0.0.1:5432:

1. fiscus (`fiscus serve`, its defaults) over HTTP with real authentication: transfer POSTs
   with API keys, balance GETs with API keys and with JWTs, `GET /healthz`, each at 1, 4
   and 16 clients (closed loop: each client sends its next request when the last answered);
2. the lean floor (`floor.py`): the same balance GET done with two queries on a psycopg
   pool, at the same concurrencies, and a bare `/healthz`;
3. pgbench's double-entry transfer in plain SQL at 1, 4 and 16 clients: the ceiling;
4. round trips and statements per request, counted on the wire by a proxy in front of
   PostgreSQL (`proxy.py`), for each kind of request (`serve --no-worker`, so that only the
   request is on the wire), and the background work per transfer, amortised (default
   `serve`, until every event is relayed and every job done);
5. optionally (`--ladder`), the `bench.load` rate ladder with logins;
6. optionally (`--service`), `bench.ledger_bench`'s service phases: `transfer_create`
   in-process and batches of 1,000 and 8,000, each against its own pgbench ceiling.

Prints every figure and its ratio to the reference in the same run, and the Markdown rows for
bench/RESULTS.md; `--json FILE` keeps the raw figures.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
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

from bench.ledger_bench import (
    Figure,
    check_durability,
    free_port,
    machine,
    pgbench,
    pgbench_tables,
)
from bench.load.generator import PASSWORD, Server, bootstrap, prepare_database
from bench.request_path.proxy import CountingProxy
from fiscus.core.db import libpq_url

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/fiscus_request_path"


@dataclass
class Phase:
    """One closed-loop phase: requests answered, latencies, CPU of the server tree."""

    name: str
    clients: int
    seconds: float
    latencies_ms: list[float] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)
    server_cpu_s: float = 0.0

    @property
    def rate(self) -> float:
        return len(self.latencies_ms) / self.seconds if self.seconds else 0.0

    def pct(self, q: float) -> float:
        return Figure("", 0, 0, 0, self.latencies_ms).pct(q)

    @property
    def cpu_ms_per_request(self) -> float:
        done = len(self.latencies_ms)
        return self.server_cpu_s * 1000 / done if done else float("nan")

    def line(self) -> str:
        errors = sum(self.errors.values())
        return (
            f"  {self.name:<34} c={self.clients:<3} {self.rate:8.0f}/s"
            f"  p50 {self.pct(0.5):6.1f} ms  p99 {self.pct(0.99):7.1f} ms"
            f"  server CPU {self.cpu_ms_per_request:5.2f} ms/req  errors {errors}"
            + (f" {dict(self.errors)}" if errors else "")
        )


Send = Callable[[httpx.AsyncClient, int], Awaitable[httpx.Response]]


async def closed_loop(
    name: str,
    base_url: str,
    clients: int,
    seconds: float,
    send: Send,
    cpu: Callable[[], float],
) -> Phase:
    """`clients` clients, each on its own connection, sending back to back for `seconds`."""
    phase = Phase(name, clients, seconds)
    began_cpu = cpu()
    deadline = time.perf_counter() + seconds

    async def client(index: int) -> None:
        async with httpx.AsyncClient(base_url=base_url, timeout=30) as http:
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                try:
                    response = await send(http, index)
                except httpx.HTTPError as error:
                    kind = type(error).__name__
                    phase.errors[kind] = phase.errors.get(kind, 0) + 1
                    continue
                if response.status_code >= 300:
                    kind = str(response.status_code)
                    phase.errors[kind] = phase.errors.get(kind, 0) + 1
                    continue
                phase.latencies_ms.append((time.perf_counter() - started) * 1000)

    await asyncio.gather(*(client(i) for i in range(clients)))
    phase.server_cpu_s = cpu() - began_cpu
    print(phase.line(), flush=True)
    return phase


@dataclass
class Credentials:
    """One API key and one JWT per client, and funded accounts."""

    keys: list[str]
    tokens: list[str]
    accounts: list[str]


async def credentials(server: Server, clients: int, accounts: int) -> Credentials:
    """Operators (one per client) with sessions, an owner minting one API key per client."""
    world = await bootstrap(server, users=clients, accounts=accounts)
    server.fiscus(
        "admin",
        "create-user",
        "--tenant",
        world.slug,
        "--email",
        "owner@load.test",
        "--role",
        "owner",
        env={"FISCUS_PASSWORD": PASSWORD},
    )
    async with httpx.AsyncClient(base_url=server.base_url, timeout=60) as http:
        login = await http.post(
            "/v1/auth/login",
            json={"tenant": world.slug, "email": "owner@load.test", "password": PASSWORD},
        )
        login.raise_for_status()
        owner = {"Authorization": f"Bearer {login.json()['access_token']}"}
        keys = []
        for index in range(clients):
            created = await http.post(
                "/v1/api-keys",
                json={"name": f"integration-{index}", "role": "operator"},
                headers={**owner, "Idempotency-Key": str(uuid.uuid4())},
            )
            created.raise_for_status()
            keys.append(str(created.json()["key"]))
    return Credentials(keys, world.tokens, world.accounts)


def transfer_sender(creds: Credentials) -> Send:
    async def send(http: httpx.AsyncClient, index: int) -> httpx.Response:
        debit, credit = _pair(creds.accounts)
        return await http.post(
            "/v1/ledger/transfers",
            json={
                "debit_account_id": debit,
                "credit_account_id": credit,
                "amount": 1 + int.from_bytes(os.urandom(2)) % 1000,
                "currency": "EUR",
            },
            headers={
                "Authorization": f"Bearer {creds.keys[index]}",
                "Idempotency-Key": str(uuid.uuid4()),
            },
        )

    return send


def balance_sender(creds: Credentials, *, jwt: bool) -> Send:
    async def send(http: httpx.AsyncClient, index: int) -> httpx.Response:
        account = creds.accounts[int.from_bytes(os.urandom(4)) % len(creds.accounts)]
        secret = creds.tokens[index] if jwt else creds.keys[index]
        return await http.get(
            f"/v1/ledger/accounts/{account}/balance",
            headers={"Authorization": f"Bearer {secret}"},
        )

    return send


async def health(http: httpx.AsyncClient, _: int) -> httpx.Response:
    return await http.get("/healthz")


def _pair(accounts: list[str]) -> tuple[str, str]:
    a = int.from_bytes(os.urandom(4)) % len(accounts)
    b = int.from_bytes(os.urandom(4)) % (len(accounts) - 1)
    return accounts[a], accounts[b + (b >= a)]


class Floor:
    """The floor app under uvicorn (one process, uvloop, httptools), like `fiscus serve`."""

    def __init__(self, url: str, workdir: Path) -> None:
        self.url = url
        self.port = free_port()
        self.log = (workdir / "floor.log").open("ab")
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        env = {**os.environ, "BENCH_FLOOR_DSN": libpq_url(self.url), "PYTHONPATH": str(ROOT)}
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "--factory",
                "bench.request_path.floor:app",
                "--port",
                str(self.port),
                "--no-access-log",
                "--log-level",
                "warning",
            ],
            env=env,
            cwd=ROOT,
            stdout=self.log,
            stderr=self.log,
        )
        for _ in range(300):
            with contextlib.suppress(httpx.TransportError):
                httpx.get(self.base_url + "/healthz", timeout=1)
                return
            time.sleep(0.1)
        raise RuntimeError("the floor app did not start; see floor.log")

    def cpu_seconds(self) -> float:
        if self.process is None:
            return 0.0
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=30)
        self.log.close()


# ----------------------------------------------------------------------------- wire counts


def _proxied(url: str, port: int) -> str:
    """The database URL through the proxy, in clear text (the proxy reads the protocol)."""
    base = libpq_url(url)
    rest = base.split("@", 1)[1].split("/", 1)[1]
    user = base.split("//", 1)[1].split("@", 1)[0]
    joiner = "&" if "?" in rest else "?"
    return f"postgresql://{user}@127.0.0.1:{port}/{rest}{joiner}sslmode=disable"


def _wait_background_done(url: str, timeout_s: float = 120) -> None:
    """Until every event is relayed and no job is waiting or running."""
    deadline = time.monotonic() + timeout_s
    with psycopg.connect(libpq_url(url), autocommit=True) as connection:
        while time.monotonic() < deadline:
            left = connection.execute(
                "SELECT (SELECT count(*) FROM events WHERE position IS NULL)"
                " + (SELECT count(*) FROM procrastinate_jobs"
                "    WHERE status IN ('todo', 'doing') AND scheduled_at IS NULL)"
            ).fetchone()
            if left is not None and left[0] == 0:
                return
            time.sleep(0.5)
    raise RuntimeError("background work did not settle")


async def wire_counts(
    url: str, workdir: Path, creds: Credentials, *, requests: int = 200
) -> dict[str, Any]:
    """Round trips and statements per request, and background statements per transfer."""
    proxy = CountingProxy("127.0.0.1", 5432)
    port = proxy.start()
    results: dict[str, Any] = {}
    try:
        quiet = Server(_proxied(url, port), 1, workdir)
        _start(quiet, "--no-worker")
        try:
            async with httpx.AsyncClient(base_url=quiet.base_url, timeout=30) as http:
                for name, send in (
                    ("balance GET, API key", balance_sender(creds, jwt=False)),
                    ("balance GET, JWT", balance_sender(creds, jwt=True)),
                    ("transfer POST, API key", transfer_sender(creds)),
                ):
                    for _ in range(10):  # warm: prepared statements, pool, caches
                        (await send(http, 0)).raise_for_status()
                    proxy.reset()
                    for _ in range(requests):
                        (await send(http, 0)).raise_for_status()
                    trips, statements = proxy.snapshot().get("fiscus", (0, 0))
                    results[name] = {
                        "round_trips": trips / requests,
                        "statements": statements / requests,
                    }
                    print(
                        f"  {name:<28} {trips / requests:5.2f} round trips,"
                        f" {statements / requests:5.2f} statements per request",
                        flush=True,
                    )
        finally:
            quiet.stop()
        busy = Server(_proxied(url, port), 1, workdir)
        _start(busy)
        try:
            send = transfer_sender(creds)
            _wait_background_done(url)
            proxy.reset()
            async with httpx.AsyncClient(base_url=busy.base_url, timeout=30) as http:
                # A key per client: one key's burst budget (300/s on the enterprise plan)
                # would otherwise be the limit, not the server.
                async def one_client(index: int) -> None:
                    for _ in range(requests):
                        (await send(http, index)).raise_for_status()

                await asyncio.gather(*(one_client(i % len(creds.keys)) for i in range(4)))
            _wait_background_done(url)
            total = sum(statements for _, statements in proxy.snapshot().values())
            transfers = 4 * requests
            per_request = results["transfer POST, API key"]["statements"]
            background = total / transfers - per_request
            results["background statements per transfer"] = background
            print(
                f"  background work per transfer (amortised over {transfers}):"
                f" {background:5.2f} statements",
                flush=True,
            )
            for name, (trips, statements) in sorted(proxy.snapshot().items()):
                print(
                    f"    {name:<20} {statements:6d} statements, {trips:6d} round trips"
                    " (requests and background together)",
                    flush=True,
                )
        finally:
            busy.stop()
    finally:
        proxy.stop()
    return results


def _start(server: Server, *extra: str) -> None:
    """`fiscus serve --no-migrate [extra]` (Server.start without extra flags otherwise)."""
    server.process = subprocess.Popen(
        [sys.executable, "-m", "fiscus.cli", "serve", "--no-migrate", *extra],
        env=server.env(),
        stdout=server.log,
        stderr=server.log,
    )
    for _ in range(600):
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(server.base_url + "/readyz", timeout=2).status_code == 200:
                return
        if server.process.poll() is not None:
            raise RuntimeError("fiscus serve exited; see server.log")
        time.sleep(0.1)
    raise RuntimeError("fiscus serve did not become ready")


# ----------------------------------------------------------------------------- the run


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.request_path", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--url", default=DEFAULT_URL, help="database to (re)create and use")
    parser.add_argument("--seconds", type=float, default=15.0, help="seconds per phase")
    parser.add_argument("--clients", default="1,4,16", help="client counts, comma-separated")
    parser.add_argument("--accounts", type=int, default=1000, help="funded ledger accounts")
    parser.add_argument("--workers", type=int, default=1, help="fiscus serve --workers")
    parser.add_argument("--ladder", action="store_true", help="also run the bench.load ladder")
    parser.add_argument(
        "--service",
        action="store_true",
        help="also run bench.ledger_bench's service and batch phases (in-process, vs pgbench)",
    )
    parser.add_argument(
        "--wire-only",
        action="store_true",
        help="only the wire counts (statements per request, background work per transfer)",
    )
    parser.add_argument("--json", type=Path, default=None, help="write the raw figures here")
    parser.add_argument("--workdir", type=Path, default=None, help="keeps the server logs")
    return parser.parse_args()


async def run(args: argparse.Namespace) -> dict[str, Any]:
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="fiscus-request-path-"))
    workdir.mkdir(parents=True, exist_ok=True)
    clients = [int(c) for c in args.clients.split(",")]
    server = Server(args.url, args.workers, workdir)
    prepare_database(args.url, server)
    results: dict[str, Any] = {"postgres": check_durability(args.url), "machine": machine()}
    server.start()
    phases: list[Phase] = []
    try:
        print("bootstrapping: tenant, users, API keys, funded accounts", flush=True)
        creds = await credentials(server, max(clients), args.accounts)
        if args.wire_only:
            server.stop()
            print("the wire: round trips and statements per request", flush=True)
            results["wire"] = await wire_counts(args.url, workdir, creds)
            results["rows"] = rows([], {}, results["wire"])
            return results
        print("fiscus over HTTP (fiscus serve, real authentication)", flush=True)
        for name, send in (
            ("fiscus transfer POST, API key", transfer_sender(creds)),
            ("fiscus balance GET, API key", balance_sender(creds, jwt=False)),
            ("fiscus balance GET, JWT", balance_sender(creds, jwt=True)),
            ("fiscus GET /healthz", health),
        ):
            for c in clients:
                phases.append(
                    await closed_loop(
                        name, server.base_url, c, args.seconds, send, server.cpu_seconds
                    )
                )
    finally:
        server.stop()
    floor = Floor(args.url, workdir)
    floor.start()
    try:
        print("the lean floor (two queries on a psycopg pool)", flush=True)
        for name, send in (
            ("floor balance GET, API key", balance_sender(creds, jwt=False)),
            ("floor GET /healthz", health),
        ):
            for c in clients:
                phases.append(
                    await closed_loop(
                        name, floor.base_url, c, args.seconds, send, floor.cpu_seconds
                    )
                )
    finally:
        floor.stop()
    print("the ceiling: pgbench double-entry transfer in plain SQL", flush=True)
    pgbench_tables(args.url, args.accounts)
    ceiling = {c: pgbench(args.url, c, int(args.seconds), args.accounts) for c in clients}
    print("the wire: round trips and statements per request", flush=True)
    results["wire"] = await wire_counts(args.url, workdir, creds)
    results["phases"] = [
        {
            "name": p.name,
            "clients": p.clients,
            "rate": round(p.rate, 1),
            "p50_ms": round(p.pct(0.5), 2),
            "p99_ms": round(p.pct(0.99), 2),
            "server_cpu_ms_per_request": round(p.cpu_ms_per_request, 3),
            "errors": p.errors,
        }
        for p in phases
    ]
    results["pgbench_transfers_per_s"] = {c: round(f.rate, 1) for c, f in ceiling.items()}
    if args.ladder:
        results["ladder"] = ladder(args.workers, workdir)
    if args.service:
        results["service"] = service_report(clients, args.seconds)
    results["rows"] = rows(phases, ceiling, results["wire"])
    return results


def bench_module(module: str, *args: str) -> str:
    """Run `python -m <module> <args>` (another bench of this run); print and return its
    output."""
    done = subprocess.run(
        [sys.executable, "-m", module, *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=True,
        timeout=3600,
    )
    print(done.stdout, flush=True)
    return done.stdout


def ladder(workers: int, workdir: Path) -> dict[str, Any]:
    """`python -m bench.load` (rate ladder, logins in the mix); its JSON summary."""
    out = bench_module("bench.load", "--workers", str(workers), "--workdir", str(workdir))
    return dict(json.loads(out[out.index("\n{") + 1 :]))


def service_report(clients: list[int], seconds: float) -> str:
    """`python -m bench.ledger_bench --phases service`: its report (ratios to pgbench)."""
    return bench_module(
        "bench.ledger_bench",
        "--phases",
        "service",
        "--accounts",
        "10000",
        "--duration",
        str(seconds),
        "--workers",
        *(str(c) for c in clients),
    )


def rows(phases: list[Phase], ceiling: dict[int, Figure], wire: dict[str, Any]) -> list[str]:
    """The Markdown rows for bench/RESULTS.md, each figure with its ratio."""
    by = {(p.name, p.clients): p for p in phases}
    out = [
        "| figure | clients | fiscus | reference (same run) | ratio |",
        "|---|---|---|---|---|",
    ]
    for c, figure in ceiling.items():
        p = by.get(("fiscus transfer POST, API key", c))
        if p:
            out.append(
                f"| transfer POST, HTTP, API key | {c} | {p.rate:,.0f}/s (p99 {p.pct(0.99):.0f} ms)"
                f" | pgbench transfer {figure.rate:,.0f}/s | {p.rate / figure.rate:.2f} |"
            )
    for (name, c), p in sorted(by.items()):
        if not name.startswith("fiscus balance") and name != "fiscus GET /healthz":
            continue
        floor_name = "floor balance GET, API key" if "balance" in name else "floor GET /healthz"
        ref = by.get((floor_name, c))
        if ref:
            out.append(
                f"| {name.removeprefix('fiscus ')} | {c} | {p.rate:,.0f}/s,"
                f" {p.cpu_ms_per_request:.2f} ms CPU | floor {ref.rate:,.0f}/s,"
                f" {ref.cpu_ms_per_request:.2f} ms CPU | {p.rate / ref.rate:.2f} |"
            )
    for name, figures in wire.items():
        if isinstance(figures, dict):
            out.append(
                f"| {name}: round trips / statements | 1 | {figures['round_trips']:.2f} /"
                f" {figures['statements']:.2f} | floor balance GET: 2 / 2 | |"
            )
        else:
            out.append(f"| {name} | 4 | {figures:.2f} | target <= 3 | |")
    return out


def main() -> None:
    args = parse()
    began = time.monotonic()
    results = asyncio.run(run(args))
    results["wall_minutes"] = round((time.monotonic() - began) / 60, 1)
    print("\n".join(results["rows"]))
    if args.json is not None:
        args.json.write_text(json.dumps(results, indent=2, default=str))


if __name__ == "__main__":
    main()
