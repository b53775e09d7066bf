"""`ledger_post_batch` v2 passes each item's exchange rate to `ledger_post`.

v1 passed NULL, so a batch that reused a stored transfer's id (the path that goes through
this function) stored its new items without their `fx`. The argument list grows, which
makes a new function rather than a replacement: v1 is dropped first.

Revision ID: 0206
Revises: 0205
Create Date: 2026-12-01
"""

from collections.abc import Sequence

from alembic import op

from fiscus.ledger.sql import sql_load

revision: str = "0206"
down_revision: str | Sequence[str] | None = "0205"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BATCH_V1 = "820075519ecb5196e1e07e20d246b66d53f1c832da8d0193872e6e1aa2f449e7"
BATCH_V2 = "8a3fe2f7614666b70d09576061b2c00fcab386e37ac187ae4635644610a79894"
V1_ARGUMENTS = (
    "uuid, boolean, timestamptz, uuid[], boolean[], text[], text[], integer[], boolean[],"
    " integer[], timestamptz[], text[], jsonb[], boolean[], uuid[], text[], bigint[], text[],"
    " uuid[]"
)


def upgrade() -> None:
    op.execute(f"DROP FUNCTION ledger_post_batch({V1_ARGUMENTS})")
    op.execute(sql_load("ledger_post_batch.v2.sql", sha256=BATCH_V2))


def downgrade() -> None:
    op.execute(f"DROP FUNCTION ledger_post_batch({V1_ARGUMENTS}, jsonb[])")
    op.execute(sql_load("ledger_post_batch.v1.sql", sha256=BATCH_V1))
