"""The probes' answers (the API contract of /healthz and /readyz)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class Readiness(BaseModel):
    """This node can serve traffic; `checks` names each dependency's state."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"status": "ready", "checks": {"database": "ok", "redis": "not configured"}}
            ]
        }
    )

    status: Literal["ready"]
    checks: dict[str, str] = Field(
        description="database and redis: `ok`, `not configured`, or why not (on a 503)"
    )


class Liveness(BaseModel):
    """The process is up."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"status": "ok"}]})

    status: Literal["ok"]
