"""Commands other platform services (and the HTTP API) send to the connections service.

Sent on ``connections.commands.v1``. The key decides ordering only (the service dedupes and uses optimistic
concurrency, so correctness never depends on it): the connection id for a command about one connection, the
tenant id for creates, driver commands and commands naming several connections.

The envelope's ``message_id`` is the command id: the service answers every command on
``connections.command-results.v1``, keyed by that id. A command is applied at most once per command id:
sending a command that changed something again changes nothing and answers its first result again (see
``CommandResult`` for the one that changed nothing: it is evaluated afresh), so a sender that is
unsure whether a command arrived sends it again with the same ``message_id``. A refused command changed
nothing and is evaluated afresh when repeated (its cause may have been fixed meanwhile).
"""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from pydantic import ConfigDict, Field

from contracts.envelope import Message

Name = Annotated[str, Field(min_length=1, max_length=200)]
DriverId = Annotated[str, Field(min_length=1, max_length=50, pattern=r"^[a-z0-9_]+$")]
ConnectionIds = Annotated[list[UUID], Field(min_length=1, max_length=500)]

SEALED_CREDENTIALS = (
    "credentials (a JSON object; its fields override those of `credentials`) sealed to the connections service's "
    "public command key (GET /v1/contracts/command-key; X25519 + HKDF-SHA256 + AES-256-GCM, bound to the tenant; "
    "recipe in docs/contracts.md). Required on the bus for secret fields: plaintext secrets there are refused "
    "with reason `plaintext_secret_on_bus`."
)

# Fixed ids so the examples, the generated schemas and the docs agree with each other.
_CONNECTION = "3f1c2a9e-8d4b-4f6a-9c1e-2b7d5e8a0f11"
_OTHER_CONNECTION = "b8e2d7c4-1a3f-4e5b-8c9d-0f1e2d3c4b5a"
# Example secrets as the bus accepts them: sealed for tenant "acme" (the example envelopes' tenant) to the
# development command key's public key (``{"secret_access_key": ...}``); a test opens them with that key.
_SEALED_SECRET = ("ARKmGzvmj6emjyzZg7q5n7hefpVACjkrUotmhBuifTU5PLYk3f+FwTtf1vlktjjXTnxi03SOin1gswDlNfyGVLfn5FL+/GUZb7"
                  "btaBPbJCEGy7eiwbvLnj4bxUxK5z4dJjmtnpu4N5OTAZP6ag==")
_SEALED_ROTATED_SECRET = ("AUgrDPGG0clGZDRPmBJdQaDWFBdbfGooy+I3q08Fc2AbsPuGUKdnzQ/fhcN6g13WhN6/0DpHWqS18RPFe/A+5mhEi9b"
                          "lu9u07IQnK2lkNRLvxuOszFP8+gtlDglF0HndLPOR")


class CreateConnection(Message):
    """Create a connection through a driver the tenant has installed.

    Sent by a platform service when a merchant adds a connection; key: the tenant id. The service validates
    ``credentials`` and ``settings`` against the driver's own schema (see the driver catalog), stores the
    connection as active, and starts a credential check; once the check succeeds the first sync runs.

    The result carries the connection id (``items[0].connection_id``) and the credential-check job id. Then
    follow on ``connections.events.v1``: ``ConnectionCreated``, ``JobStateChanged`` (check_credentials),
    ``CredentialsChecked``, then the sync's ``JobStateChanged`` and ``DataModelChanged``. Refusals:
    ``driver_not_installed``, ``unknown_driver``, ``invalid_input``, ``connection_exists`` (the tenant's own
    connection has ``connection_id``), ``connection_id_unavailable`` (the id is taken otherwise: choose another).
    """

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "connection_id": _CONNECTION,
                    "name": "Berlin store",
                    "driver": "shopware6",
                    "credentials": {"url": "https://shop.example.com", "access_key_id": "SWIAEXAMPLEACCESSKEY"},
                    "sealed_credentials": _SEALED_SECRET,
                    "settings": {"default_language": "de-DE"},
                },
                {"name": "Till 1", "driver": "pos"},
            ]
        }
    )

    message_type = "CreateConnection"

    connection_id: UUID | None = Field(default=None, description="chosen by the caller, or derived from the command id")
    name: Name
    driver: DriverId
    credentials: dict[str, Any] = Field(
        default_factory=dict,
        description="over HTTP: the whole form; on the bus: only fields that are not secret (see sealed_credentials)",
    )
    sealed_credentials: str | None = Field(default=None, max_length=65536, description=SEALED_CREDENTIALS)
    settings: dict[str, Any] = Field(default_factory=dict)


