"""Exchange rates are positive and belong to two-currency transfers (issue 10, item 13).

- `ledger_post_new` v2 refuses, with a result code, a rate that is not a positive decimal,
  a rate on a transfer whose legs move one currency, and a rate whose two currencies are
  not the transfer's.
- A CHECK on `ledger_transfers` refuses a stored rate that is not a positive decimal,
  whatever SQL writes it (the batch writes transfers without the posting function).
  Transfers are never changed, so rows stored before this revision are kept as they are:
  the constraint is validated only when none of them breaks it.

Revision ID: 0205
Revises: 0204
Create Date: 2026-12-01
"""

from collections.abc import Sequence

from alembic import op

from fiscus.ledger.sql import sql_load

revision: str = "0205"
down_revision: str | Sequence[str] | None = "0204"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

POST_NEW_V2 = "da7f47d5be497cfcc29243d5c303af7a3f8e9a04d0a94741efd6804ad6a190d9"
POST_NEW_V1 = "4eaf29e94f9113707304c82cb28458414a0ce5cb4d50f0181d62d942d5135e2e"
# CASE fixes the order: the cast runs only on a string that is a decimal.
RATE_IS_POSITIVE = (
    "fx IS NULL OR CASE WHEN fx ->> 'rate' ~ '^\\d{1,12}(\\.\\d{1,12})?$'"
    " THEN (fx ->> 'rate')::numeric > 0 ELSE false END"
)

VALIDATE_IF_CLEAN = """
DO $$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM ledger_transfers WHERE NOT ({rule})) THEN
    ALTER TABLE ledger_transfers VALIDATE CONSTRAINT ck_ledger_transfers_fx_rate_positive;
  END IF;
END $$
"""


def upgrade() -> None:
    op.execute(sql_load("ledger_post_new.v2.sql", sha256=POST_NEW_V2))
    op.execute(
        "ALTER TABLE ledger_transfers ADD CONSTRAINT ck_ledger_transfers_fx_rate_positive"
        f" CHECK ({RATE_IS_POSITIVE}) NOT VALID"
    )
    op.execute(VALIDATE_IF_CLEAN.replace("{rule}", RATE_IS_POSITIVE))


def downgrade() -> None:
    op.execute("ALTER TABLE ledger_transfers DROP CONSTRAINT ck_ledger_transfers_fx_rate_positive")
    op.execute(sql_load("ledger_post_new.v1.sql", sha256=POST_NEW_V1))
