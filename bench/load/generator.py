"""Open-loop load against `fiscus serve`: the highest rate within the SLO, and a soak.

The mix is what a bank's API sees: 70% reads (40% balances, 30% history pages), 25%
transfers, 5% account openings and logins. Arrivals are Poisson at a fixed rate
(open loop), and each latency is measured from the moment the request was *due*, so a
server that stalls is charged for the requests queued behind the stall (no coordinated
omission). A step passes when p99 < 100 ms and nothing failed: no transport error, no
timeout, no 5xx and no 4xx (the generator only sends requests that must succeed).

Logins are held to their own figure, not to the 100 ms: a login verifies an argon2id hash
(OWASP's parameters: 19 MiB, 2 passes, 1 lane; `identity/passwords.py`), tens of
milliseconds of CPU by design, in a bounded pool so that a burst of logins queues there
instead of stalling other requests. Their p99 is reported beside every step.

The ceiling is pgbench running the same mix in plain SQL (balance read, history page,
double-entry transfer, account insert) on the same server in the same run.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import httpx
import psycopg

from bench.ledger_bench import (
    PGBENCH_SCRIPT,
    Figure,
    free_port,
    pgbench,
    pgbench_tables,
    recreate,
)
from fiscus.core.db import libpq_url

PASSWORD = "load-" + "q" * 24
FUNDING_MINOR = 10**12
SLO_P99_MS = 100.0
MIX: dict[str, float] = {
    "balance": 0.40,
    "history": 0.30,
    "transfer": 0.25,
    "open_account": 0.025,
    "login": 0.025,
}
MAX_IN_FLIGHT = 1024

PGBENCH_MIX = {
    "balance": (
        "\\set a random(1, :naccounts)\n"
        "SELECT debits, credits FROM bench_accounts WHERE id = :a;\n",
        40,
    ),
    "history": (
        "\\set a random(1, :naccounts)\n"
        "SELECT transfer_id, direction, amount FROM bench_entries WHERE account_id = :a"
        " ORDER BY transfer_id DESC LIMIT 20;\n",
        30,
    ),
    "transfer": (PGBENCH_SCRIPT, 25),
    # Logins have no plain-SQL counterpart (their cost is argon2id, by design): the 5% of
    # writes that are not transfers are account openings here.
    "open_account": (
        "INSERT INTO bench_accounts (id, code) VALUES (nextval('bench_account_ids'), 'new');\n",
        5,
    ),
}


@dataclass
class Step:
    """One rate held for a while: what was sent, how long it took, what failed."""

    rate: float
    seconds: float
    latencies_ms: dict[str, list[float]] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=dict)
    error_samples: list[str] = field(default_factory=list)
    sent: int = 0
    client_cpu_s: float = 0.0
    server_cpu_s: float = 0.0
    database_cpu_s: float = 0.0

    @property
    def all_latencies(self) -> list[float]:
        return [x for values in self.latencies_ms.values() for x in values]

    @property
    def slo_latencies(self) -> list[float]:
        """Every operation's latency but the logins' (see the module docstring)."""
        return [x for op, values in self.latencies_ms.items() if op != "login" for x in values]

    def pct(self, q: float, op: str | None = None) -> float:
        """Percentile of one operation, or of the SLO set (everything but logins)."""
        values = self.latencies_ms.get(op, []) if op else self.slo_latencies
        return Figure("", 0, 0, 0, values).pct(q)

    @property
    def achieved(self) -> float:
        return len(self.all_latencies) / self.seconds if self.seconds else 0.0

    @property
    def error_count(self) -> int:
        return sum(self.errors.values())

    @property
    def passed(self) -> bool:
        return self.error_count == 0 and self.pct(0.99) < SLO_P99_MS

    def line(self) -> str:
        ops = "  ".join(
            f"{op} p99 {self.pct(0.99, op):.0f}" for op in MIX if self.latencies_ms.get(op)
        )
        return (
            f"rate {self.rate:7.1f}/s  achieved {self.achieved:7.1f}/s  "
            f"p50 {self.pct(0.5):6.1f} ms  p99 {self.pct(0.99):7.1f} ms  "
            f"login p99 {self.pct(0.99, 'login'):6.0f} ms  "
            f"errors {self.error_count}  cpu client {self.client_cpu_s / self.seconds:.2f}"
            f" server {self.server_cpu_s / self.seconds:.2f}"
            f" database {self.database_cpu_s / self.seconds:.2f}  "
            f"{'PASS' if self.passed else 'FAIL'}  [{ops}]"
            + (f"  errors by kind {dict(sorted(self.errors.items()))}" if self.errors else "")
        )


class Server:
    """`fiscus serve --workers N` on its own database, and what its processes use."""

    def __init__(
        self, url: str, workers: int, workdir: Path, extra_env: dict[str, str] | None = None
    ) -> None:
        self.url = url
        self.workers = workers
        self.extra_env = extra_env or {}
        self.port = free_port()
        self.log = (workdir / "server.log").open("ab")
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("FISCUS_")}
        env.update(
            {
                "FISCUS_DATABASE_URL": self.url,
                "FISCUS_SECRET_KEY": "load-" + "k" * 44,
                "FISCUS_ENV": "production",
                "FISCUS_PORT": str(self.port),
                "FISCUS_LOG_LEVEL": "WARNING",
                # One load generator on 127.0.0.1 stands for many clients.
                "FISCUS_IP_REQUESTS_PER_MINUTE": "10000000",
                # One bench client is one integration sending back to back, faster than
                # the enterprise plan's 300/s burst: measured here is the request path,
                # not the plan (tests/identity/test_plans.py tests the plans).
                "FISCUS_PLAN_LIMITS": json.dumps(
                    {
                        plan: {"per_minute": 10_000_000, "burst_per_s": 1_000_000}
                        for plan in ("free", "standard", "enterprise")
                    }
                ),
            }
        )
        env.update(self.extra_env)  # `--server-env`: what a run varies on purpose
        return env

    def fiscus(self, *args: str, env: dict[str, str] | None = None) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "fiscus.cli", *args],
            capture_output=True,
            text=True,
            env={**self.env(), **(env or {})},
            timeout=600,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"fiscus {' '.join(args)} failed: {done.stderr[-2000:]}")
        return done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "fiscus.cli",
                "serve",
                "--no-migrate",
                "--workers",
                str(self.workers),
            ],
            env=self.env(),
            stdout=self.log,
            stderr=self.log,
        )
        for _ in range(600):
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(self.base_url + "/readyz", timeout=2).status_code == 200:
                    return
            if self.process.poll() is not None:
                raise RuntimeError("fiscus serve exited; see server.log")
            time.sleep(0.1)
        raise RuntimeError("fiscus serve did not become ready")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
        self.log.close()

    def pids(self) -> list[int]:
        """The server process and all its descendants (uvicorn workers)."""
        if self.process is None:
            return []
        children: dict[int, list[int]] = {}
        for stat in Path("/proc").glob("[0-9]*/stat"):
            with contextlib.suppress(OSError, ValueError, IndexError):
                fields = stat.read_text().rsplit(")", 1)[1].split()
                children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
        found, queue = [], [self.process.pid]
        while queue:
            pid = queue.pop()
            found.append(pid)
            queue.extend(children.get(pid, []))
        return found

    def memory_mib(self) -> float:
        """Proportional set size (PSS) of the whole process tree, shared pages split fairly."""
        total_kib = 0
        for pid in self.pids():
            with contextlib.suppress(OSError):
                for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                    if line.startswith("Pss:"):
                        total_kib += int(line.split()[1])
        return total_kib / 1024

    def cpu_seconds(self) -> float:
        """User + system CPU time of the process tree so far."""
        ticks = os.sysconf("SC_CLK_TCK")
        total = 0
        for pid in self.pids():
            with contextlib.suppress(OSError, ValueError, IndexError):
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                total += int(fields[11]) + int(fields[12])
        return total / ticks


def database_cpu_seconds() -> float:
    """CPU time so far of the local PostgreSQL: every live server process, plus the
    postmaster's reaped children (backends that exited count there, not as a drop)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            head, rest = stat.read_text().rsplit(")", 1)
            if not head.split("(", 1)[1].startswith("postgres"):
                continue
            fields = rest.split()
            total += int(fields[11]) + int(fields[12])
            parent = Path(f"/proc/{fields[1]}/stat").read_text().split(")", 1)[0]
            if "(postgres" not in parent:  # the postmaster: add its reaped children
                total += int(fields[13]) + int(fields[14])
    return total / ticks


