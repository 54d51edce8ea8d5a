"""What every command entrance checks before the application runs a command: the role it needs, and how its
credentials arrived (plain over HTTP, sealed on the bus).

Both entrances use this module, so a command is refused for the same reasons whichever way it came.
"""

from __future__ import annotations

from typing import Any

from contracts import commands as cmd
from contracts.drivers import CATALOG, secret_fields
from contracts.envelope import Envelope, Message
from contracts.results import CommandResult
from shared.auth import BusActors, Forbidden, Role
from shared.logging import get_logger, is_secret_name
from shared.sealed_credentials import CommandKeys, SealedCredentialsError

log = get_logger(__name__)

REQUIRED_ROLE: dict[type[Message], Role] = {
    cmd.CreateConnection: Role.ADMIN,
    cmd.EditConnection: Role.ADMIN,
    cmd.DeleteConnections: Role.ADMIN,
    cmd.InstallDriver: Role.ADMIN,
    cmd.UninstallDriver: Role.ADMIN,
    cmd.RequestSync: Role.OPERATOR,
    cmd.DisableConnections: Role.OPERATOR,
    cmd.EnableConnections: Role.OPERATOR,
}
"""viewer reads; operator synchronizes, enables, disables; admin creates, edits, deletes, installs drivers."""

_ANY_DRIVER_SECRETS = frozenset().union(*(secret_fields(d) for d in CATALOG))


class CredentialsRefused(Exception):
    """The command's credentials cannot be used as sent; ``reason_code`` names why."""

    def __init__(self, reason_code: str, message: str) -> None:
        super().__init__(message)
        self.reason_code = reason_code
        self.message = message


def _secret_paths(driver: str | None) -> frozenset[str]:
    return frozenset(secret_fields(driver)) if driver is not None and driver in CATALOG else _ANY_DRIVER_SECRETS


def _is_plain(value: Any) -> bool:
    """A value that would reveal something: not empty, not the mask a UI sends back for "unchanged"."""
    if value is None or value == "":
        return False
    return not (isinstance(value, str) and set(value) == {"*"})


def plaintext_secrets(credentials: dict[str, Any] | None, driver: str | None) -> list[str]:
    """Paths of fields in ``credentials`` that carry a secret in plaintext (by the driver's schema or by name)."""
    secrets = _secret_paths(driver)
    found: list[str] = []

    def walk(data: dict[str, Any], prefix: str) -> None:
        for key, value in data.items():
            path = f"{prefix}{key}"
            if isinstance(value, dict):
                walk(value, path + ".")
            elif (path in secrets or is_secret_name(str(key))) and _is_plain(value):
                found.append(path)

    walk(credentials or {}, "")
    return found


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def open_credentials(command: Message, tenant_id: str, keys: CommandKeys, *, on_bus: bool) -> Message:
    """The command with its sealed credentials opened into ``credentials`` (and ``sealed_credentials`` gone).

    On the bus, plaintext secrets in ``credentials`` are refused (``plaintext_secret_on_bus``): the message is
    already in the topic's log, so the sender must rotate that secret. Undecryptable sealed credentials are
    refused (``invalid_sealed_credentials``), naming no part of them.
    """
    if not isinstance(command, cmd.CreateConnection | cmd.EditConnection):
        return command
    if on_bus:
        exposed = plaintext_secrets(command.credentials, command.driver)
        if exposed:
            raise CredentialsRefused(
                "plaintext_secret_on_bus",
                f"secret credential fields travel in plaintext on the bus: {', '.join(sorted(exposed))}. The command "
                "was not applied; seal credentials to the command key (sealed_credentials) and rotate these "
                "secrets: they are now in the topic's log",
            )
    if command.sealed_credentials is None:
        return command
    try:
        opened = keys.open(command.sealed_credentials, tenant_id)
    except SealedCredentialsError as bad:
        raise CredentialsRefused("invalid_sealed_credentials", str(bad)) from None
    credentials = _merge(command.credentials or {}, opened)
    return command.model_copy(update={"credentials": credentials, "sealed_credentials": None})


def refused(envelope: Envelope, command: Message, reason_code: str, message: str) -> CommandResult:
    return CommandResult(command_id=envelope.message_id, command_type=command.message_type, accepted=False,
                         reason_code=reason_code, message=message)


class BusGuard:
    """Admits a decoded bus command, or refuses it: the sender's role and tenant, then its credentials.

    The sender is the envelope's ``actor``, a platform service mapped to roles (and tenants) in settings
    (:class:`~shared.auth.BusActors`); a sender without the role gets ``forbidden`` naming it. The envelope's
    tenant is the tenant the command acts for: the application answers ``not_found`` for connections of any
    other tenant. Sealed credentials are opened; plaintext secrets are refused.
    """

    def __init__(self, actors: BusActors, command_keys: CommandKeys) -> None:
        self.actors = actors
        self.command_keys = command_keys

    def admit(self, envelope: Envelope, command: Message) -> Message | CommandResult:
        """The command to run (sealed credentials opened), or the refusal to answer instead."""
        try:
            self.actors.authorize(envelope.actor, envelope.tenant_id, REQUIRED_ROLE[type(command)])
            return open_credentials(command, envelope.tenant_id, self.command_keys, on_bus=True)
        except Forbidden as refusal:
            log.warning("command_forbidden", actor=envelope.actor, command=command.message_type,
                        missing_role=refusal.role.value)
            return refused(envelope, command, "forbidden", str(refusal))
        except CredentialsRefused as refusal:
            log.warning("command_credentials_refused", actor=envelope.actor, command=command.message_type,
                        reason_code=refusal.reason_code)
            return refused(envelope, command, refusal.reason_code, refusal.message)
