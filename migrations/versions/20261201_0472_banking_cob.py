"""Banking close of business: runs, their steps, and the tenant's COB settings.

Revision ID: 0472
Revises: 0471
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0472"
down_revision: str | Sequence[str] | None = "0471"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

RUNS = "banking_cob_runs"
STEPS = "banking_cob_steps"
SETTINGS = "banking_cob_settings"
MOMENT = sa.DateTime(timezone=True)


def _runs() -> None:
    op.create_table(
        RUNS,
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("business_date", sa.Date(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("started_by", sa.Uuid(), nullable=True),
        sa.Column("started_at", MOMENT, nullable=False),
        sa.Column("finished_at", MOMENT, nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("tenant_id", "id", name="pk_banking_cob_runs"),
        sa.CheckConstraint(
            "status IN ('running', 'completed', 'failed')", name="ck_banking_cob_runs_status"
        ),
        sa.UniqueConstraint(
            "tenant_id", "business_date", name="uq_banking_cob_runs_tenant_id_business_date"
        ),
    )


def _steps() -> None:
    op.create_table(
        STEPS,
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("run_id", sa.Uuid(), nullable=False),
        sa.Column("step", sa.Text(), nullable=False),
        sa.Column("position", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.Column("cutoff", MOMENT, nullable=True),
        sa.Column("started_at", MOMENT, nullable=True),
        sa.Column("finished_at", MOMENT, nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("tenant_id", "run_id", "step", name="pk_banking_cob_steps"),
        sa.ForeignKeyConstraint(
            ["tenant_id", "run_id"],
            [f"{RUNS}.tenant_id", f"{RUNS}.id"],
            name="fk_banking_cob_steps_run",
            ondelete="CASCADE",
        ),
        sa.CheckConstraint(
            "status IN ('pending', 'running', 'completed', 'failed')",
            name="ck_banking_cob_steps_status",
        ),
        sa.CheckConstraint("position BETWEEN 1 AND 20", name="ck_banking_cob_steps_position"),
    )


def upgrade() -> None:
    _runs()
    _steps()
    op.create_table(
        SETTINGS,
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("dormancy_days", sa.BigInteger(), nullable=False),
        sa.Column("updated_by", sa.Uuid(), nullable=True),
        sa.Column("updated_at", MOMENT, nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", name="pk_banking_cob_settings"),
        sa.CheckConstraint(
            "dormancy_days BETWEEN 30 AND 3650", name="ck_banking_cob_settings_dormancy_days"
        ),
    )
    for table in (RUNS, STEPS, SETTINGS):
        op.execute(f"SELECT fiscus_enable_tenant_rls('{table}')")


def downgrade() -> None:
    for table in (SETTINGS, STEPS, RUNS):
        op.drop_table(table)