@dataclass
class World:
    """What the load works on: users to log in as, their tokens, funded accounts."""

    slug: str
    emails: list[str]
    tokens: list[str]
    accounts: list[str]


async def bootstrap(server: Server, *, users: int, accounts: int) -> World:
    """A tenant with operator users, their sessions, and funded customer accounts."""
    slug = "load"
    server.fiscus("admin", "create-tenant", slug, "--name", "Load Bank", "--plan", "enterprise")
    emails = [f"teller{i}@load.test" for i in range(users)]
    for email in emails:
        server.fiscus(
            "admin",
            "create-user",
            "--tenant",
            slug,
            "--email",
            email,
            "--role",
            "operator",
            env={"FISCUS_PASSWORD": PASSWORD},
        )
    async with session(server.base_url, timeout=60) as http:
        tokens = [await login(http, slug, email) for email in emails]
        headers = {"Authorization": f"Bearer {tokens[0]}"}
        equity = await open_account(http, headers, "equity", kind="equity", side="debit")
        ids = [await open_account(http, headers, f"cust-{i:05d}") for i in range(accounts)]
        for account in ids:
            await transfer(http, headers, equity, account, FUNDING_MINOR)
    return World(slug, emails, tokens, ids)


def session(base_url: str, *, timeout: float, connections: int = 256) -> aiohttp.ClientSession:
    """The load's HTTP client: aiohttp, whose pool stays cheap with hundreds of requests in
    flight (httpx's spent a whole core at 250 requests/s and made the client, not the
    server, the thing that collapsed: encode/httpx#3215)."""
    return aiohttp.ClientSession(
        base_url=base_url,
        timeout=aiohttp.ClientTimeout(total=timeout),
        connector=aiohttp.TCPConnector(limit=connections),
        raise_for_status=True,
    )


