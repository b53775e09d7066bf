"""Users' email and display name sealed with the key ring, with a blind index for log-in.

`email_sealed` and `display_name_sealed` are AES-GCM under the key ring's data key, bound
to their table, column, tenant and user id (a value copied to another row does not open);
`email_hash` is the key ring's look-up hash of the normalised address (purpose "email"),
unique per tenant, which is what log-in, password reset and `POST /v1/users` look up. No
plaintext email or name column is left.

Existing rows are sealed here with the key ring opened on this connection (only when
there are rows: a fresh database needs no secret).

Revision ID: 0104
Revises: 0103
Create Date: 2026-11-30
"""

import uuid
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from fiscus.core.keyring import KeyRing, context_of
from fiscus.core.migrate import migration_keyring

revision: str = "0104"
down_revision: str | Sequence[str] | None = "0103"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = "0005"


def _normalise(email: str) -> str:
    # The same normalisation as identity's `normalise_email` (trimmed, lower-cased).
    return email.strip().lower()


def upgrade() -> None:
    op.add_column("users", sa.Column("email_hash", sa.LargeBinary(), nullable=True))
    op.add_column("users", sa.Column("email_sealed", sa.LargeBinary(), nullable=True))
    op.add_column("users", sa.Column("display_name_sealed", sa.LargeBinary(), nullable=True))
    connection = op.get_bind()
    rows = connection.execute(
        sa.text("SELECT tenant_id, id, email, display_name FROM users ORDER BY tenant_id, id")
    ).all()
    if rows:
        ring = migration_keyring(connection)
        connection.execute(
            sa.text(
                "UPDATE users SET email_hash = :h, email_sealed = :e, display_name_sealed = :n"
                " WHERE tenant_id = :t AND id = :i"
            ),
            [_sealed(ring, tenant, user, email, name) for tenant, user, email, name in rows],
        )
    for column in ("email_hash", "email_sealed", "display_name_sealed"):
        op.alter_column("users", column, nullable=False)
    op.drop_constraint("uq_users_tenant_id_email", "users", type_="unique")
    op.drop_constraint("ck_users_email_lower", "users", type_="check")
    op.drop_column("users", "email")
    op.drop_column("users", "display_name")
    op.create_unique_constraint(
        "uq_users_tenant_id_email_hash", "users", ["tenant_id", "email_hash"]
    )


def _sealed(
    ring: KeyRing, tenant_id: uuid.UUID, user_id: uuid.UUID, email: str, name: str
) -> dict[str, object]:
    return {
        "t": tenant_id,
        "i": user_id,
        "h": ring.lookup_hash(_normalise(email), purpose="email"),
        "e": ring.seal_text(
            _normalise(email), context=context_of("users.email_sealed", tenant_id, user_id)
        ),
        "n": ring.seal_text(
            name, context=context_of("users.display_name_sealed", tenant_id, user_id)
        ),
    }


def downgrade() -> None:
    op.add_column("users", sa.Column("email", sa.Text(), nullable=True))
    op.add_column("users", sa.Column("display_name", sa.Text(), nullable=True))
    connection = op.get_bind()
    rows = connection.execute(
        sa.text("SELECT tenant_id, id, email_sealed, display_name_sealed FROM users")
    ).all()
    if rows:
        ring = migration_keyring(connection)
        connection.execute(
            sa.text(
                "UPDATE users SET email = :e, display_name = :n WHERE tenant_id = :t AND id = :i"
            ),
            [
                {
                    "t": t,
                    "i": i,
                    "e": ring.open_text(bytes(e), context=context_of("users.email_sealed", t, i)),
                    "n": ring.open_text(
                        bytes(n), context=context_of("users.display_name_sealed", t, i)
                    ),
                }
                for t, i, e, n in rows
            ],
        )
    op.drop_constraint("uq_users_tenant_id_email_hash", "users", type_="unique")
    for column in ("email_hash", "email_sealed", "display_name_sealed"):
        op.drop_column("users", column)
    op.alter_column("users", "email", nullable=False)
    op.alter_column("users", "display_name", nullable=False)
    op.create_check_constraint("ck_users_email_lower", "users", "email = lower(email)")
    op.create_unique_constraint("uq_users_tenant_id_email", "users", ["tenant_id", "email"])
