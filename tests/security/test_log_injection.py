"""Logs cannot be forged: control characters are escaped and secrets never written."""

import json

import pytest

from fiscus.core.logging import configure_logging, get_logger


def test_crlf_and_ansi_in_logged_values_are_escaped(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging(level="INFO", json=True)
    get_logger("test").info("login_failed", email='eve@example.com\r\n{"forged": true}\x1b[31m')
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(lines) == 1
    event = json.loads(lines[0])
    assert "\n" not in event["email"]
    assert "\x1b" not in event["email"]
    assert "\\x0d\\x0a" in event["email"]


@pytest.mark.parametrize("key", ["password", "token", "refresh_token", "authorization", "api_key"])
def test_sensitive_keys_are_redacted(key: str, capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging(level="INFO", json=True)
    get_logger("test").info("something", **{key: "hunter2-very-secret"})
    output = capsys.readouterr().err
    assert "hunter2-very-secret" not in output
    assert "[redacted]" in output


@pytest.mark.parametrize("json_lines", [True, False], ids=["json", "console"])
def test_control_characters_in_nested_values_and_event_names_cannot_forge_a_line(
    json_lines: bool, capsys: pytest.CaptureFixture[str]
) -> None:
    # Metadata and lists are logged as structures; the event name is a string like any other.
    configure_logging(level="INFO", json=json_lines)
    hostile = 'x\r\n{"event": "forged"}\x1b[2J\n'
    get_logger("test").info(
        "evt" + hostile, metadata={"key" + hostile: hostile}, items=[hostile], text=hostile
    )
    output = capsys.readouterr().err
    assert output.count("\n") == 1 and output.endswith("\n")
    assert "\x1b" not in output and "\r" not in output
    if json_lines:
        event = json.loads(output)
        assert event["metadata"] == {"key" + hostile: hostile} and event["items"] == [hostile]


def test_a_librarys_exception_is_logged_as_text(capsys: pytest.CaptureFixture[str]) -> None:
    # procrastinate logs a failed job with exc_info through the standard library: the
    # traceback must arrive as text, not as "<traceback object at 0x...>".
    import logging

    configure_logging(level="INFO", json=True)
    try:
        raise ValueError("job failed")
    except ValueError:
        logging.getLogger("procrastinate.worker").exception("Job ended with status: Error")
    event = json.loads(capsys.readouterr().err.strip().splitlines()[-1])
    assert "ValueError: job failed" in event["exception"]
    assert "traceback object" not in json.dumps(event)
