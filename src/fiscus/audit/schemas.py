"""API contract of the audit trail."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict


class AuditEventRead(BaseModel):
    """One audit record."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "019a9f0e-3c1e-7f60-a1b2-6c0ffee00001",
                    "occurred_at": "2026-11-22T14:05:00.123Z",
                    "actor_type": "user",
                    "actor_id": "019a9f0e-3c1e-7f60-a1b2-6c0ffee00002",
                    "api_key_id": None,
                    "action": "user.updated",
                    "outcome": "success",
                    "object_type": "user",
                    "object_id": "019a9f0e-3c1e-7f60-a1b2-6c0ffee00003",
                    "changes": {"fields": {"role": {"before": "analyst", "after": "operator"}}},
                    "ip": "203.0.113.5",
                    "user_agent": "curl/8",
                    "request_id": "019a9f0e-3c1e-7f60-a1b2-6c0ffee00004",
                    "chain_seq": 42,
                }
            ]
        }
    )

    id: str
    occurred_at: datetime
    actor_type: str
    actor_id: str | None
    api_key_id: str | None
    action: str
    outcome: str
    object_type: str | None
    object_id: str | None
    changes: dict[str, Any]
    ip: str | None
    user_agent: str | None
    request_id: str | None
    chain_seq: int | None
