"""Refusals of the connections domain. Each names the rule that refused the command."""

from __future__ import annotations


class ConnectionsError(Exception):
    """Base of every refusal. ``reason_code`` is machine-readable, ``message`` is for people."""

    reason_code = "refused"

    def __init__(self, message: str, reason_code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if reason_code is not None:
            self.reason_code = reason_code


class RuleViolated(ConnectionsError):
    """A rule of the product refused the command (e.g. only inactive connections can be deleted)."""


class NotFound(ConnectionsError):
    """The connection (or driver) does not exist for this tenant. Other tenants' ids answer the same."""

    reason_code = "not_found"


class InvalidInput(ConnectionsError):
    """The input itself is wrong: unknown driver, bad credential fields, ..."""

    reason_code = "invalid_input"


class Conflict(ConnectionsError):
    """A concurrent change won; the caller may retry."""

    reason_code = "conflict"
