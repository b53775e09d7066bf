"""Bank invariant under faults: a black-box harness over the HTTP API.

N customer accounts are funded from equity, so the customers' total T is fixed. Concurrent
clients post random transfers between customers, each written to an fsynced journal
before it is sent, while faults hit the system: kill -9 of the API server, kill -9 of the
worker, PostgreSQL immediate stop, and a paused (SIGSTOP) API server. Readers check every
single-snapshot total. Afterwards every unknown outcome is resent with the same key until
it is definite, and the stored state is checked against the journal.

Run by hand: `python -m bench.chaos --duration 900` (see `--help`); the short version runs
in CI from `tests/chaos/`.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import secrets
import signal
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import httpx
import psycopg

from bench.ledger_bench import free_port
from fiscus.core.db import libpq_url
from fiscus.core.embedded import EmbeddedPostgres

FUNDING_MINOR = 1_000_000
CURRENCY = "EUR"
PASSWORD = "chaos-" + "p" * 20
FAULTS = ("api", "worker", "postgres", "pause")


@dataclass
class ChaosConfig:
    """What to run: sizes, duration, which faults and how often."""

    workdir: Path
    accounts: int = 16
    clients: int = 32
    readers: int = 2
    duration_s: float = 60.0
    fault_every_s: tuple[float, float] = (6.0, 12.0)
    faults: tuple[str, ...] = FAULTS
    seed: int = 20261122
    settle_timeout_s: float = 240.0
    webhooks: bool = True
    # Keep the load running past `duration_s` until every kind in `faults` has been injected
    # at least once (at most this many extra seconds), so a short run cannot miss one.
    every_fault_within_s: float = 300.0


@dataclass
class Outcome:
    """What one operation ended as, from the client's point of view."""

    key: str
    transfer_id: str
    debit: str
    credit: str
    amount: int
    status: str  # ok | refused | unknown
    latency_s: float | None = None


@dataclass
class Report:
    """The run's figures; `ok` is False if anything was lost, duplicated or violated."""

    duration_s: float = 0.0
    attempted: int = 0
    acknowledged_during_load: int = 0
    acknowledged: int = 0
    refused: int = 0
    unknown_before_settle: int = 0
    unknown_after_settle: int = 0
    lost: int = 0
    duplicated: int = 0
    orphans: int = 0
    phantoms: int = 0
    invariant_violations: int = 0
    balance_mismatches: int = 0
    snapshot_reads: int = 0
    faults: dict[str, int] = field(default_factory=dict)
    fault_order: list[str] = field(default_factory=list)
    ops_per_s: float = 0.0
    p50_ms: float = 0.0
    p99_ms: float = 0.0
    ledger_verify_ok: bool = False
    audit_verify_ok: bool = False
    events_missing: int = 0
    webhooks_missing: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return (
            self.lost == 0
            and self.duplicated == 0
            and self.orphans == 0
            and self.phantoms == 0
            and self.invariant_violations == 0
            and self.balance_mismatches == 0
            and self.unknown_after_settle == 0
            and self.ledger_verify_ok
            and self.audit_verify_ok
            and self.events_missing == 0
            and self.webhooks_missing == 0
        )


class Journal:
    """Append-only JSON lines, fsynced before the request it describes is sent."""

    def __init__(self, path: Path) -> None:
        self._file = path.open("a", encoding="utf-8")
        self._lock = threading.Lock()

    def write(self, record: dict[str, Any], *, durable: bool) -> None:
        with self._lock:
            self._file.write(json.dumps(record) + "\n")
            self._file.flush()
            if durable:
                os.fsync(self._file.fileno())

    def close(self) -> None:
        self._file.close()


class WebhookReceiver:
    """A real HTTP endpoint on loopback that records every delivered event id."""

    def __init__(self) -> None:
        received: set[str] = set()
        self.received = received

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", "0"))
                body = json.loads(self.rfile.read(length) or b"{}")
                received.add(str(body.get("id")))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()


