"""Messaging personal data, step 3 of 3: drop the plaintext columns.

After 0305 every value lives in its sealed column; the plaintext copies go, and every
message has sealed content.

Revision ID: 0306
Revises: 0305
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0306"
down_revision: str | Sequence[str] | None = "0305"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PLAINTEXT = (
    ("message_profiles", "phone"),
    ("messages", "subject"),
    ("messages", "body_text"),
    ("messages", "body_html"),
    ("messages", "address"),
    ("messages", "last_error"),
    ("message_status_changes", "detail"),
)


def upgrade() -> None:
    for table, column in PLAINTEXT:
        op.drop_column(table, column)
    op.alter_column("messages", "content_sealed", nullable=False)


def downgrade() -> None:
    # Nullable until 0305's downgrade has filled them (0304's sets body_text NOT NULL).
    op.alter_column("messages", "content_sealed", nullable=True)
    for table, column in PLAINTEXT:
        op.add_column(table, sa.Column(column, sa.Text(), nullable=True))