class EditConnection(Message):
    """Change a connection's name, credentials or settings.

    Sent when a merchant edits a connection; key: the connection id. Omitted fields keep their value;
    ``credentials`` is partial: omitted or masked secrets keep their stored value. The driver is read-only:
    naming another driver is refused. Changed credentials are checked again, then a sync runs; other changes
    of an active, established connection trigger a sync. ``outcome: already`` means nothing changed.
    """

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"connection_id": _CONNECTION, "name": "Berlin flagship store"},
                {"connection_id": _CONNECTION, "sealed_credentials": _SEALED_ROTATED_SECRET},
            ]
        }
    )

    message_type = "EditConnection"

    connection_id: UUID
    name: Name | None = None
    driver: DriverId | None = Field(default=None, description="read-only: any other driver is refused")
    credentials: dict[str, Any] | None = None
    sealed_credentials: str | None = Field(default=None, max_length=65536, description=SEALED_CREDENTIALS)
    settings: dict[str, Any] | None = None


class RequestSync(Message):
    """Synchronize connections with their marketplaces now.

    Sent on demand (the merchant's "Synchronize" button, a schedule); key: the connection id when one is
    named, else the tenant id. Each item of the result names the sync job; a sync already requested or
    running is reported as ``already`` with that job's id instead of starting a second one. Inactive
    connections are refused (``connection_inactive``). Progress follows as ``JobStateChanged`` events.
    """

    model_config = ConfigDict(json_schema_extra={"examples": [{"connection_ids": [_CONNECTION, _OTHER_CONNECTION]}]})

    message_type = "RequestSync"

    connection_ids: ConnectionIds


class DisableConnections(Message):
    """Deactivate connections: they synchronize nothing until enabled again.

    Sent when a merchant disables one or several connections; key: the connection id when one is named,
    else the tenant id. Pending and running jobs are cancelled. Each connection gets its own item in the
    result (``done``, ``already`` inactive, ``not_found``); ``ConnectionStatusChanged`` (inactive) follows.
    """

    model_config = ConfigDict(json_schema_extra={"examples": [{"connection_ids": [_CONNECTION]}]})

    message_type = "DisableConnections"

    connection_ids: ConnectionIds


class EnableConnections(Message):
    """Activate connections again so they synchronize.

    Sent when a merchant enables one or several connections; key: the connection id when one is named, else
    the tenant id. Each connection gets its own item in the result; ``ConnectionStatusChanged`` (active)
    follows for each one that changed.
    """

    model_config = ConfigDict(json_schema_extra={"examples": [{"connection_ids": [_CONNECTION]}]})

    message_type = "EnableConnections"

    connection_ids: ConnectionIds


class DeleteConnections(Message):
    """Delete inactive connections; deletion is a long-running process.

    Sent when a merchant deletes connections; key: the connection id when one is named, else the tenant
    id. Only inactive connections can be deleted (others are refused per item). ``done`` means the deletion
    started: ``ConnectionStatusChanged`` reports ``deleting`` with its steps, then ``deleted``, after which
    the connection leaves the list and its secrets are unrecoverable.
    """

    model_config = ConfigDict(json_schema_extra={"examples": [{"connection_ids": [_CONNECTION]}]})

    message_type = "DeleteConnections"

    connection_ids: ConnectionIds


class InstallDriver(Message):
    """Make a driver available to the tenant; a connection needs its driver installed.

    Sent when a tenant books a marketplace; key: the tenant id. ``already`` when it was installed;
    ``DriverInstallationChanged`` follows when it changed. Unknown drivers are refused (``unknown_driver``).
    """

    model_config = ConfigDict(json_schema_extra={"examples": [{"driver": "pos"}, {"driver": "shopware6"}]})

    message_type = "InstallDriver"

    driver: DriverId


class UninstallDriver(Message):
    """Remove a driver from the tenant.

    Sent when a tenant cancels a marketplace; key: the tenant id. Refused while connections of that driver
    exist (delete them first); ``DriverInstallationChanged`` follows when it changed.
    """

    model_config = ConfigDict(json_schema_extra={"examples": [{"driver": "pos"}]})

    message_type = "UninstallDriver"

    driver: DriverId


ALL_COMMANDS: tuple[type[Message], ...] = (
    CreateConnection,
    EditConnection,
    RequestSync,
    DisableConnections,
    EnableConnections,
    DeleteConnections,
    InstallDriver,
    UninstallDriver,
)
