"""Risk tables: the sanctions lists the operator loads, and their entries (global, read-only
for tenants; see the package docstring)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ARRAY, CheckConstraint, ForeignKeyConstraint, Integer, Text
from sqlalchemy.orm import Mapped, mapped_column

from fiscus.core.models import Base

# A list's name as the CLI takes it (`--list ofac-sdn`): short, lower case, no spaces.
LIST_NAME_PATTERN = "^[a-z0-9][a-z0-9_.-]{0,62}$"
ENTRY_KINDS = ("individual", "entity", "vessel", "aircraft")


class SanctionsList(Base):
    """One loaded list; `version` changes with every load (process caches key on it)."""

    __tablename__ = "sanctions_lists"
    __table_args__ = (
        CheckConstraint(f"name ~ '{LIST_NAME_PATTERN}'", name="name_format"),
        CheckConstraint("entry_count > 0", name="entry_count_positive"),
    )

    name: Mapped[str] = mapped_column(Text, primary_key=True)
    version: Mapped[uuid.UUID]
    entry_count: Mapped[int] = mapped_column(Integer)
    source: Mapped[str] = mapped_column(Text)  # the file's name as loaded
    sha256: Mapped[str] = mapped_column(Text)  # of the file's bytes, to tell two loads apart
    loaded_at: Mapped[datetime]


class SanctionsEntry(Base):
    """A listed person, entity, vessel or aircraft, with its names in normal form."""

    __tablename__ = "sanctions_entries"
    __table_args__ = (
        ForeignKeyConstraint(
            ["list_name"],
            ["sanctions_lists.name"],
            name="fk_sanctions_entries_list",
            ondelete="CASCADE",
        ),
        CheckConstraint(f"kind IN {ENTRY_KINDS!r}", name="kind"),
        CheckConstraint("country IS NULL OR country ~ '^[A-Z]{2}$'", name="country_format"),
        # match_keys[1] is the name's normal form, then one per alias, in order.
        CheckConstraint(
            "cardinality(match_keys) = 1 + cardinality(aliases)", name="match_keys_per_name"
        ),
    )

    list_name: Mapped[str] = mapped_column(Text, primary_key=True)
    entry_id: Mapped[str] = mapped_column(Text, primary_key=True)  # the list's own id
    name: Mapped[str] = mapped_column(Text)
    aliases: Mapped[list[str]] = mapped_column(ARRAY(Text))
    kind: Mapped[str] = mapped_column(Text)
    country: Mapped[str | None] = mapped_column(Text)
    match_keys: Mapped[list[str]] = mapped_column(ARRAY(Text))
