"""Which operations the suite reaches with a success (2xx).

    FISCUS_TEST_ROUTES=/tmp/routes.log make test
    .venv/bin/python -m tests.route_coverage /tmp/routes.log

The `client` fixture appends "METHOD /path/{template}" for each 2xx it receives when the
variable is set; the module then lists every operation of the app that no test answered
with a success. Requests from clients that tests build themselves are not counted.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx
from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts
from starlette.routing import compile_path

ENV = "FISCUS_TEST_ROUTES"


def _routes(app: FastAPI) -> list[tuple[str, re.Pattern[str], str]]:
    """(method, path regex, OpenAPI path template) of every API route of the app."""
    found = []
    for context in iter_route_contexts(app.routes):
        if isinstance(context.route, APIRoute):
            regex, _, _ = compile_path(context.path)
            # Path convertors (`{account_id:uuid}`) do not appear in the OpenAPI paths.
            template = re.sub(r":[a-z]+}", "}", context.path)
            found += [(method, regex, template) for method in context.route.methods]
    return found


def route_of(app: FastAPI, method: str, path: str) -> str | None:
    """The route template of the app that serves `method path`, if any."""
    matches = (t for m, regex, t in _routes(app) if m == method and regex.fullmatch(path))
    return next(matches, None)


def recorder(app: FastAPI) -> Callable[[httpx.Response], Awaitable[None]] | None:
    """An httpx response hook logging successes to $FISCUS_TEST_ROUTES, or None if unset."""
    target = os.environ.get(ENV)
    if not target:
        return None

    async def record(response: httpx.Response) -> None:
        if 200 <= response.status_code < 300:
            method = response.request.method
            template = route_of(app, method, response.request.url.path)
            if template is not None:
                # A line per success: small appends from the xdist workers do not interleave.
                with Path(target).open("a") as log:  # noqa: ASYNC230 -- a test-only log line
                    log.write(f"{method} {template}\n")

    return record


def main() -> None:
    """Print the operations no test answered with a success; exit 1 if there are any."""
    from fiscus.api import create_app
    from tests.access.test_matrix import operations
    from tests.conftest import make_settings

    app = create_app(make_settings("postgresql://unused@127.0.0.1/unused"))
    seen = set(Path(sys.argv[1]).read_text().splitlines())
    missing = [f"{m} {p}" for m, p, _ in operations(app) if f"{m} {p}" not in seen]
    sys.stdout.write("\n".join(missing) or "every operation has a success-path test")
    sys.stdout.write("\n")
    raise SystemExit(1 if missing else 0)


if __name__ == "__main__":
    main()
