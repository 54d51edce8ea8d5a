"""Processed commands: the first outcome of every command id, stored with the events it caused.

Saving a ``ProcessedCommand`` in the same transaction as the command's events makes a command apply at most
once: a second save of the same command id conflicts, and the stored outcome is answered instead.
"""

from __future__ import annotations

import functools
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

_COMMAND_NAMESPACE = uuid5(NAMESPACE_URL, "omni-channel-connections:command")


class ProcessedCommand(Aggregate):
    TOPIC = "ProcessedCommand"

    @staticmethod
    @functools.lru_cache(maxsize=4096)  # a batch asks twice per command: which are new, then each one's record
    def id_for(tenant_id: str, command_id: UUID) -> UUID:
        return uuid5(_COMMAND_NAMESPACE, f"{tenant_id}/{command_id}")

    @event("Created", topic="ProcessedCommand.Created.v1")
    def __init__(self, id: UUID, command_id: str, command_type: str, outcome: dict[str, Any], meta: dict[str, Any]) -> None:
        self.command_id = command_id
        self.command_type = command_type
        self.outcome = outcome
