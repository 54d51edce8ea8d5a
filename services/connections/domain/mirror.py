"""The mirrored data model of one connection: what the last sync found at the marketplace.

Each sync records only what changed (attributes and sets added, changed, removed), so the history of a
marketplace's model is replayable and any two syncs can be compared. An unchanged model records nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

_MIRROR_NAMESPACE = uuid5(NAMESPACE_URL, "omni-channel-connections:mirror")


@dataclass(frozen=True)
class ModelChanges:
    added_attributes: list[dict[str, Any]]
    changed_attributes: list[dict[str, Any]]
    removed_attributes: list[str]
    added_sets: list[dict[str, Any]]
    changed_sets: list[dict[str, Any]]
    removed_sets: list[str]

    @property
    def is_empty(self) -> bool:
        return not any(
            (self.added_attributes, self.changed_attributes, self.removed_attributes,
             self.added_sets, self.changed_sets, self.removed_sets)
        )


def _diff(old: dict[str, dict[str, Any]], new: dict[str, dict[str, Any]]) -> tuple[list, list, list]:
    added = [item for code, item in new.items() if code not in old]
    changed = [item for code, item in new.items() if code in old and old[code] != item]
    removed = [code for code in old if code not in new]
    return added, changed, removed


class DataModelMirror(Aggregate):
    """Attributes and attribute sets by code, as JSON-ready dicts (the normalised model of the contracts)."""

    TOPIC = "DataModelMirror"

    @staticmethod
    def id_for(connection_id: UUID) -> UUID:
        return uuid5(_MIRROR_NAMESPACE, str(connection_id))

    @event("Created", topic="DataModelMirror.Created.v1")
    def __init__(self, id: UUID, connection_id: str, tenant_id: str) -> None:
        self.connection_id = connection_id
        self.tenant_id = tenant_id
        self.attributes: dict[str, dict[str, Any]] = {}
        self.attribute_sets: dict[str, dict[str, Any]] = {}

    def record_sync(self, job_id: str, attributes: list[dict[str, Any]], attribute_sets: list[dict[str, Any]],
                    meta: dict[str, Any]) -> ModelChanges:
        new_attrs = {a["code"]: a for a in attributes}
        new_sets = {s["code"]: s for s in attribute_sets}
        a_added, a_changed, a_removed = _diff(self.attributes, new_attrs)
        s_added, s_changed, s_removed = _diff(self.attribute_sets, new_sets)
        changes = ModelChanges(a_added, a_changed, a_removed, s_added, s_changed, s_removed)
        if not changes.is_empty:
            self._synced(
                self.connection_id, job_id, len(new_attrs), len(new_sets),
                a_added, a_changed, a_removed, s_added, s_changed, s_removed, meta,
            )
        return changes

    @event("Synced", topic="DataModelMirror.Synced.v1")
    def _synced(
        self,
        connection_id: str,
        job_id: str,
        attributes_total: int,
        sets_total: int,
        added_attributes: list[dict[str, Any]],
        changed_attributes: list[dict[str, Any]],
        removed_attributes: list[str],
        added_sets: list[dict[str, Any]],
        changed_sets: list[dict[str, Any]],
        removed_sets: list[str],
        meta: dict[str, Any],
    ) -> None:
        for item in (*added_attributes, *changed_attributes):
            self.attributes[item["code"]] = item
        for code in removed_attributes:
            del self.attributes[code]
        for item in (*added_sets, *changed_sets):
            self.attribute_sets[item["code"]] = item
        for code in removed_sets:
            del self.attribute_sets[code]

    def clear(self, meta: dict[str, Any]) -> bool:
        """Remove the mirrored model (a deletion step). False when already empty."""
        if not self.attributes and not self.attribute_sets:
            return False
        self._cleared(meta)
        return True

    @event("Cleared", topic="DataModelMirror.Cleared.v1")
    def _cleared(self, meta: dict[str, Any]) -> None:  # noqa: ARG002 - meta is recorded on the event
        self.attributes = {}
        self.attribute_sets = {}