class System:
    """The processes under test: PostgreSQL, one API server, one worker."""

    def __init__(self, config: ChaosConfig) -> None:
        self.config = config
        self.embedded = EmbeddedPostgres(config.workdir / "data")
        self.url = ""
        self.port = free_port()
        self.api: subprocess.Popen[bytes] | None = None
        self.worker: subprocess.Popen[bytes] | None = None
        self.log = (config.workdir / "processes.log").open("ab")
        self.secret = secrets.token_urlsafe(48)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("FISCUS_")}
        env.update(
            {
                "FISCUS_DATABASE_URL": self.url,
                "FISCUS_SECRET_KEY": self.secret,
                "FISCUS_ENV": "test",
                "FISCUS_PORT": str(self.port),
                "FISCUS_LOG_LEVEL": "WARNING",
                "FISCUS_WEBHOOKS_ALLOW_PRIVATE": "true",
                # One load generator on 127.0.0.1: the per-address budget would turn the run
                # into a rate-limit test (it has its own tests in tests/identity).
                "FISCUS_IP_REQUESTS_PER_MINUTE": "1000000",
                "FISCUS_DB_POOL_SIZE": "20",
            }
        )
        return env

    def fiscus(
        self, *args: str, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "fiscus.cli", *args],
            capture_output=True,
            text=True,
            env={**self.env(), **(env or {})},
            timeout=600,
            check=False,
        )

    def start_database(self) -> None:
        self.url = libpq_url(self.embedded.start())

    def start_api(self) -> None:
        self.api = subprocess.Popen(
            [sys.executable, "-m", "fiscus.cli", "serve", "--no-worker", "--no-migrate"],
            env=self.env(),
            stdout=self.log,
            stderr=self.log,
        )

    def start_worker(self) -> None:
        self.worker = subprocess.Popen(
            [sys.executable, "-m", "fiscus.cli", "worker"],
            env=self.env(),
            stdout=self.log,
            stderr=self.log,
        )

    async def wait_ready(self, timeout_s: float = 90.0) -> None:
        deadline = time.monotonic() + timeout_s
        async with httpx.AsyncClient(timeout=2) as http:
            while time.monotonic() < deadline:
                try:
                    if (await http.get(self.base_url + "/readyz")).status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.2)
        raise RuntimeError("the API server did not become ready")

    def kill(self, process: subprocess.Popen[bytes] | None) -> None:
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=30)

    def postgres_immediate_restart(self, down_s: float) -> None:
        """`pg_ctl stop -m immediate` (a crash for PostgreSQL), then start it again."""
        bin_dir = self.embedded.bin_dir
        pgdata = self.embedded.pgdata
        user = "pgserver" if os.geteuid() == 0 else None
        subprocess.run(
            [str(bin_dir / "pg_ctl"), "-D", str(pgdata), "-m", "immediate", "-w", "stop"],
            user=user,
            check=True,
            capture_output=True,
        )
        time.sleep(down_s)
        socket_dir = unquote(self.url.split("host=")[-1].split("&")[0])
        subprocess.run(
            [
                str(bin_dir / "pg_ctl"),
                "-D",
                str(pgdata),
                "-w",
                "-l",
                str(pgdata / "log"),
                "-o",
                f"-h '' -k {socket_dir}",
                "start",
            ],
            user=user,
            check=True,
            capture_output=True,
            timeout=120,
        )

    def stop(self) -> None:
        for process in (self.api, self.worker):
            if process is not None and process.poll() is None:
                process.send_signal(signal.SIGINT)
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    process.kill()
        self.embedded.stop()
        self.log.close()


