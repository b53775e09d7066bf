"""Banking: staff resolve incoming credits booked to suspense (book on, or return).

Revision ID: 0461
Revises: 0460
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0461"
down_revision: str | Sequence[str] | None = "0460"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLE = "banking_incoming_credits"
COLUMNS = (
    ("resolution", sa.Text()),
    ("resolved_account_id", sa.Uuid()),
    ("resolution_transfer_id", sa.Uuid()),
    ("return_reason_code", sa.Text()),
    ("resolved_by", sa.Uuid()),
    ("resolved_at", sa.DateTime(timezone=True)),
)
CHECKS = (
    ("resolution", "resolution IN ('booked', 'returned')"),
    (
        "resolved",
        "resolution IS NULL OR (booked_to = 'suspense' AND resolved_at IS NOT NULL"
        " AND resolution_transfer_id IS NOT NULL)",
    ),
    ("resolved_account", "(resolution = 'booked') = (resolved_account_id IS NOT NULL)"),
)


def upgrade() -> None:
    for name, type_ in COLUMNS:
        op.add_column(TABLE, sa.Column(name, type_, nullable=True))
    for name, condition in CHECKS:
        op.create_check_constraint(op.f(f"ck_{TABLE}_{name}"), TABLE, condition)


def downgrade() -> None:
    for name, _ in CHECKS:
        op.drop_constraint(op.f(f"ck_{TABLE}_{name}"), TABLE)
    for name, _ in COLUMNS:
        op.drop_column(TABLE, name)
