"""The service definitions in docs/deploy/ agree with how fiscus stops (issue 22)."""

from __future__ import annotations

import re
from pathlib import Path

from fiscus.core.config import Settings

DEPLOY = Path(__file__).resolve().parents[1] / "docs" / "deploy"


def _shutdown_default_s() -> float:
    return float(Settings.model_fields["shutdown_timeout_s"].default)


def test_the_systemd_unit_sends_sigterm_to_fiscus_only_and_waits_longer_than_the_drain() -> None:
    unit = (DEPLOY / "fiscus.service").read_text()
    assert re.search(r"^KillSignal=SIGTERM$", unit, re.MULTILINE)
    assert re.search(r"^KillMode=mixed$", unit, re.MULTILINE)
    drain = float(re.findall(r"^Environment=FISCUS_SHUTDOWN_TIMEOUT_S=(\d+)$", unit, re.M)[0])
    assert drain == _shutdown_default_s()
    stop = float(re.findall(r"^TimeoutStopSec=(\d+)$", unit, re.MULTILINE)[0])
    assert stop >= drain + 20


def test_the_containerfile_stops_with_sigterm_and_checks_readiness() -> None:
    containerfile = (DEPLOY / "Containerfile").read_text()
    assert re.search(r"^STOPSIGNAL SIGTERM$", containerfile, re.MULTILINE)
    assert "HEALTHCHECK" in containerfile and "/readyz" in containerfile
    drain = float(re.findall(r"FISCUS_SHUTDOWN_TIMEOUT_S=(\d+)", containerfile)[0])
    assert drain == _shutdown_default_s()
    stop = float(re.findall(r"--stop-timeout (\d+)", containerfile)[0])
    assert stop >= drain + 20