async def bootstrap(
    system: System, receiver: WebhookReceiver
) -> tuple[dict[str, str], str, list[str]]:
    """Tenant, owner, API key, accounts, funding and a webhook endpoint; return auth headers."""
    slug = "chaos"
    # The highest plan, so the tenant's request budget does not shape the load.
    made = system.fiscus(
        "admin", "create-tenant", slug, "--name", "Chaos Bank", "--plan", "enterprise"
    )
    assert made.returncode == 0, made.stderr
    tenant_id = made.stdout.strip().splitlines()[-1]
    user = system.fiscus(
        "admin",
        "create-user",
        "--tenant",
        slug,
        "--email",
        "ops@chaos.test",
        "--role",
        "owner",
        env={"FISCUS_PASSWORD": PASSWORD},
    )
    assert user.returncode == 0, user.stderr
    async with httpx.AsyncClient(base_url=system.base_url, timeout=30) as http:
        login = await http.post(
            "/v1/auth/login", json={"tenant": slug, "email": "ops@chaos.test", "password": PASSWORD}
        )
        login.raise_for_status()
        token = {"Authorization": f"Bearer {login.json()['access_token']}"}
        key = await http.post(
            "/v1/api-keys", json={"name": "chaos", "role": "owner"}, headers=token
        )
        key.raise_for_status()
        headers = {"Authorization": f"Bearer {key.json()['key']}"}
        if system.config.webhooks:
            hook = await http.post(
                "/v1/webhook-endpoints",
                json={"url": receiver.url, "event_types": ["transfer.*"]},
                headers={**headers, "Idempotency-Key": str(uuid.uuid4())},
            )
            hook.raise_for_status()
        equity = await _account(http, headers, "equity", "equity", "debit", [])
        customers = [
            await _account(
                http,
                headers,
                f"cust-{i:04d}",
                "liability",
                "credit",
                ["debits_must_not_exceed_credits"],
            )
            for i in range(system.config.accounts)
        ]
        for customer in customers:
            funded = await http.post(
                "/v1/ledger/transfers",
                json={
                    "debit_account_id": equity,
                    "credit_account_id": customer,
                    "amount": FUNDING_MINOR,
                    "currency": CURRENCY,
                    "description": "funding",
                },
                headers={**headers, "Idempotency-Key": str(uuid.uuid4())},
            )
            assert funded.status_code == 201, funded.text
    return headers, tenant_id, customers


