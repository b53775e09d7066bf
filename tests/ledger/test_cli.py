"""`fiscus ledger verify` and `fiscus ledger trial-balance` against the real database."""

from __future__ import annotations

import psycopg

from fiscus.core.db import Database, libpq_url
from tests.ledger.factories import ledger_context, move, open_account
from tests.test_cli import fiscus


async def test_verify_passes_then_reports_a_tampered_balance(
    db: Database, clean_database: str
) -> None:
    ctx = ledger_context()
    a = await open_account(db, ctx, normal_side="debit")
    b = await open_account(db, ctx)
    await move(db, ctx, a.id, b.id, 30)
    healthy = fiscus("ledger", "verify", url=clean_database)
    assert healthy.returncode == 0, healthy.stderr
    assert "match the sum of their entries" in healthy.stderr
    assert fiscus("ledger", "trial-balance", url=clean_database).returncode == 0
    with psycopg.connect(libpq_url(clean_database)) as connection:
        connection.execute("UPDATE ledger_accounts SET credits_posted = 31 WHERE id = %s", (b.id,))
    broken = fiscus("ledger", "verify", url=clean_database)
    assert broken.returncode == 1
    assert str(b.id) in broken.stdout.replace("\n", "")
    unbalanced = fiscus("ledger", "trial-balance", url=clean_database)
    assert unbalanced.returncode == 1
