"""Tables of the access module: tenants, memberships (user x tenant x role), custom roles."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Index, Text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from fiscus.core.models import Base
from fiscus.core.tenancy import TenantScoped


class Tenant(Base):
    """An organisation. Not tenant-owned itself: it is the directory logins resolve slugs in."""

    __tablename__ = "tenants"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(Text, unique=True)
    name: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(Text)  # active | suspended
    # plan, mfa_required_roles, max_sessions_per_user (see access.schemas.TenantSettings).
    settings: Mapped[dict[str, Any]]
    created_at: Mapped[datetime]


class Membership(TenantScoped, Base):
    """A user's place in one tenant: their role there and whether it is active."""

    __tablename__ = "memberships"
    __table_args__ = (Index("ix_memberships_user_id", "user_id"),)

    tenant_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    role: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(Text)  # active | disabled
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class Role(TenantScoped, Base):
    """A tenant-defined custom role: a name and a set of permissions from the policy table."""

    __tablename__ = "roles"

    tenant_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(Text, primary_key=True)
    description: Mapped[str] = mapped_column(Text)
    permissions: Mapped[list[str]] = mapped_column(ARRAY(Text))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