async def _account(
    http: httpx.AsyncClient,
    headers: dict[str, str],
    code: str,
    kind: str,
    side: str,
    flags: list[str],
) -> str:
    response = await http.post(
        "/v1/ledger/accounts",
        json={
            "code": code,
            "name": code,
            "currency": CURRENCY,
            "type": kind,
            "normal_side": side,
            "flags": flags,
        },
        headers={**headers, "Idempotency-Key": str(uuid.uuid4())},
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def send(http: httpx.AsyncClient, headers: dict[str, str], op: Outcome) -> str:
    """POST one transfer; classify the answer as ok, refused (definite 4xx) or unknown."""
    body = {
        "id": op.transfer_id,
        "debit_account_id": op.debit,
        "credit_account_id": op.credit,
        "amount": op.amount,
        "currency": CURRENCY,
        "metadata": {"op": op.key},
    }
    try:
        response = await http.post(
            "/v1/ledger/transfers", json=body, headers={**headers, "Idempotency-Key": op.key}
        )
    except httpx.HTTPError:
        return "unknown"
    if response.status_code == 201:
        return "ok"
    if response.status_code == 429:
        await asyncio.sleep(float(response.headers.get("retry-after", "1")))
        return "unknown"
    if response.status_code == 409 or response.status_code >= 500:
        return "unknown"  # in progress elsewhere, throttled or failed on our side: not definite
    return "refused"


def fault_schedule(seed: int, faults: tuple[str, ...]) -> Iterator[tuple[float, str]]:
    """(draw in [0, 1) for the wait before it, fault) forever, from its own seeded generator.

    Faults come in rounds holding every kind once in a shuffled order, so any `len(faults)`
    faults in a row include each kind; the clients' draws never shift the schedule.
    """
    rng = random.Random(seed)
    while True:
        kinds = list(faults)
        rng.shuffle(kinds)
        for fault in kinds:
            yield rng.random(), fault


class Scenario:
    """One run: the system, its clients, readers and faults, and what they saw."""

    def __init__(self, config: ChaosConfig, log: Callable[[str], None]) -> None:
        self.config = config
        self.log = log
        self.rng = random.Random(config.seed)
        self.report = Report(faults=dict.fromkeys(config.faults, 0))
        self.system = System(config)
        self.receiver = WebhookReceiver()
        self.journal = Journal(config.workdir / "journal.jsonl")
        self.outcomes: list[Outcome] = []
        self.stop = asyncio.Event()
        self.every_fault_injected = asyncio.Event()
        self.headers: dict[str, str] = {}
        self.tenant_id = ""
        self.customers: list[str] = []
        self.total = 0

    async def client(self) -> None:
        """Post random transfers between customers until told to stop."""
        async with httpx.AsyncClient(base_url=self.system.base_url, timeout=10) as http:
            while not self.stop.is_set():
                debit, credit = self.rng.sample(self.customers, 2)
                op = Outcome(
                    key=str(uuid.uuid4()),
                    transfer_id=str(uuid.uuid4()),
                    debit=debit,
                    credit=credit,
                    amount=self.rng.randint(1, FUNDING_MINOR // 4),
                    status="unknown",
                )
                self.journal.write(
                    {
                        "op": op.key,
                        "transfer_id": op.transfer_id,
                        "debit": debit,
                        "credit": credit,
                        "amount": op.amount,
                    },
                    durable=True,
                )
                began = time.monotonic()
                op.status = await send(http, self.headers, op)
                op.latency_s = time.monotonic() - began
                self.journal.write({"op": op.key, "status": op.status}, durable=False)
                self.outcomes.append(op)
                if op.status == "unknown":
                    await asyncio.sleep(0.2)

    async def reader(self) -> None:
        """Check every single-snapshot total while the clients run."""
        while not self.stop.is_set():
            try:
                async with await psycopg.AsyncConnection.connect(
                    self.system.url, connect_timeout=3
                ) as db:
                    while not self.stop.is_set():
                        cursor = await db.execute(SNAPSHOT_SQL, (self.tenant_id,))
                        row = await cursor.fetchone()
                        assert row is not None
                        self.report.snapshot_reads += 1
                        if row[0] != self.total or row[1] > 0:
                            self.report.invariant_violations += 1
                            self.report.notes.append(
                                f"snapshot total {row[0]} != {self.total} or {row[1]} overdrawn"
                            )
                        await asyncio.sleep(0.05)
            except psycopg.OperationalError:
                await asyncio.sleep(0.5)  # PostgreSQL is down on purpose; read again later

    async def faults(self) -> None:
        """Inject one random fault every few seconds, then wait until the API is ready."""
        system = self.system
        low, high = self.config.fault_every_s
        schedule = fault_schedule(self.config.seed, self.config.faults)
        while not self.stop.is_set():
            draw, fault = next(schedule)
            await asyncio.sleep(low + (high - low) * draw)
            if self.stop.is_set():
                return
            self.report.faults[fault] += 1
            self.report.fault_order.append(fault)
            self.log(f"fault: {fault}")
            if fault == "api":
                system.kill(system.api)
                system.start_api()
            elif fault == "worker":
                system.kill(system.worker)
                system.start_worker()
            elif fault == "postgres":
                await asyncio.to_thread(system.postgres_immediate_restart, 1.0)
            elif fault == "pause" and system.api is not None:
                system.api.send_signal(signal.SIGSTOP)
                await asyncio.sleep(2.0)
                system.api.send_signal(signal.SIGCONT)
            await system.wait_ready()
            if all(self.report.faults.values()):
                self.every_fault_injected.set()

    async def load(self) -> None:
        """Clients, readers and faults for the configured duration."""
        started = time.monotonic()
        tasks = [asyncio.create_task(self.client()) for _ in range(self.config.clients)]
        tasks += [asyncio.create_task(self.reader()) for _ in range(self.config.readers)]
        tasks.append(asyncio.create_task(self.faults()))
        await asyncio.sleep(self.config.duration_s)
        if self.config.faults:
            try:
                await asyncio.wait_for(
                    self.every_fault_injected.wait(), self.config.every_fault_within_s
                )
            except TimeoutError:
                self.report.notes.append(f"not every fault kind injected: {self.report.faults}")
        self.stop.set()
        await asyncio.gather(*tasks)
        self.report.duration_s = time.monotonic() - started
        self.report.acknowledged_during_load = sum(o.status == "ok" for o in self.outcomes)
        unknown = sum(o.status == "unknown" for o in self.outcomes)
        self.log(f"load done: {len(self.outcomes)} sent, {unknown} unknown; settling")

    async def run(self) -> Report:
        """Start, bootstrap, load under faults, settle, verify; always stop the processes."""
        system = self.system
        try:
            system.start_database()
            migrated = system.fiscus("migrate")
            assert migrated.returncode == 0, migrated.stderr
            system.start_api()
            system.start_worker()
            await system.wait_ready()
            self.headers, self.tenant_id, self.customers = await bootstrap(system, self.receiver)
            self.total = FUNDING_MINOR * len(self.customers)
            self.log(f"bootstrapped: {len(self.customers)} accounts, total {self.total}")
            await self.load()
            await system.wait_ready()
            if system.worker is None or system.worker.poll() is not None:
                system.start_worker()
            await settle(system, self.headers, self.outcomes, self.config, self.report)
            await verify(
                system,
                self.tenant_id,
                self.customers,
                self.outcomes,
                self.receiver,
                self.report,
                self.log,
            )
        finally:
            self.journal.close()
            self.receiver.stop()
            system.stop()
        self._figures()
        return self.report

    def _figures(self) -> None:
        report, outcomes = self.report, self.outcomes
        latencies = sorted(o.latency_s for o in outcomes if o.status == "ok" and o.latency_s)
        report.attempted = len(outcomes)
        report.acknowledged = sum(o.status == "ok" for o in outcomes)
        report.refused = sum(o.status == "refused" for o in outcomes)
        if report.duration_s:
            report.ops_per_s = round(report.acknowledged_during_load / report.duration_s, 1)
        if latencies:
            report.p50_ms = round(statistics.median(latencies) * 1000, 1)
            report.p99_ms = round(latencies[max(0, int(len(latencies) * 0.99) - 1)] * 1000, 1)


async def run(config: ChaosConfig, *, log: Callable[[str], None] = print) -> Report:
    """Run the whole scenario and return its report."""
    config.workdir.mkdir(parents=True, exist_ok=True)
    return await Scenario(config, log).run()


# One statement, so one snapshot: the customers' total and how many are overdrawn.
SNAPSHOT_SQL = """
SELECT coalesce(sum(credits_posted - debits_posted), 0),
       count(*) FILTER (WHERE debits_posted + debits_pending > credits_posted)
FROM ledger_accounts WHERE tenant_id = %s AND code LIKE 'cust-%%'
"""


async def settle(
    system: System,
    headers: dict[str, str],
    outcomes: list[Outcome],
    config: ChaosConfig,
    report: Report,
) -> None:
    """Resend every unknown operation with its key until the answer is definite."""
    unknown = [o for o in outcomes if o.status == "unknown"]
    report.unknown_before_settle = len(unknown)
    deadline = time.monotonic() + config.settle_timeout_s
    lanes = asyncio.Semaphore(config.clients)

    async def resend(op: Outcome) -> None:
        async with lanes:
            op.status = await send(http, headers, op)

    async with httpx.AsyncClient(base_url=system.base_url, timeout=15) as http:
        while unknown and time.monotonic() < deadline:
            await asyncio.gather(*(resend(op) for op in unknown))
            unknown = [o for o in unknown if o.status == "unknown"]
            if unknown:
                await asyncio.sleep(1.0)
    report.unknown_after_settle = len(unknown)


async def verify(
    system: System,
    tenant_id: str,
    customers: list[str],
    outcomes: list[Outcome],
    receiver: WebhookReceiver,
    report: Report,
    log: Callable[[str], None],
) -> None:
    """Compare the database with the journal, run the verifiers, check events and webhooks."""
    with psycopg.connect(system.url) as db:
        stored = db.execute(
            "SELECT metadata->>'op', count(*) FROM ledger_transfers"
            " WHERE tenant_id = %s AND metadata ? 'op' GROUP BY 1",
            (tenant_id,),
        ).fetchall()
        balances = dict(
            db.execute(
                "SELECT id::text, credits_posted - debits_posted FROM ledger_accounts"
                " WHERE tenant_id = %s AND code LIKE 'cust-%%'",
                (tenant_id,),
            ).fetchall()
        )
        transfer_ids = [
            r[0]
            for r in db.execute(
                "SELECT id::text FROM ledger_transfers WHERE tenant_id = %s",
                (tenant_id,),
            ).fetchall()
        ]
    counts = dict(stored)
    by_key = {o.key: o for o in outcomes}
    report.duplicated = sum(n - 1 for n in counts.values() if n > 1)
    report.orphans = sum(1 for op in counts if op not in by_key)
    report.lost = sum(1 for o in outcomes if o.status == "ok" and o.key not in counts)
    # A definite refusal must not have moved money.
    report.phantoms = sum(1 for o in outcomes if o.status == "refused" and o.key in counts)
    expected = dict.fromkeys(customers, FUNDING_MINOR)
    for key in counts:
        op = by_key.get(key)
        if op is not None:
            expected[op.credit] += op.amount
            expected[op.debit] -= op.amount
    report.balance_mismatches = sum(1 for a in customers if balances.get(a) != expected[a])
    report.ledger_verify_ok = system.fiscus("ledger", "verify").returncode == 0
    audit = system.fiscus("audit", "verify")
    report.audit_verify_ok = audit.returncode == 0
    if system.config.webhooks:
        await _wait_for_delivery(system, tenant_id, transfer_ids, receiver, report, log)


async def _wait_for_delivery(
    system: System,
    tenant_id: str,
    transfer_ids: list[str],
    receiver: WebhookReceiver,
    report: Report,
    log: Callable[[str], None],
    timeout_s: float = 180.0,
) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        with psycopg.connect(system.url) as db:
            rows = db.execute(
                "SELECT id::text, payload FROM events"
                " WHERE tenant_id = %s AND type LIKE 'transfer.%%'",
                (tenant_id,),
            ).fetchall()
        covered = {str(p.get("transfer_id") or p.get("id")) for _, p in rows}
        report.events_missing = sum(1 for t in transfer_ids if t not in covered)
        report.webhooks_missing = sum(
            1 for event_id, _ in rows if event_id not in receiver.received
        )
        if report.webhooks_missing == 0:
            return
        if time.monotonic() > deadline:
            with psycopg.connect(system.url) as db:
                stuck = db.execute(
                    "SELECT status, attempt_count, last_status_code, left(last_error, 200),"
                    " next_attempt_at FROM webhook_deliveries WHERE tenant_id = %s"
                    " AND status <> 'succeeded' LIMIT 5",
                    (tenant_id,),
                ).fetchall()
            report.notes.extend(f"undelivered: {row}" for row in stuck)
            return
        log(f"waiting for {report.webhooks_missing} webhook deliveries")
        await asyncio.sleep(2.0)
