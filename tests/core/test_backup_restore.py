"""Backup and restore onto a brand-new PostgreSQL server, then a TOTP login there.

Both servers are throwaway clusters started from the embedded PostgreSQL wheel in a
temporary folder (never the shared server: a restore creates a cluster-wide role), and
stopped at the end. The source installation is driven over HTTP by a real `fiscus serve`:
an owner enrols TOTP and creates a webhook endpoint (a sealed secret). Its dump is
restored with `fiscus db restore` onto the second server, which has never seen fiscus
(no `fiscus_app` role: the restore used to fail there), and a `fiscus serve` on it with the
same root secret logs the owner in with a TOTP code. With another secret, the restore and
the start both refuse with a message naming the secret, instead of answering 500s.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import psycopg
import pyotp
import pytest
from psycopg import sql
from sqlalchemy.engine import make_url

from fiscus.core.backup import tenant_role_ensure
from fiscus.core.embedded import EmbeddedPostgres
from tests.conftest import TEST_SECRET
from tests.live import fiscus_cli, live_server

pytestmark = pytest.mark.xdist_group("restore")

OTHER_SECRET = "another-installation-" + "o" * 40
TENANT = "restored"
EMAIL = "ada.restored@example.com"
PASSWORD = "a long passphrase for the restore test"
TOTP_STEP_S = 30


def _env(url: str, secret: str = TEST_SECRET) -> dict[str, str]:
    return {
        "FISCUS_DATABASE_URL": url,
        "FISCUS_SECRET_KEY": secret,
        "FISCUS_ENV": "test",
        "FISCUS_LOG_LEVEL": "WARNING",
        "FISCUS_WEBHOOKS_ALLOW_PRIVATE": "true",
    }


def _fiscus(
    url: str, *args: str, secret: str = TEST_SECRET, extra: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return fiscus_cli(*args, env=_env(url, secret) | (extra or {}))


@dataclass
class Source:
    """The installation that was backed up: its dumps and the owner's TOTP."""

    custom_dump: Path
    plain_dump: Path
    totp: pyotp.TOTP
    last_step: int


@pytest.fixture(scope="module")
def clusters() -> Iterator[tuple[str, str]]:
    """Two brand-new PostgreSQL servers (source, target), stopped and deleted afterwards.

    Their folders are not under pytest's temporary root: the server runs as another system
    user when the tests run as root, and every pytest session on the machine resets that
    root to mode 0700, which would lock the server out of its own files.
    """
    folder = Path(tempfile.mkdtemp(prefix="fiscus-restore-"))
    source, target = EmbeddedPostgres(folder / "source"), EmbeddedPostgres(folder / "target")
    try:
        yield source.start(), target.start()
    finally:
        source.stop()
        target.stop()
        shutil.rmtree(folder, ignore_errors=True)


def _ok(response: httpx.Response, status: int = 200) -> dict[str, object]:
    assert response.status_code == status, (response.request.url.path, response.text)
    return response.json() if response.content else {}


def _enrol_totp(http: httpx.Client) -> tuple[pyotp.TOTP, int]:
    """Log the owner in, enrol TOTP; returns it and the time step its confirmation used."""
    login = _ok(
        http.post("/v1/auth/login", json={"tenant": TENANT, "email": EMAIL, "password": PASSWORD})
    )
    auth = {"Authorization": f"Bearer {login['access_token']}"}
    _ok(http.post("/v1/me/reauthenticate", json={"password": PASSWORD}, headers=auth), 204)
    enrolment = _ok(http.post("/v1/me/mfa/totp", headers=auth))
    totp = pyotp.TOTP(str(enrolment["secret"]))
    step = int(time.time()) // TOTP_STEP_S
    _ok(http.post("/v1/me/mfa/totp/confirm", json={"code": totp.at(step * 30)}, headers=auth))
    endpoint = {"url": "http://127.0.0.1:9/hooks", "event_types": ["transfer.*"]}
    _ok(http.post("/v1/webhook-endpoints", json=endpoint, headers=auth), 201)
    return totp, step


@pytest.fixture(scope="module")
def source(clusters: tuple[str, str], tmp_path_factory: pytest.TempPathFactory) -> Source:
    """Migrate the source, enrol an owner's TOTP over HTTP, dump it both ways."""
    url, _ = clusters
    folder = tmp_path_factory.mktemp("source")
    assert _fiscus(url, "migrate").returncode == 0
    made = _fiscus(url, "admin", "create-tenant", TENANT, "--name", "Restored Ltd")
    assert made.returncode == 0, made.stderr
    owner = ["admin", "create-user", "--tenant", TENANT, "--email", EMAIL, "--role", "owner"]
    made = _fiscus(url, *owner, extra={"FISCUS_PASSWORD": PASSWORD})
    assert made.returncode == 0, made.stderr
    extra = {"FISCUS_WEBHOOKS_ALLOW_PRIVATE": "true"}
    with (
        live_server(url, log_file=folder / "source.log", extra_env=extra) as server,
        httpx.Client(base_url=server.base_url, timeout=30) as http,
    ):
        totp, step = _enrol_totp(http)
    custom, plain = folder / "backup.dump", folder / "backup.sql"
    for fmt, path in (("custom", custom), ("plain", plain)):
        dumped = _fiscus(url, "db", "dump", "--format", fmt, "-o", str(path))
        assert dumped.returncode == 0, dumped.stderr
    return Source(custom, plain, totp, step)


def _code_after(totp: pyotp.TOTP, used_step: int) -> str:
    """A code of a later time step than the one already spent (waits for it if needed)."""
    while int(time.time()) // TOTP_STEP_S <= used_step:
        time.sleep(0.5)
    return totp.now()


