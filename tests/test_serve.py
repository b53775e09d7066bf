"""`fiscus serve` end to end: embedded PostgreSQL from an empty folder, served, stopped cleanly."""

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.xdist_group("embedded")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_ready(url: str, process: subprocess.Popen[bytes], attempts: int = 240) -> httpx.Response:
    for _ in range(attempts):
        assert process.poll() is None, "fiscus serve exited early"
        try:
            response = httpx.get(url, timeout=2)
            if response.status_code == 200:
                return response
        except httpx.TransportError:
            pass
        time.sleep(0.25)
    raise AssertionError("fiscus serve never became ready")


def test_serve_on_the_embedded_database_answers_and_stops_cleanly(tmp_path: Path) -> None:
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("FISCUS_")}
    env.update({"FISCUS_DATA_DIR": str(tmp_path / "data"), "FISCUS_PORT": str(port)})
    process = subprocess.Popen(
        [sys.executable, "-m", "fiscus.cli", "serve"],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        ready = _wait_ready(base + "/readyz", process)
        assert ready.json()["checks"]["database"] == "ok"
        assert httpx.get(base + "/healthz").json() == {"status": "ok"}
        assert httpx.get(base + "/docs").status_code == 200
        assert "fiscus_http_requests_total" in httpx.get(base + "/metrics").text
        secret = tmp_path / "data" / "secret_key"
        assert secret.exists()
    finally:
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=60)
    assert process.returncode == 0, stderr.decode()[-2000:]
    # The embedded server was stopped, not left running.
    assert not (tmp_path / "data" / "pgdata" / "postmaster.pid").exists()
