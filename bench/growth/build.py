"""Building the data the growth curves need: accounts in bulk, entries set-based.

Accounts go in with COPY into `ledger_accounts`. The table has no trigger; its CHECK,
NOT NULL and unique constraints hold for COPY as for any insert. What the bulk path leaves
out is what `service.account_create` adds around the row: an audit row and an event.

Entries go in set-based, with every ledger trigger ON: per chunk, one INSERT of the
transfers, one INSERT of their two legs (the history account's debit, its counterpart's
credit), both accounts' balances and versions moved in the same transaction. The deferred
constraint trigger `ledger_entries_balanced` checks every transfer at commit, exactly as
for a posting. Versions and `recorded_at` grow together, as the posting functions make them.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable

import psycopg
from psycopg import sql

from fiscus.core.db import libpq_url

ACCOUNT_COPY = (
    "COPY ledger_accounts (tenant_id, id, code, name, currency, type, normal_side, created_at)"
    " FROM STDIN"
)

# Transfer ids as UUIDv7-shaped values from the position (time-ordered, like the service's).
ID_FUNCTION = """
CREATE OR REPLACE FUNCTION growth_transfer_id(g bigint) RETURNS uuid
  LANGUAGE sql IMMUTABLE AS $$
  SELECT (lpad(to_hex(g), 12, '0') || '7000' || '8000' || lpad(to_hex(g), 12, '0'))::uuid
$$;
"""

# One chunk of postings: transfers lo..hi, each 1 minor unit from `other` to `history`.
# Legs are inserted transfer by transfer, so the balance trigger checks each transfer once.
TRANSFERS = (
    "INSERT INTO ledger_transfers (tenant_id, id, kind, status, pending, currency, amount,"
    " effective_at, recorded_at)"
    " SELECT %(t)s, growth_transfer_id(g), 'transfer', 'posted', false, 'EUR', 1,"
    " %(start)s::timestamptz + g * interval '1 ms', %(start)s::timestamptz + g * interval '1 ms'"
    " FROM generate_series(%(lo)s::bigint, %(hi)s::bigint) s(g)"
)
ENTRIES = (
    "INSERT INTO ledger_entries (tenant_id, transfer_id, leg, account_id, currency, direction,"
    " posted_amount, pending_amount, account_version, debits_pending, debits_posted,"
    " credits_pending, credits_posted, recorded_at)"
    " SELECT %(t)s, growth_transfer_id(s.g), l.leg,"
    " CASE l.leg WHEN 0 THEN %(h)s::uuid ELSE %(o)s::uuid END, 'EUR',"
    " CASE l.leg WHEN 0 THEN 'debit' ELSE 'credit' END, 1, 0, s.g, 0,"
    " CASE l.leg WHEN 0 THEN s.g ELSE 0 END, 0, CASE l.leg WHEN 0 THEN 0 ELSE s.g END,"
    " %(start)s::timestamptz + s.g * interval '1 ms'"
    " FROM generate_series(%(lo)s::bigint, %(hi)s::bigint) s(g)"
    " CROSS JOIN (VALUES (0), (1)) l(leg) ORDER BY s.g, l.leg"
)
BALANCES = (
    "UPDATE ledger_accounts SET debits_posted = debits_posted + %(n)s, version = %(hi)s"
    " WHERE tenant_id = %(t)s AND id = %(h)s",
    "UPDATE ledger_accounts SET credits_posted = credits_posted + %(n)s, version = %(hi)s"
    " WHERE tenant_id = %(t)s AND id = %(o)s",
)
START = "2020-01-01T00:00:00Z"


def drop(url: str) -> None:
    """Drop the database of `url` (made by `ledger_bench.recreate`)."""
    name = str(psycopg.conninfo.conninfo_to_dict(libpq_url(url))["dbname"])
    admin = psycopg.conninfo.make_conninfo(libpq_url(url), dbname="postgres")
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


def account_ids(n: int, seed: int = 3) -> list[uuid.UUID]:
    """n random account ids, the same for the same seed."""
    draw = random.Random(seed).getrandbits
    return [uuid.UUID(int=draw(128), version=4) for _ in range(n)]


def add_accounts(
    url: str,
    tenant: uuid.UUID,
    ids: list[uuid.UUID],
    first: int,
    advance: Callable[[int], None],
    chunk: int = 50_000,
) -> None:
    """COPY `ids` (numbered from `first`) into the tenant, `advance` called per chunk."""
    with psycopg.connect(libpq_url(url)) as connection:
        for start in range(0, len(ids), chunk):
            with connection.cursor().copy(ACCOUNT_COPY) as copy:
                for i, account_id in enumerate(ids[start : start + chunk], start=first + start):
                    copy.write_row(
                        (
                            tenant,
                            account_id,
                            f"acc-{i}",
                            f"Account {i}",
                            "EUR",
                            "asset",
                            "debit",
                            "now",
                        )
                    )
            connection.commit()
            advance(len(ids[start : start + chunk]))
    analyze(url, "ledger_accounts")


def analyze(url: str, *tables: str) -> None:
    """VACUUM ANALYZE the tables (fresh statistics after a bulk load)."""
    with psycopg.connect(libpq_url(url), autocommit=True) as connection:
        for table in tables:
            connection.execute(sql.SQL("VACUUM ANALYZE {}").format(sql.Identifier(table)))


def add_entries(
    url: str,
    tenant: uuid.UUID,
    history: uuid.UUID,
    other: uuid.UUID,
    done: int,
    target: int,
    advance: Callable[[int], None],
    chunk: int = 250_000,
) -> None:
    """Post transfers done+1..target (other -> history), one transaction per chunk."""
    with psycopg.connect(libpq_url(url)) as connection:
        connection.execute(ID_FUNCTION)
        connection.commit()
        for lo in range(done + 1, target + 1, chunk):
            hi = min(target, lo + chunk - 1)
            params = {
                "t": tenant, "h": history, "o": other, "lo": lo, "hi": hi, "n": hi - lo + 1,
                "start": START,
            }  # fmt: skip
            for statement in (TRANSFERS, ENTRIES, *BALANCES):
                connection.execute(statement, params)
            connection.commit()  # the deferred balance trigger runs here, per transfer
            advance(hi - lo + 1)
    analyze(url, "ledger_transfers", "ledger_entries", "ledger_accounts")