def _totp_login(base_url: str, source: Source) -> dict[str, object]:
    with httpx.Client(base_url=base_url, timeout=30) as http:
        body = {"tenant": TENANT, "email": EMAIL, "password": PASSWORD}
        challenge = _ok(http.post("/v1/auth/login", json=body))
        assert challenge["mfa_required"] is True
        code = _code_after(source.totp, source.last_step)
        tokens = _ok(
            http.post(
                "/v1/auth/mfa/verify", json={"mfa_token": challenge["mfa_token"], "code": code}
            )
        )
        me = _ok(http.get("/v1/me", headers={"Authorization": f"Bearer {tokens['access_token']}"}))
    return me


def _new_database(server: str, prefix: str) -> str:
    """A new, empty database on `server`; its URL."""
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(server, autocommit=True) as connection:
        connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return make_url(server).set(database=name).render_as_string(hide_password=False)


def test_restore_onto_a_brand_new_server_then_log_in_with_totp(
    clusters: tuple[str, str], source: Source, tmp_path: Path
) -> None:
    _, target = clusters
    with psycopg.connect(target) as connection:
        role = connection.execute("SELECT 1 FROM pg_roles WHERE rolname = 'fiscus_app'")
        assert role.fetchone() is None, "the target server must never have seen fiscus"
    restored = _fiscus(target, "db", "restore", str(source.custom_dump))
    assert restored.returncode == 0, restored.stderr
    assert "The keys open" in restored.stderr
    with live_server(target, log_file=tmp_path / "target.log") as server:
        me = _totp_login(server.base_url, source)
    assert me["email"] == EMAIL


def test_a_plain_dump_restores_into_a_new_database_of_that_server(
    clusters: tuple[str, str], source: Source
) -> None:
    _, target = clusters
    url = _new_database(target, "plain")
    restored = _fiscus(url, "db", "restore", str(source.plain_dump))
    assert restored.returncode == 0, restored.stderr
    with psycopg.connect(url) as connection:
        users = connection.execute("SELECT count(*) FROM users").fetchone()
        app_reads_keys = connection.execute(
            "SELECT has_table_privilege('fiscus_app', 'encryption_keys', 'SELECT')"
        ).fetchone()
    assert users == (1,)
    assert app_reads_keys == (False,)


def test_restoring_over_an_installation_keeps_the_tenant_role_out_of_the_keys(
    clusters: tuple[str, str], source: Source
) -> None:
    # A migrated database grants the tenant role every new table by default; a restore
    # into it used to create `encryption_keys` under that default, so tenant
    # transactions could read the wrapped keys.
    _, target = clusters
    url = _new_database(target, "over")
    assert _fiscus(url, "migrate").returncode == 0
    restored = _fiscus(url, "db", "restore", str(source.custom_dump))
    assert restored.returncode == 0, restored.stderr
    with psycopg.connect(url) as connection:
        privileges = connection.execute(
            "SELECT has_table_privilege('fiscus_app', 'encryption_keys', 'SELECT'),"
            " has_table_privilege('fiscus_app', 'messages', 'SELECT')"
        ).fetchone()
        defaults = connection.execute(
            "SELECT count(*) FROM pg_default_acl WHERE defaclrole = current_user::regrole"
        ).fetchone()
    assert privileges == (False, True)
    assert defaults == (3,), "the next migration's tables are granted to the tenant role"


def test_another_installations_secret_is_refused_with_a_clear_message(
    clusters: tuple[str, str], source: Source
) -> None:
    _, target = clusters
    url = _new_database(target, "wrong")
    restored = _fiscus(url, "db", "restore", str(source.custom_dump), secret=OTHER_SECRET)
    assert restored.returncode == 3
    assert "FISCUS_SECRET_KEY" in restored.stderr and "Traceback" not in restored.stderr
    for command in (["serve", "--no-migrate", "--port", "9"], ["worker"]):
        started = _fiscus(url, *command, secret=OTHER_SECRET)
        assert started.returncode == 3, (command, started.stderr)
        assert "do not open" in started.stderr and "FISCUS_SECRET_KEY" in started.stderr
        assert "Traceback" not in started.stderr


def test_two_sessions_creating_the_tenant_role_at_once_both_succeed(
    clusters: tuple[str, str],
) -> None:
    # The second CREATE ROLE waits for the first session's uncommitted role and then meets
    # a duplicate: several restores (or migrations) on one new server must not fail on it.
    _, target = clusters
    role = f"fiscus_race_{uuid.uuid4().hex[:8]}"
    first = psycopg.connect(target)
    try:
        first.execute(sql.SQL("CREATE ROLE {} NOLOGIN").format(sql.Identifier(role)))
        outcome: list[BaseException | None] = []
        second = threading.Thread(
            target=lambda: outcome.append(_capture(lambda: tenant_role_ensure(target, role)))
        )
        second.start()
        _wait_until_blocked(target, role)
        first.commit()
        second.join(timeout=60)
        assert outcome == [None]
    finally:
        first.close()
        with psycopg.connect(target, autocommit=True) as connection:
            connection.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))


def _capture(action: Callable[[], None]) -> BaseException | None:
    """What `action` raised (handed from its thread to the test to assert on), or None."""
    try:
        action()
    except BaseException as error:
        return error
    return None


def _wait_until_blocked(url: str, role: str) -> None:
    """Until a session waits on a lock while creating `role` (no fixed sleep)."""
    with psycopg.connect(url, autocommit=True) as connection:
        for _ in range(600):
            waiting = connection.execute(
                "SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE %s",
                (f"%{role}%",),
            ).fetchone()
            if waiting:
                return
            time.sleep(0.05)
    raise AssertionError("the second session never waited for the first")
