"""A whole tenant-scoped transaction in one network round trip, for the hot paths.

`BEGIN; <tenant switch>; <statement>; COMMIT` goes out as one simple-protocol query with
the parameters bound client-side (psycopg's own literal quoting). The tenant switch is the
same pair of `set_config` calls as UnitOfWork.__aenter__, so row-level security binds the
statement exactly as in a unit of work. On an error the server skips the rest of the
string and we roll back. (psycopg's pipeline mode is also one round trip, but its async
wait spins on the writable socket and burned a core under load.)
"""

from __future__ import annotations

import uuid
from typing import Any

import psycopg

from fiscus.core.db import TENANT_ROLE, Database

TENANT_SQL = (
    f"SELECT set_config('fiscus.tenant_id', %s, true), set_config('role', '{TENANT_ROLE}', true)"
)


async def one_round_trip(
    db: Database, tenant_id: uuid.UUID, sql: str, params: tuple[Any, ...], *, width: int
) -> tuple[Any, ...] | None:
    """Run `sql` for the tenant in its own transaction; return the first row of the
    result that has `width` columns (None if that result is empty)."""
    async with db.engine.connect() as connection:
        raw = await connection.get_raw_connection()
        handle = raw.driver_connection
        assert isinstance(handle, psycopg.AsyncConnection)
        binder = psycopg.AsyncClientCursor(handle)
        statement = (
            "BEGIN; "
            + binder.mogrify(TENANT_SQL, (str(tenant_id),))
            + "; "
            + binder.mogrify(sql.replace("%b", "%s"), params)
            + "; COMMIT"
        )
        await handle.set_autocommit(True)
        try:
            cursor = await handle.execute(statement)
            while cursor.description is None or len(cursor.description) != width:
                assert cursor.nextset(), "no result of the expected width"
            found = await cursor.fetchone()
        except BaseException:
            await handle.execute("ROLLBACK")
            raise
        finally:
            await handle.set_autocommit(False)
    return found
