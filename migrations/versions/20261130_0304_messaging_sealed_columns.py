"""Messaging personal data, step 1 of 3: columns for the sealed values.

Phone numbers, recipient addresses, subjects and bodies, errors and history notes are
stored sealed with the key ring from now on (`messaging/_sealing.py`). This adds the
columns; 0305 seals the existing rows into them; 0306 drops the plaintext columns.

Revision ID: 0304
Revises: 0303
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0304"
down_revision: str | Sequence[str] | None = "0303"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = (
    ("message_profiles", "phone_sealed"),
    ("messages", "content_sealed"),
    ("messages", "address_sealed"),
    ("messages", "last_error_sealed"),
    ("message_status_changes", "detail_sealed"),
)


def upgrade() -> None:
    # All nullable here: 0306 makes content_sealed required once every row has one.
    for table, column in COLUMNS:
        op.add_column(table, sa.Column(column, sa.LargeBinary(), nullable=True))


def downgrade() -> None:
    op.alter_column("messages", "body_text", nullable=False)
    for table, column in COLUMNS:
        op.drop_column(table, column)