async def _json(response: aiohttp.ClientResponse) -> dict[str, Any]:
    async with response:
        body: dict[str, Any] = await response.json()
        return body


async def login(http: aiohttp.ClientSession, slug: str, email: str) -> str:
    response = await http.post(
        "/v1/auth/login", json={"tenant": slug, "email": email, "password": PASSWORD}
    )
    return str((await _json(response))["access_token"])


async def open_account(
    http: aiohttp.ClientSession,
    headers: dict[str, str],
    code: str,
    *,
    kind: str = "liability",
    side: str = "credit",
) -> str:
    response = await http.post(
        "/v1/ledger/accounts",
        json={"code": code, "name": code, "currency": "EUR", "type": kind, "normal_side": side},
        headers={**headers, "Idempotency-Key": str(uuid.uuid4())},
    )
    return str((await _json(response))["id"])


async def transfer(
    http: aiohttp.ClientSession, headers: dict[str, str], debit: str, credit: str, amount: int
) -> None:
    response = await http.post(
        "/v1/ledger/transfers",
        json={
            "debit_account_id": debit,
            "credit_account_id": credit,
            "amount": amount,
            "currency": "EUR",
        },
        headers={**headers, "Idempotency-Key": str(uuid.uuid4())},
    )
    await _json(response)


class Load:
    """Sends the mix at a rate; one shared connection pool, like a fleet of clients."""

    def __init__(
        self, server: Server, world: World, seed: int, mix: dict[str, float] | None = None
    ) -> None:
        self.server = server
        self.world = world
        self.rng = random.Random(seed)
        self.ops = list(MIX)
        self.weights = [(mix or MIX).get(op, 0.0) for op in self.ops]
        self.opened = 0

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.rng.choice(self.world.tokens)}"}

    async def one(self, http: aiohttp.ClientSession, op: str) -> None:
        """Send one operation; raise on anything but success."""
        world = self.world
        if op == "balance":
            account = self.rng.choice(world.accounts)
            await _json(
                await http.get(f"/v1/ledger/accounts/{account}/balance", headers=self.headers())
            )
        elif op == "history":
            account = self.rng.choice(world.accounts)
            await _json(
                await http.get(
                    f"/v1/ledger/accounts/{account}/entries",
                    params={"limit": 20},
                    headers=self.headers(),
                )
            )
        elif op == "transfer":
            debit, credit = self.rng.sample(world.accounts, 2)
            await transfer(http, self.headers(), debit, credit, self.rng.randint(1, 10_000))
        elif op == "open_account":
            self.opened += 1
            code = f"new-{uuid.uuid4().hex[:16]}"
            await open_account(http, self.headers(), code)
        else:
            index = self.rng.randrange(len(world.emails))
            world.tokens[index] = await login(http, world.slug, world.emails[index])

    async def step(self, rate: float, seconds: float) -> Step:
        """Poisson arrivals at `rate` for `seconds`; latency from each request's due time."""
        step = Step(rate=rate, seconds=seconds)
        step.latencies_ms = {op: [] for op in self.ops}
        in_flight: set[asyncio.Task[None]] = set()
        cpu_client, cpu_server = time.process_time(), self.server.cpu_seconds()
        cpu_database = database_cpu_seconds()

        async def timed(http: aiohttp.ClientSession, op: str, due: float) -> None:
            try:
                await self.one(http, op)
            except (aiohttp.ClientError, TimeoutError, AssertionError) as error:
                kind = (
                    f"{op}:{error.status}"
                    if isinstance(error, aiohttp.ClientResponseError)
                    else f"{op}:{type(error).__name__}"
                )
                step.errors[kind] = step.errors.get(kind, 0) + 1
                if len(step.error_samples) < 5 and isinstance(error, aiohttp.ClientResponseError):
                    step.error_samples.append(f"{error.status} {error.message}"[:300])
                return
            step.latencies_ms[op].append((time.perf_counter() - due) * 1000)

        async with session(self.server.base_url, timeout=10) as http:
            started = time.perf_counter()
            due = started
            while due - started < seconds:
                due += self.rng.expovariate(rate)
                delay = due - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                if len(in_flight) >= MAX_IN_FLIGHT:
                    step.errors["overloaded"] = step.errors.get("overloaded", 0) + 1
                    continue
                op = self.rng.choices(self.ops, self.weights)[0]
                task = asyncio.create_task(timed(http, op, due))
                in_flight.add(task)
                task.add_done_callback(in_flight.discard)
                step.sent += 1
            if in_flight:
                await asyncio.wait(in_flight, timeout=30)
        step.client_cpu_s = time.process_time() - cpu_client
        step.server_cpu_s = self.server.cpu_seconds() - cpu_server
        step.database_cpu_s = database_cpu_seconds() - cpu_database
        return step


