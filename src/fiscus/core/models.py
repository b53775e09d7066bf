"""Declarative base shared by every module's tables, and the tables `core` owns."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    DateTime,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Text,
    Uuid,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Base for every table. Timestamps are always timezone-aware; JSON is JSONB."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {
        datetime: DateTime(timezone=True),
        dict[str, Any]: JSONB,
        uuid.UUID: Uuid(as_uuid=True),
        int: BigInteger,
    }


def import_all_models() -> None:
    """Import every `fiscus.<module>.models` (and core's tables) so metadata is complete.

    Modules register their sealed columns (the key ring's rotation list) next to their
    tables, so this also completes that list for `fiscus keys`.
    """
    import importlib
    import pkgutil

    import fiscus

    importlib.import_module("fiscus.core.events")
    importlib.import_module("fiscus.core.idempotency")
    for module in pkgutil.iter_modules(fiscus.__path__):
        if module.ispkg:
            try:
                importlib.import_module(f"fiscus.{module.name}.models")
            except ModuleNotFoundError as error:
                if error.name != f"fiscus.{module.name}.models":
                    raise


class IdempotencyKey(Base):
    """A remembered request and its response, per tenant and key, for 24 hours."""

    __tablename__ = "idempotency_keys"

    tenant_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(Text, primary_key=True)
    method: Mapped[str] = mapped_column(Text)
    path: Mapped[str] = mapped_column(Text)
    request_hash: Mapped[bytes] = mapped_column(LargeBinary)
    status_code: Mapped[int | None] = mapped_column(Integer)
    response_body: Mapped[bytes | None] = mapped_column(LargeBinary)
    response_headers: Mapped[dict[str, Any] | None]
    created_at: Mapped[datetime]
    locked_until: Mapped[datetime]
    expires_at: Mapped[datetime] = mapped_column(index=True)


class EncryptionKey(Base):
    """A data or index key of the key ring, wrapped by a key derived from the root secret.

    Read and written only by the login role (system work); tenant transactions cannot see
    it (migration 0005 revokes the `fiscus_app` role's access).
    """

    __tablename__ = "encryption_keys"
    __table_args__ = (
        # One index key, ever: replacing it would orphan every stored look-up hash.
        Index(
            "uq_encryption_keys_index",
            "purpose",
            unique=True,
            postgresql_where=text("purpose = 'index'"),
        ),
    )

    id: Mapped[str] = mapped_column(Text, primary_key=True)
    purpose: Mapped[str] = mapped_column(Text)  # data | index
    wrapped: Mapped[bytes] = mapped_column(LargeBinary)
    wrapped_by: Mapped[str] = mapped_column(Text)  # id of the root secret that wrapped it
    created_at: Mapped[datetime]
    # When it became the key new values are sealed with; null while it is being rolled out.
    activated_at: Mapped[datetime | None]
