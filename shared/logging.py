"""structlog set-up: JSON lines off a terminal, readable lines on one; context ids bound per message."""

from __future__ import annotations

import logging
import sys
from typing import Any

import structlog

_SECRET_KEYS = frozenset({"password", "secret", "token", "access_token", "refresh_token", "client_secret",
                          "credentials", "authorization", "secret_access_key", "bm_password", "client_password",
                          "rest_password", "sftp_password", "sealed_credentials"})


def _redact(_: Any, __: str, event: dict[str, Any]) -> dict[str, Any]:
    """Secrets never reach a log line, whatever a caller binds."""
    for key in list(event):
        if key.lower() in _SECRET_KEYS:
            event[key] = "[redacted]"
    return event


def configure_logging(json: bool | None = None, level: int = logging.INFO) -> None:
    """Configure structlog (and the standard library's root logger) once per process."""
    use_json = (not sys.stderr.isatty()) if json is None else json
    renderer: Any = structlog.processors.JSONRenderer() if use_json else structlog.dev.ConsoleRenderer()
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            _redact,
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=True,
    )
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="%(levelname)s %(name)s %(message)s")


def get_logger(name: str) -> Any:
    return structlog.get_logger(name)
