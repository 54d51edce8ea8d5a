"""structlog set-up: JSON lines off a terminal, readable lines on one; context ids bound per message.

Secrets never reach a log line: a processor redacts values bound under secret field names, and every string
(messages, values, formatted exceptions) is scrubbed of known token shapes. The standard library's loggers
(uvicorn, aiokafka, ...) go through the same scrubbing.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog

from shared.tracing import add_trace_ids

REDACTED = "[redacted]"

_SECRET_KEYS = frozenset({"password", "secret", "token", "access_token", "refresh_token", "client_secret",
                          "credentials", "authorization", "secret_access_key", "bm_password", "client_password",
                          "rest_password", "sftp_password", "sealed_credentials", "api_key", "apikey",
                          "private_key", "cookie", "set-cookie", "id_token", "bearer", "passphrase"})
# Field names that hold a secret wherever they appear: a name ending in one of these (``x_client_secret``).
_SECRET_SUFFIXES = ("password", "secret", "token", "_key", "credentials")
_NOT_SECRET = frozenset({"message_key", "kafka_key", "key_id", "master_key_id", "idempotency_key", "sort_key",
                         "tokens_used"})

_SECRET_NAMES = r"(?:[A-Za-z_]*(?:password|passwd|secret|token|api[_-]?key|private[_-]?key)|credentials)"
_TOKEN_SHAPES: tuple[tuple[re.Pattern[str], str], ...] = (
    # JSON Web Tokens (signed or not): header.payload.signature, base64url; the header starts with '{"' -> eyJ.
    (re.compile(r"eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*"), REDACTED),
    # Shopify tokens: shpat_ (admin API), shpca_, shppa_, shpss_ (shared secret), shpua_.
    (re.compile(r"shp(?:at|ca|pa|ss|ua|tka)_[A-Za-z0-9]{8,}"), REDACTED),
    # Login with Amazon refresh / access tokens and client secrets.
    (re.compile(r"Atz[ra]\|[A-Za-z0-9_\-+/=.|]{8,}"), REDACTED),
    (re.compile(r"amzn1\.oa2-cs\.v1\.[A-Za-z0-9]{16,}"), REDACTED),
    # Authorization header values.
    (re.compile(r"(?i)\b(bearer)(\s+)[A-Za-z0-9._~+/=-]{8,}"), r"\1\2" + REDACTED),
    (re.compile(r"\b(Basic)(\s+)[A-Za-z0-9+/]{12,}={0,2}"), r"\1\2" + REDACTED),
    # user:password@ in URLs.
    (re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/\s:@]+:[^/\s@]+@"), r"\1" + REDACTED + "@"),
    # "secret_name": "value", secret_name=value, secret_name: value (JSON, forms, query strings, reprs).
    (re.compile(r"(?i)([\"']?\b" + _SECRET_NAMES + r"[\"']?\s*[:=]\s*)(?:\"[^\"]*\"|'[^']*'|[^\s,&;}\]\)\"']+)"),
     r"\1" + REDACTED),
    # SecretStr-like reprs are fine ('**********'); PEM private keys are not.
    (re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?(?:-----END [A-Z ]*PRIVATE KEY-----|$)", re.S), REDACTED),
)


def is_secret_name(name: str) -> bool:
    lowered = name.lower()
    if lowered in _NOT_SECRET:
        return False
    return lowered in _SECRET_KEYS or lowered.endswith(_SECRET_SUFFIXES)


def redact_text(text: str) -> str:
    """``text`` with every known token shape and ``secret_name=value`` pair replaced by ``[redacted]``."""
    for pattern, replacement in _TOKEN_SHAPES:
        text = pattern.sub(replacement, text)
    return text


def redact_value(value: Any, depth: int = 0) -> Any:
    """A copy of ``value`` with secret fields (by name, at any depth) and token shapes redacted."""
    if depth > 8:
        return value
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, dict):
        return {k: REDACTED if isinstance(k, str) and is_secret_name(k) and v not in (None, "")
                else redact_value(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [redact_value(v, depth + 1) for v in value]
    if isinstance(value, bytes | bytearray):
        return redact_text(bytes(value).decode("utf-8", "replace"))
    if isinstance(value, int | float | bool) or value is None:
        return value
    return redact_text(str(value))


def _redact(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """Secrets never reach a log line, whatever a caller binds or an exception says."""
    for key in list(event):
        value = event[key]
        if is_secret_name(key) and value not in (None, ""):
            event[key] = REDACTED
        elif key != "exc_info":
            event[key] = redact_value(value)
    return event


class RedactingFormatter(logging.Formatter):
    """The standard library's log lines (uvicorn, aiokafka, ...) scrubbed like structlog's."""

    def format(self, record: logging.LogRecord) -> str:
        return redact_text(super().format(record))


def configure_logging(json: bool | None = None, level: int = logging.INFO) -> None:
    """Configure structlog (and the standard library's root logger) once per process."""
    use_json = (not sys.stderr.isatty()) if json is None else json
    renderer: Any = structlog.processors.JSONRenderer() if use_json else structlog.dev.ConsoleRenderer()
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            add_trace_ids,  # trace_id and span_id of the current span: shared/tracing.py
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,  # before redaction, so tracebacks are scrubbed too
            _redact,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(RedactingFormatter("%(levelname)s %(name)s %(message)s"))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(logging.WARNING)
    for name in _OWN_HANDLER_LOGGERS:  # e.g. uvicorn's default config: handlers that bypass redaction
        library = logging.getLogger(name)
        for old in list(library.handlers):
            library.removeHandler(old)
        library.propagate = True


_OWN_HANDLER_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access")


def get_logger(name: str) -> Any:
    return structlog.get_logger(name)
