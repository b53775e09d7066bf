"""`python -m bench.serving`: which HTTP server, how many workers, which JSON rendering.

In one run on one machine, on one fresh database on the PostgreSQL at 127.0.0.1:5432, the
same two requests (an authenticated balance GET with an API key, and `GET /healthz`) at
the same concurrency (closed loop, 8 clients by default), against fiscus's application
(`fiscus.api:create_app`, no job worker) served by:

* uvicorn (uvloop, httptools) with 1 and 2 worker processes, as `fiscus serve` runs it;
* granian (ASGI interface, uvloop) with 1 and 2 worker processes;

each with FastAPI's default JSON rendering and with `ORJSONResponse` as the default
response class. The machine may be shared, so the run goes in rounds (3 by default): each
measures the lean floor (`bench/request_path/floor.py`, uvicorn, 1 process) first, then
every variant in an order rotated from round to round. Each figure is the median over the
rounds, and each ratio (to the floor, and to uvicorn with 1 worker and the default
rendering, which is what `fiscus serve` does) the median of the ratios within a round.

Prints requests/s, p50/p99 and the server's CPU per request (its whole process tree), and
the Markdown rows for bench/RESULTS.md; `--json FILE` keeps the raw figures.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from statistics import median
from typing import Any

import httpx

from bench.ledger_bench import machine
from bench.load.generator import Server, prepare_database
from bench.request_path.__main__ import (
    Credentials,
    Floor,
    Phase,
    Send,
    balance_sender,
    closed_loop,
    credentials,
    health,
)

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/fiscus_serving"
APP = "fiscus.api:create_app"
ORJSON_APP = "bench.serving:orjson_app"


def orjson_app() -> Any:
    """fiscus's application with `ORJSONResponse` as FastAPI's default response class."""
    import fastapi
    from fastapi.responses import ORJSONResponse

    import fiscus.api

    fiscus.api.FastAPI = functools.partial(  # type: ignore[misc]
        fastapi.FastAPI, default_response_class=ORJSONResponse
    )
    return fiscus.api.create_app()


def serialization_us(rounds: int = 20_000) -> dict[str, float]:
    """Microseconds to render one balance GET's body: FastAPI's default path (pydantic's
    `dump_json`, used when a route has a response model and no response class is set)
    against `ORJSONResponse`'s (pydantic to Python values, then `orjson.dumps`)."""
    import datetime
    import timeit
    import uuid

    import orjson
    from pydantic import TypeAdapter

    from fiscus.ledger.schemas import BalanceRead

    body = BalanceRead.model_validate(
        {
            "account_id": uuid.uuid4(),
            "currency": "EUR",
            "debits_posted": 1000,
            "credits_posted": 5000,
            "debits_pending": 200,
            "credits_pending": 0,
            "balance": 4000,
            "available": 3800,
            "as_of": datetime.datetime.now(datetime.UTC),
        }
    )
    adapter = TypeAdapter(BalanceRead)
    default = timeit.timeit(lambda: adapter.dump_json(body), number=rounds)
    with_orjson = timeit.timeit(
        lambda: orjson.dumps(adapter.dump_python(body, mode="json")), number=rounds
    )
    return {"default": default / rounds * 1e6, "orjson": with_orjson / rounds * 1e6}


@dataclass(frozen=True)
class Variant:
    """One way of serving fiscus."""

    server: str  # uvicorn | granian
    workers: int
    orjson: bool

    @property
    def name(self) -> str:
        json_name = "orjson" if self.orjson else "default JSON"
        return f"{self.server} x{self.workers}, {json_name}"

    def command(self, port: int) -> list[str]:
        target = ORJSON_APP if self.orjson else APP
        common = ["--host", "127.0.0.1", "--port", str(port), "--workers", str(self.workers)]
        if self.server == "uvicorn":
            return [
                sys.executable,
                "-m",
                "uvicorn",
                "--factory",
                *common,
                "--loop",
                "uvloop",
                "--http",
                "httptools",
                "--no-access-log",
                "--log-level",
                "warning",
                target,
            ]
        return [
            str(Path(sys.executable).parent / "granian"),
            "--interface",
            "asgi",
            "--factory",
            *common,
            "--loop",
            "uvloop",
            "--no-access-log",
            "--log-level",
            "warning",
            target,
        ]


def start(variant: Variant, url: str, workdir: Path) -> Server:
    """The variant serving fiscus's app on `url`, ready (`/readyz` answers 200)."""
    server = Server(url, variant.workers, workdir)
    env = server.env() | {"FISCUS_RUN_WORKER": "false", "PYTHONPATH": str(ROOT)}
    server.process = subprocess.Popen(
        variant.command(server.port), env=env, cwd=ROOT, stdout=server.log, stderr=server.log
    )
    for _ in range(600):
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(server.base_url + "/readyz", timeout=2).status_code == 200:
                return server
        if server.process.poll() is not None:
            raise RuntimeError(f"{variant.name} exited; see {workdir / 'server.log'}")
        time.sleep(0.1)
    raise RuntimeError(f"{variant.name} did not become ready")


async def warm(base_url: str, send: Send, clients: int, requests: int = 50) -> None:
    """Connections, pools, prepared statements and caches warm before a measured phase."""
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as http:
        for _ in range(requests):
            await asyncio.gather(*(send(http, i) for i in range(clients)))


