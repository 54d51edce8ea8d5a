"""Where each message travels: the topics, who sends and reads them, and the Kafka key of every message.

This is the topics table of the design as data, so the AsyncAPI document, the docs and the producers agree.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from contracts import topics
from contracts.commands import (
    ALL_COMMANDS,
    CreateConnection,
    DeleteConnections,
    DisableConnections,
    EditConnection,
    EnableConnections,
    InstallDriver,
    RequestSync,
    UninstallDriver,
)
from contracts.drivers import CATALOG
from contracts.envelope import Message
from contracts.events import ALL_EVENTS, ConnectionEvent, DriverInstallationChanged
from contracts.jobs import DriverJob
from contracts.reports import ALL_REPORTS
from contracts.results import CommandResult


@dataclass(frozen=True, slots=True)
class Key:
    """What a message's Kafka key holds; messages with the same key are delivered in order."""

    name: str
    description: str
    is_uuid: bool

    def json_schema(self) -> dict[str, Any]:
        schema: dict[str, Any] = {"type": "string", "description": self.description}
        if self.is_uuid:
            schema["format"] = "uuid"
        return schema


CONNECTION_KEY = Key("connection id", "the connection id", is_uuid=True)
TENANT_KEY = Key("tenant id", "the tenant id (the envelope's tenant_id)", is_uuid=False)
COMMAND_KEY = Key("command id", "the command id: the message_id of the command's envelope", is_uuid=True)
# A command naming several connections has no single connection to order it with; the tenant is the
# natural stream for it (the service never relies on the key for correctness, only for ordering).
ONE_OR_TENANT_KEY = Key(
    "connection id or tenant id",
    "the connection id when the command names exactly one connection, else the tenant id",
    is_uuid=False,
)


def key_of(message: type[Message]) -> Key:
    """The Kafka key a message is sent with; by message type, so it holds for every version of a type."""
    by_type = {m.message_type: key for messages, key in _KEYS for m in messages}
    try:
        return by_type[message.message_type]
    except KeyError:
        raise LookupError(f"no key defined for message type {message.message_type!r}") from None


_KEYS: tuple[tuple[tuple[type[Message], ...], Key], ...] = (
    ((CreateConnection, InstallDriver, UninstallDriver, DriverInstallationChanged), TENANT_KEY),
    ((RequestSync, DisableConnections, EnableConnections, DeleteConnections), ONE_OR_TENANT_KEY),
    ((CommandResult,), COMMAND_KEY),
    ((EditConnection, DriverJob, *ALL_REPORTS), CONNECTION_KEY),
    (tuple(e for e in ALL_EVENTS if issubclass(e, ConnectionEvent)), CONNECTION_KEY),
)


@dataclass(frozen=True, slots=True)
class Channel:
    """One Kafka topic of the contract."""

    address: str
    title: str
    description: str
    sent_by: str
    read_by: str
    messages: tuple[type[Message], ...]
    # For a dead-letter topic: the topic whose unreadable or poison messages it holds.
    dead_letters_of: str | None = None

    @property
    def id(self) -> str:
        """An identifier for documents that allow no dots in names: ``connections-commands-v1``."""
        return self.address.replace(".", "-")


def _dead_letter_channel(source: Channel) -> Channel:
    return Channel(
        address=topics.dead_letters(source.address),
        title=f"Dead letters of {source.address}",
        description=(
            f"Messages {source.read_by} could not decode or kept failing on, byte for byte as they arrived on "
            f"{source.address}, with the original key and headers plus dlq_reason_code, dlq_reason and "
            "dlq_source_topic. For operators: fix the cause, then replay them to the source topic."
        ),
        sent_by=source.read_by,
        read_by="operators",
        messages=(),
        dead_letters_of=source.address,
    )


def all_channels() -> list[Channel]:
    """Every topic: commands, results, events, reports, one job topic per driver, and the dead-letter topics."""
    commands = Channel(
        topics.COMMANDS,
        "Commands to the connections service",
        "Platform services ask the connections service to act. Every command is answered once on "
        f"{topics.COMMAND_RESULTS}, keyed by the command id (the envelope's message_id).",
        "platform services",
        "the connections service",
        ALL_COMMANDS,
    )
    results = Channel(
        topics.COMMAND_RESULTS,
        "Command results",
        "One result per command id, keyed by it; a repeated command that changed something gets its first result "
        "again, one that changed nothing is evaluated afresh.",
        "the connections service",
        "whoever sent the command",
        (CommandResult,),
    )
    events = Channel(
        topics.EVENTS,
        "Integration events",
        "What happened to connections and driver installations, in event store order per key. At least "
        "once: dedupe by message_id; position orders and resumes.",
        "the connections service (relay)",
        "platform services, dashboards",
        ALL_EVENTS,
    )
    reports = Channel(
        topics.REPORTS,
        "Driver worker reports",
        "Workers report every job's start, progress and end; the connections service turns them into events.",
        "driver workers",
        "the connections service",
        ALL_REPORTS,
    )
    jobs = [
        Channel(
            topics.driver_jobs(driver_id),
            f"Jobs for {spec.name} workers",
            f"Credential checks, syncs and clean-ups of {spec.name} connections; one consumer group of "
            f"{driver_id} workers reads them.",
            "the connections service (relay)",
            f"{driver_id} driver workers",
            (DriverJob,),
        )
        for driver_id, spec in CATALOG.items()
    ]
    # Dead-letter topics exist for the topics this project consumes; readers of results and events on the
    # platform side keep their own dead letters (the same convention is recommended in docs/contracts.md).
    consumed = [commands, reports, *jobs]
    return [commands, results, events, reports, *jobs, *map(_dead_letter_channel, consumed)]