async def find_max_rate(
    load: Load, rates: list[float], seconds: float, log: Callable[[str], None]
) -> tuple[list[Step], float | None]:
    """Climb the rate ladder; after the first failure, try once halfway back; best passing rate."""
    steps: list[Step] = []
    best: float | None = None
    for rate in rates:
        step = await load.step(rate, seconds)
        steps.append(step)
        log(step.line())
        if step.passed:
            best = rate
            continue
        for sample in step.error_samples:
            log(f"  error: {sample}")
        if best is not None:
            middle = round((best + rate) / 2, 1)
            retry = await load.step(middle, seconds)
            steps.append(retry)
            log(retry.line())
            if retry.passed:
                best = middle
        break
    return steps, best


@dataclass
class SoakSample:
    """One point of the soak: minutes since start, server memory, that minute's figures."""

    minute: float
    pss_mib: float
    step: Step


async def soak(
    load: Load, rate: float, minutes: float, log: Callable[[str], None]
) -> list[SoakSample]:
    """Hold `rate` for `minutes`, one-minute steps, recording the server's memory after each."""
    samples = []
    began = time.monotonic()
    while time.monotonic() - began < minutes * 60:
        step = await load.step(rate, 60.0)
        sample = SoakSample((time.monotonic() - began) / 60, load.server.memory_mib(), step)
        samples.append(sample)
        log(f"soak {sample.minute:5.1f} min  PSS {sample.pss_mib:7.1f} MiB  {step.line()}")
    return samples


def memory_trend(samples: list[SoakSample], *, skip_minutes: float = 5.0) -> dict[str, float]:
    """First and last memory after warm-up, the peak, and the least-squares slope per 10 min."""
    points = [(s.minute, s.pss_mib) for s in samples if s.minute > skip_minutes] or [
        (s.minute, s.pss_mib) for s in samples
    ]
    n = len(points)
    mean_x = sum(x for x, _ in points) / n
    mean_y = sum(y for _, y in points) / n
    var = sum((x - mean_x) ** 2 for x, _ in points)
    slope = sum((x - mean_x) * (y - mean_y) for x, y in points) / var if var else 0.0
    return {
        "first_mib": points[0][1],
        "last_mib": points[-1][1],
        "peak_mib": max(y for _, y in points),
        "slope_mib_per_10min": slope * 10,
    }


def ceiling(url: str, clients: int, seconds: int, accounts: int) -> Figure:
    """pgbench running the same mix in plain SQL on the same server."""
    pgbench_tables(url, accounts)
    with psycopg.connect(libpq_url(url), autocommit=True) as connection:
        connection.execute(f"CREATE SEQUENCE bench_account_ids START {accounts + 1}")
    return pgbench(
        url,
        clients,
        seconds,
        accounts,
        scripts=PGBENCH_MIX,
        label="pgbench same mix, plain SQL",
        unit="requests/s",
    )


def prepare_database(url: str, server: Server) -> None:
    """A fresh database with the schema."""
    recreate(url)
    server.fiscus("migrate")


def describe(url: str) -> str:
    return libpq_url(url).split("@")[-1]


def as_row(step: Step) -> dict[str, Any]:
    return {
        "rate": step.rate,
        "achieved": round(step.achieved, 1),
        "p50_ms": round(step.pct(0.5), 1),
        "p99_ms": round(step.pct(0.99), 1),
        "login_p99_ms": round(step.pct(0.99, "login"), 1),
        "errors": step.error_count,
        "errors_by_kind": dict(sorted(step.errors.items())),
        "cores_used": {
            "client": round(step.client_cpu_s / step.seconds, 2),
            "server": round(step.server_cpu_s / step.seconds, 2),
            "database": round(step.database_cpu_s / step.seconds, 2),
        },
        "passed": step.passed,
    }