async def measure(
    label: str, base_url: str, creds: Credentials, clients: int, seconds: float, cpu: Any
) -> list[Phase]:
    phases = []
    for name, send in (("balance GET", balance_sender(creds, jwt=False)), ("healthz", health)):
        await warm(base_url, send, clients)
        phases.append(await closed_loop(f"{label}: {name}", base_url, clients, seconds, send, cpu))
    return phases


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.serving", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--url", default=DEFAULT_URL, help="database to (re)create and use")
    parser.add_argument("--seconds", type=float, default=10.0, help="seconds per phase")
    parser.add_argument("--clients", type=int, default=8, help="concurrent clients")
    parser.add_argument("--accounts", type=int, default=200, help="funded ledger accounts")
    parser.add_argument(
        "--servers", default="uvicorn,granian", help="servers to measure, comma-separated"
    )
    parser.add_argument("--workers", default="1,2", help="worker counts, comma-separated")
    parser.add_argument("--rounds", type=int, default=3, help="rounds over every variant")
    parser.add_argument("--json", type=Path, default=None, help="write the raw figures here")
    parser.add_argument("--workdir", type=Path, default=None, help="keeps the server logs")
    return parser.parse_args()


async def run(args: argparse.Namespace) -> dict[str, Any]:
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="fiscus-serving-"))
    workdir.mkdir(parents=True, exist_ok=True)
    results: dict[str, Any] = {
        "machine": machine(),
        "python": platform.python_version(),
        "load_before": os.getloadavg(),
        "serialization_us": serialization_us(),
    }
    print(
        "rendering a balance GET's body: default (pydantic dump_json)"
        f" {results['serialization_us']['default']:.2f} us,"
        f" ORJSONResponse's way {results['serialization_us']['orjson']:.2f} us",
        flush=True,
    )
    setup = Server(args.url, 1, workdir)
    prepare_database(args.url, setup)
    setup.start()
    try:
        print("bootstrapping: tenant, users, API keys, funded accounts", flush=True)
        creds = await credentials(setup, args.clients, args.accounts)
    finally:
        setup.stop()

    async def floor_phases() -> list[Phase]:
        floor = Floor(args.url, workdir)
        floor.start()
        try:
            return await measure(
                "floor", floor.base_url, creds, args.clients, args.seconds, floor.cpu_seconds
            )
        finally:
            floor.stop()

    variants = [
        Variant(server, int(workers), orjson)
        for server in args.servers.split(",")
        for workers in args.workers.split(",")
        for orjson in (False, True)
    ]
    # Round after round, each with the floor first and the variants in a rotated order: a
    # change of the machine's load lands on every variant alike, not on the last ones.
    rounds: list[dict[str, list[Phase]]] = []
    for number in range(args.rounds):
        print(f"round {number + 1} of {args.rounds}", flush=True)
        measured = {"floor": await floor_phases()}
        shift = number % len(variants)
        for variant in variants[shift:] + variants[:shift]:
            server = start(variant, args.url, workdir)
            try:
                measured[variant.name] = await measure(
                    variant.name,
                    server.base_url,
                    creds,
                    args.clients,
                    args.seconds,
                    server.cpu_seconds,
                )
            finally:
                server.stop()
        rounds.append(measured)
    results["load_after"] = os.getloadavg()
    results["rounds"] = [
        {
            name: [
                {
                    "name": p.name,
                    "clients": p.clients,
                    "rate": round(p.rate, 1),
                    "p50_ms": round(p.pct(0.5), 2),
                    "p99_ms": round(p.pct(0.99), 2),
                    "server_cpu_ms_per_request": round(p.cpu_ms_per_request, 3),
                    "errors": p.errors,
                }
                for p in found
            ]
            for name, found in measured.items()
        }
        for measured in rounds
    ]
    results["rows"] = rows(rounds, ["floor", *(v.name for v in variants)])
    return results


def rows(rounds: list[dict[str, list[Phase]]], names: list[str]) -> list[str]:
    """The Markdown rows: per variant and request, the medians over the rounds of its rate,
    latencies and CPU per request, and of its ratios to the floor and to uvicorn x1 with
    the default rendering (`fiscus serve`), each ratio taken within its own round."""
    baseline = Variant("uvicorn", 1, orjson=False).name
    out = [
        "| serving | request | req/s (median, range) | p50 / p99 ms | CPU ms/req"
        " | / floor | / uvicorn x1 |",
        "|---|---|---|---|---|---|---|",
    ]
    for name in names:
        for index, request in enumerate(("balance GET", "healthz")):
            found = [r[name][index] for r in rounds]
            rates = [p.rate for p in found]
            to_floor = [r[name][index].rate / r["floor"][index].rate for r in rounds]
            to_base = (
                [r[name][index].rate / r[baseline][index].rate for r in rounds]
                if all(baseline in r for r in rounds)
                else [float("nan")]
            )
            out.append(
                f"| {name} | {request} | {median(rates):,.0f} ({min(rates):,.0f}-{max(rates):,.0f})"
                f" | {median([p.pct(0.5) for p in found]):.1f} /"
                f" {median([p.pct(0.99) for p in found]):.1f}"
                f" | {median([p.cpu_ms_per_request for p in found]):.2f}"
                f" | {median(to_floor):.2f} | {median(to_base):.2f} |"
            )
    return out


def main() -> None:
    args = parse()
    began = time.monotonic()
    results = asyncio.run(run(args))
    results["wall_minutes"] = round((time.monotonic() - began) / 60, 1)
    print("\n".join(results["rows"]))
    print(f"load average before {results['load_before']}, after {results['load_after']}")
    if args.json is not None:
        args.json.write_text(json.dumps(results, indent=2, default=str))


if __name__ == "__main__":
    main()
