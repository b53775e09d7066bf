"""A digest of every table a refused request must leave alone, to prove "no state change"."""

from __future__ import annotations

import psycopg
from psycopg import sql

from fiscus.core.db import libpq_url

# Everything a request can write: the ledger, the outbox, the audit trail, idempotency
# keys, jobs, webhook deliveries and messages. Sessions and login events are left out:
# authenticating a request may touch them whatever the body.
STATE_TABLES = (
    "ledger_accounts",
    "ledger_transfers",
    "ledger_entries",
    "events",
    "audit_events",
    "idempotency_keys",
    "procrastinate_jobs",
    "webhook_deliveries",
    "messages",
)


async def state_digest(database_url: str) -> dict[str, tuple[int, str]]:
    """Per table: the row count and an md5 over every row's text, in a stable order."""
    digest: dict[str, tuple[int, str]] = {}
    async with await psycopg.AsyncConnection.connect(libpq_url(database_url)) as connection:
        for table in STATE_TABLES:
            statement = sql.SQL(
                "SELECT count(*), coalesce(md5(string_agg(t::text, '|' ORDER BY t::text)), '')"
                " FROM {} AS t"
            ).format(sql.Identifier(table))
            cursor = await connection.execute(statement)
            row = await cursor.fetchone()
            assert row is not None
            digest[table] = (int(row[0]), str(row[1]))
    return digest
