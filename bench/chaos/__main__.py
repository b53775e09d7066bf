"""`python -m bench.chaos`: run the bank-invariant-under-faults scenario and print its report."""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import signal
import tempfile
from dataclasses import asdict
from pathlib import Path

from bench.chaos.harness import FAULTS, ChaosConfig, run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of load (default 60)")
    parser.add_argument("--clients", type=int, default=32, help="concurrent writers (32-64)")
    parser.add_argument("--accounts", type=int, default=16, help="customer accounts")
    parser.add_argument(
        "--faults", default=",".join(FAULTS), help="comma-separated: " + ",".join(FAULTS)
    )
    parser.add_argument(
        "--fault-every", type=float, nargs=2, default=(6.0, 12.0), metavar=("MIN", "MAX")
    )
    parser.add_argument("--seed", type=int, default=20261122)
    parser.add_argument("--no-webhooks", action="store_true", help="skip webhook delivery checks")
    parser.add_argument("--workdir", type=Path, default=None, help="keeps journal and logs")
    args = parser.parse_args()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="fiscus-chaos-"))
    config = ChaosConfig(
        workdir=workdir,
        accounts=args.accounts,
        clients=args.clients,
        duration_s=args.duration,
        fault_every_s=tuple(args.fault_every),
        faults=tuple(args.faults.split(",")),
        seed=args.seed,
        webhooks=not args.no_webhooks,
    )
    # SIGTERM (timeout, CI) stops the run like Ctrl-C: the harness's clean-up then stops the
    # servers it started, instead of the process dying and leaving them running.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    report = asyncio.run(run(config))
    print(json.dumps({**asdict(report), "ok": report.ok, "machine": platform.platform()}, indent=2))
    print(f"journal and logs: {workdir}")
    raise SystemExit(0 if report.ok else 1)


if __name__ == "__main__":
    main()
