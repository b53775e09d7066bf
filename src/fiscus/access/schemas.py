"""API contract of the access module: tenant settings and roles."""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator

from fiscus.core.config import PLAN_NAME


class TenantSettings(BaseModel):
    """A tenant's policy knobs."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "plan": "standard",
                    "mfa_required_roles": ["owner", "admin"],
                    "max_sessions_per_user": 5,
                }
            ]
        },
    )

    # Plans are the operator's configuration (FISCUS_PLAN_LIMITS), so any configured name.
    plan: str = Field(
        "standard",
        pattern=PLAN_NAME,
        description="Rate-limit tier (set by the platform operator; leave out to keep it)",
    )
    mfa_required_roles: list[
        Annotated[str, Field(max_length=40, pattern=r"^[a-z][a-z0-9_]{1,39}$")]
    ] = Field(
        default_factory=list,
        max_length=50,
        description="Roles that must use MFA; until enrolled they may only manage themselves",
    )
    max_sessions_per_user: int | None = Field(
        None, ge=1, le=100, description="Oldest sessions end when a login passes this"
    )
    # Branding of the documents the tenant's customers get (statements, receipts). The
    # logo is small on purpose: settings are read with every authenticated request.
    brand_colour: str | None = Field(
        None, pattern=r"^#[0-9A-Fa-f]{6}$", description="Documents' accent colour, #RRGGBB"
    )
    brand_logo_png: str | None = Field(
        None,
        max_length=16_000,
        description="A small PNG logo for documents, base64 (at most 16,000 characters)",
    )

    @field_validator("brand_logo_png")
    @classmethod
    def _png(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                data = base64.b64decode(value, validate=True)
            except binascii.Error:
                raise ValueError("not base64") from None
            if not data.startswith(b"\x89PNG\r\n\x1a\n"):
                raise ValueError("not a PNG image")
        return value


class TenantRead(BaseModel):
    """A tenant as its owners see it."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "019a9f0e-3c1e-7f60-a1b2-6c0ffee00001",
                    "slug": "acme",
                    "name": "Acme",
                    "status": "active",
                    "settings": {"plan": "standard"},
                    "created_at": "2026-11-22T14:05:00.123Z",
                }
            ]
        }
    )

    id: str
    slug: str
    name: str
    status: str
    settings: TenantSettings
    created_at: datetime


class RoleWrite(BaseModel):
    """A custom role: a name and permissions from the policy table."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "name": "auditor",
                    "description": "Reads the audit trail",
                    "permissions": ["audit:read", "self:read", "self:manage"],
                }
            ]
        },
    )

    name: str = Field(pattern=r"^[a-z][a-z0-9_]{1,39}$")
    description: str = Field("", max_length=500, pattern=r"^[^\x00]*$")
    permissions: list[Annotated[str, Field(max_length=80, pattern=r"^[a-z_]+:[a-z_]+$")]] = Field(
        max_length=100
    )


class RoleRead(BaseModel):
    """A role (built-in or custom) and its permissions."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "name": "analyst",
                    "description": "Read-only",
                    "builtin": True,
                    "permissions": ["audit:read", "self:read"],
                }
            ]
        }
    )

    name: str
    description: str
    builtin: bool
    permissions: list[str]
    updated_at: datetime | None = None
