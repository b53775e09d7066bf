"""schemathesis over the whole OpenAPI document of a real server: no 5xx, nothing off-schema.

Runs the schemathesis CLI with every check (and its stateful phase where the document
defines links) against a real `fiscus serve` process. New routes join automatically: the
operations come from the served `/openapi.json`.
"""

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from schemathesis.core.warnings import SchemathesisWarning

from fiscus.core.migrate import upgrade
from tests.conftest import recreate_database
from tests.live import LiveServer, live_server

pytestmark = pytest.mark.xdist_group("fuzz")
MAX_EXAMPLES = 30


@pytest.fixture(scope="module")
def fuzz_server(
    server_url: str, worker_id: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[LiveServer, Path]]:
    url = recreate_database(server_url, f"fiscus_fuzz_{worker_id}")
    upgrade(url)
    log = tmp_path_factory.mktemp("fuzz") / "server.log"
    # The per-address rate limit would answer most generated requests with 429 and leave
    # the logic behind them untested; it has its own tests.
    with live_server(
        url, log_file=log, extra_env={"FISCUS_IP_REQUESTS_PER_MINUTE": "1000000"}
    ) as server:
        yield server, log


# Every warning but missing_auth: without credentials protected routes answer 401 by
# design; the role x route matrix in tests/access covers who may call what.
WARNINGS = ",".join(
    w.value for w in SchemathesisWarning if w is not SchemathesisWarning.MISSING_AUTH
)


def run_schemathesis(
    base_url: str, report: Path, *headers: str
) -> subprocess.CompletedProcess[str]:
    """Run every schemathesis check over the served document; return the finished process."""
    args = [
        str(Path(sys.executable).with_name("schemathesis")),
        "run",
        base_url + "/openapi.json",
        "--checks",
        "all",
        "--max-examples",
        str(MAX_EXAMPLES),
        "--seed",
        "20261122",
        "--request-timeout",
        "30",
        "--report",
        "junit",
        "--report-junit-path",
        str(report),
        "--no-color",
        "--warnings",
        WARNINGS,
    ]
    for header in headers:
        args += ["--header", header]
    return subprocess.run(args, capture_output=True, text=True, timeout=1200, check=False)


def test_every_operation_survives_generated_input(
    fuzz_server: tuple[LiveServer, Path], tmp_path: Path
) -> None:
    server, log = fuzz_server
    document = httpx.get(server.base_url + "/openapi.json").json()
    operations = sum(len(methods) for methods in document["paths"].values())
    result = run_schemathesis(server.base_url, tmp_path / "junit.xml")
    assert result.returncode == 0, result.stdout[-6000:]
    assert "No issues found" in result.stdout
    assert f"Tested: {operations}" in result.stdout
    # Whatever the fuzzer sent, the server never logged an unhandled error...
    assert "unhandled_error" not in log.read_text(errors="replace")
    # ...and is still serving.
    assert httpx.get(server.base_url + "/readyz").status_code == 200
