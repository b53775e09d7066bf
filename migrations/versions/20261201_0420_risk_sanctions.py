"""Risk: the sanctions lists the operator loads, and their entries.

Global tables (no tenant_id, no row-level security): one list binds every tenant alike.
The tenant role `fiscus_app` may read them, to screen names inside a tenant's unit of
work, but not write them: only the operator's CLI, as the login role, loads a list.

Revision ID: 0420
Revises: 0402
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0420"
down_revision: str | Sequence[str] | None = "0402"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "sanctions_lists",
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("version", sa.Uuid(), nullable=False),
        sa.Column("entry_count", sa.Integer(), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("sha256", sa.Text(), nullable=False),
        sa.Column("loaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_sanctions_lists"),
        sa.CheckConstraint(
            "name ~ '^[a-z0-9][a-z0-9_.-]{0,62}$'", name="ck_sanctions_lists_name_format"
        ),
        sa.CheckConstraint("entry_count > 0", name="ck_sanctions_lists_entry_count_positive"),
    )
    op.create_table(
        "sanctions_entries",
        sa.Column("list_name", sa.Text(), nullable=False),
        sa.Column("entry_id", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("aliases", postgresql.ARRAY(sa.Text()), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("country", sa.Text(), nullable=True),
        sa.Column("match_keys", postgresql.ARRAY(sa.Text()), nullable=False),
        sa.PrimaryKeyConstraint("list_name", "entry_id", name="pk_sanctions_entries"),
        sa.ForeignKeyConstraint(
            ["list_name"],
            ["sanctions_lists.name"],
            name="fk_sanctions_entries_list",
            ondelete="CASCADE",
        ),
        sa.CheckConstraint(
            "kind IN ('individual', 'entity', 'vessel', 'aircraft')",
            name="ck_sanctions_entries_kind",
        ),
        sa.CheckConstraint(
            "country IS NULL OR country ~ '^[A-Z]{2}$'", name="ck_sanctions_entries_country_format"
        ),
        sa.CheckConstraint(
            "cardinality(match_keys) = 1 + cardinality(aliases)",
            name="ck_sanctions_entries_match_keys_per_name",
        ),
    )
    for table in ("sanctions_lists", "sanctions_entries"):
        op.execute(f"REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON {table} FROM fiscus_app")


def downgrade() -> None:
    op.drop_table("sanctions_entries")
    op.drop_table("sanctions_lists")
