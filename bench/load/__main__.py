"""`python -m bench.load`: the highest request rate within p99 < 100 ms, and a memory soak.

Starts `fiscus serve --workers N` on a fresh database, creates a tenant with operators and
funded accounts, then climbs a ladder of request rates (open loop, Poisson arrivals) with
the mix 70% reads / 25% transfers / 5% account openings and logins. Optionally holds a
rate for a soak while sampling the server's memory each minute. Ends with pgbench running
the same mix in plain SQL for the ceiling. Prints a Markdown report for bench/RESULTS.md.

    .venv/bin/python -m bench.load --workers 2                      # ladder only, ~10 min
    .venv/bin/python -m bench.load --workers 2 --soak-minutes 30    # plus the soak
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from pathlib import Path

from rich.progress import Progress

from bench.ledger_bench import check_durability, machine
from bench.load.generator import (
    MIX,
    SLO_P99_MS,
    Load,
    Server,
    as_row,
    bootstrap,
    ceiling,
    describe,
    find_max_rate,
    memory_trend,
    prepare_database,
    soak,
)

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/fiscus_load"


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.load", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--url", default=DEFAULT_URL, help="database to (re)create and use")
    parser.add_argument("--workers", type=int, default=2, help="fiscus serve --workers")
    parser.add_argument(
        "--rates",
        default="25,50,75,100,150,200,250,300,400,500",
        help="comma-separated request rates to climb (requests/s)",
    )
    parser.add_argument("--step-seconds", type=float, default=30.0, help="seconds per rate")
    parser.add_argument("--accounts", type=int, default=1000, help="funded customer accounts")
    parser.add_argument("--users", type=int, default=8, help="operator users logging in")
    parser.add_argument("--soak-minutes", type=float, default=0.0, help="0 skips the soak")
    parser.add_argument(
        "--soak-rate", type=float, default=None, help="default: 70%% of the best rate found"
    )
    parser.add_argument(
        "--mix",
        default=",".join(f"{op}={share * 100:g}" for op, share in MIX.items()),
        help="operation shares in percent (a diagnostic: the issue's mix is the default)",
    )
    parser.add_argument("--ceiling-clients", type=int, default=16, help="pgbench clients")
    parser.add_argument("--seed", type=int, default=20261122)
    parser.add_argument("--workdir", type=Path, default=None, help="keeps server.log")
    parser.add_argument(
        "--server-env",
        action="append",
        default=[],
        metavar="FISCUS_NAME=VALUE",
        help="a setting for the server under test, e.g. FISCUS_MAX_REQUESTS_IN_PROGRESS=100000"
        " (repeatable)",
    )
    return parser.parse_args()


async def main_async(args: argparse.Namespace) -> dict[str, object]:
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="fiscus-load-"))
    workdir.mkdir(parents=True, exist_ok=True)
    settings = check_durability(args.url.replace("/fiscus_load", "/postgres"))
    extra = dict(item.split("=", 1) for item in args.server_env)
    server = Server(args.url, args.workers, workdir, extra)
    prepare_database(args.url, server)
    server.start()
    results: dict[str, object] = {"workdir": str(workdir)}
    try:
        with Progress(transient=True) as progress:
            progress.add_task("bootstrapping tenant, users and accounts", total=None)
            world = await bootstrap(server, users=args.users, accounts=args.accounts)
        mix = {op: float(share) / 100 for op, share in (p.split("=") for p in args.mix.split(","))}
        load = Load(server, world, args.seed, mix)
        results["mix"] = mix
        rates = [float(r) for r in args.rates.split(",")]
        print(f"warm-up 20 s at {rates[0]}/s; memory {server.memory_mib():.0f} MiB", flush=True)
        await load.step(rates[0], 20.0)
        steps, best = await find_max_rate(load, rates, args.step_seconds, print)
        results["steps"] = [as_row(s) for s in steps]
        results["best_rate"] = best
        results["per_op_p99_at_best"] = {
            op: round(step.pct(0.99, op), 1)
            for step in steps
            if step.rate == best
            for op in MIX
            if step.latencies_ms.get(op)
        }
        if args.soak_minutes > 0:
            rate = args.soak_rate or round(0.7 * (best or rates[0]), 1)
            samples = await soak(load, rate, args.soak_minutes, print)
            results["soak"] = {
                "rate": rate,
                "minutes": args.soak_minutes,
                "errors": sum(s.step.error_count for s in samples),
                "p99_ms_worst_minute": round(max(s.step.pct(0.99) for s in samples), 1),
                "pss_mib": [round(s.pss_mib, 1) for s in samples],
                **{k: round(v, 2) for k, v in memory_trend(samples).items()},
            }
    finally:
        server.stop()
    figure = ceiling(args.url, args.ceiling_clients, 20, args.accounts)
    results["pgbench_same_mix_rps"] = round(figure.rate, 1)
    if results.get("best_rate"):
        results["ratio_to_pgbench"] = round(float(results["best_rate"]) / figure.rate, 3)  # type: ignore[arg-type]
    results["database"] = describe(args.url)
    results["postgres"] = settings
    return results


def main() -> None:
    args = parse()
    began = time.monotonic()
    results = asyncio.run(main_async(args))
    results["wall_minutes"] = round((time.monotonic() - began) / 60, 1)
    results["machine"] = machine()
    results["slo"] = f"p99 < {SLO_P99_MS:.0f} ms (all operations but logins) and zero errors"
    print(json.dumps(results, indent=2, default=str))


if __name__ == "__main__":
    main()
