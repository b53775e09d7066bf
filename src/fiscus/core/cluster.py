"""What fiscus needs from the PostgreSQL server around its database: the tenant role.

Roles and role memberships live in catalogs shared by every database of the server
(pg_authid, pg_auth_members). Several processes may create them at the same moment on a
brand-new server: test workers migrating their own databases, two `fiscus serve` starting
together, a restore next to a migration. An advisory lock cannot order them (it belongs to
one database), and `IF NOT EXISTS` cannot either (a role being created by another
transaction is invisible until it commits; the second CREATE waits for it, then fails on
pg_authid's unique index). So the statement treats "someone else just created it" as
success, and the whole step is retried when the server reports a concurrent update of the
same catalog row ("tuple concurrently updated").

Migrations, `fiscus migrate`/`serve` (through migrations/env.py) and `fiscus db restore`
all go through `tenant_role_ensure`; migration 0004 runs `tenant_role_statement` in its
own transaction for databases migrated by plain Alembic.
"""

from __future__ import annotations

import time

import psycopg
from psycopg import sql

from fiscus.core.db import TENANT_ROLE

# A retry waits for the other transaction, which commits quickly once its own migration
# is done; a dozen attempts over about three seconds outlast such an overlap.
ATTEMPTS = 12
RETRY_DELAY_S = 0.05


class ClusterRoleError(Exception):
    """The server lacks the tenant role and this login may not create it."""


def tenant_role_statement(role: str = TENANT_ROLE) -> sql.Composed:
    """A DO block creating `role` (NOLOGIN) if missing and letting the login role SET ROLE
    to it; a duplicate created by a concurrent session counts as done."""
    return sql.SQL(
        """
        DO $$ BEGIN
          IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = {name}) THEN
            BEGIN
              CREATE ROLE {role} NOLOGIN;
            EXCEPTION WHEN duplicate_object OR unique_violation THEN
              NULL;
            END;
          END IF;
          IF NOT (SELECT rolsuper FROM pg_roles WHERE rolname = current_user)
             AND NOT pg_has_role(current_user, {name}, 'MEMBER') THEN
            BEGIN
              EXECUTE format('GRANT %I TO %I', {name}, current_user);
            EXCEPTION WHEN duplicate_object OR unique_violation THEN
              NULL;
            END;
          END IF;
        END $$;
        """
    ).format(name=sql.Literal(role), role=sql.Identifier(role))


def _concurrent_update(error: psycopg.Error) -> bool:
    return isinstance(error, psycopg.errors.InternalError_) and "concurrently" in str(error)


def tenant_role_ensure(conninfo: str, role: str = TENANT_ROLE) -> None:
    """Make sure `role` exists and the login role may use it, committed at once.

    Runs in its own autocommit connection: inside a long migration transaction, a role
    created there would stay invisible (and block every other creator) until that
    migration commits.
    """
    statement = tenant_role_statement(role)
    for attempt in range(ATTEMPTS):
        try:
            with psycopg.connect(conninfo, autocommit=True) as connection:
                connection.execute(statement)
            return
        except psycopg.errors.InsufficientPrivilege:
            raise ClusterRoleError(
                f"The server has no role {role!r} and this login may not create roles. Ask"
                f" the database administrator for: CREATE ROLE {role} NOLOGIN;"
                f" GRANT {role} TO <this login>;"
            ) from None
        except (psycopg.errors.InternalError_, psycopg.errors.UniqueViolation) as error:
            if attempt == ATTEMPTS - 1 or not (
                _concurrent_update(error) or isinstance(error, psycopg.errors.UniqueViolation)
            ):
                raise
            time.sleep(RETRY_DELAY_S * (attempt + 1))
