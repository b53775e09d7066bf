"""Ledger functions from versioned files: every ledger PL/pgSQL function, as of 0201-0203.

From here on the definition of each ledger function lives in
`src/fiscus/ledger/sql/<function>.v<N>.sql` (one place to read them all). This revision
loads the v1 files, which are the definitions of 0201, 0202 and 0203 written as
`CREATE OR REPLACE` with their planner settings inline, so the database is unchanged. Each
file is pinned by SHA-256: an edited file makes this migration fail instead of silently
changing what an older revision installs.

Revision ID: 0204
Revises: 0203
Create Date: 2026-12-01
"""

from collections.abc import Sequence

from alembic import op

from fiscus.ledger.sql import sql_load

revision: str = "0204"
down_revision: str | Sequence[str] | None = "0203"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# In dependency order (a function is created after the ones it calls, for readability;
# PL/pgSQL resolves calls at run time).
FILES = {
    "ledger_refuse_change.v1.sql": "dd505b4a2b7f0d32788dc1258e7704acbafe2d8bec0785af144eef74fbd246dd",
    "ledger_guard_transfer_change.v1.sql": (
        "211d5566e8568d9d70183b4a3acbf216f212ba3ad7eff6f513a64623e9619ad8"
    ),
    "ledger_check_balanced.v1.sql": "154f9b1edf082c97cd7a0c24acfa917d3fee492bc0ecc4fa60f3be7fb2f771a7",
    "ledger_apply.v1.sql": "3af655540f4c26a4014c72477eae8533122b82a0aba18fe16d86bde11e15b3e0",
    "ledger_emit.v1.sql": "22cbc1fa5582f98126034b5d318222f3b18b7fad71780753ac8488d52e351c34",
    "ledger_check_legs.v1.sql": "dac97b2f0684774a4037ebd9eb0b4b42fea47e59b7bc84ae18cbf807fb1c9367",
    "ledger_find.v1.sql": "9efbe699fcabe4777d016db51140139cfc3d0db464f5b9354cff2b499b619acc",
    "ledger_compare.v1.sql": "888b933959348001a614c00fbe54564319396d32e5af74f39d87ad6bbecd2b31",
    "ledger_post_new.v1.sql": "4eaf29e94f9113707304c82cb28458414a0ce5cb4d50f0181d62d942d5135e2e",
    "ledger_post.v1.sql": "7498985d9e106ebbef390018604a6c7b44545ec959a439e6ec11fdd55448d5a4",
    "ledger_resolve.v1.sql": "4a50dcafbad816378e562d00c40b76b694a22a96cf32d43a56263f78a97a7745",
    "ledger_reverse.v1.sql": "a14c62b46499e1f4ce6df4fe29cb9265469ada50af7d973cf3d5ddc70627a4a9",
    "ledger_post_batch.v1.sql": "820075519ecb5196e1e07e20d246b66d53f1c832da8d0193872e6e1aa2f449e7",
}


def upgrade() -> None:
    for name, sha256 in FILES.items():
        op.execute(sql_load(name, sha256=sha256))


def downgrade() -> None:
    # The v1 files are the definitions 0201-0203 installed: nothing to undo.
    pass
