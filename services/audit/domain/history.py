"""A history: stored events in position order as entries (time, actor, reason, correlation, summary), filtered.

The :class:`Timeline` is fed every event of the history's subject from the beginning, so summaries can compare
with what came before; filters only decide which entries are shown.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from services.audit.domain.state import iso
from services.audit.domain.summaries import SecretsOf, Subject, remember, summarize


@dataclass(frozen=True, slots=True)
class Entry:
    """One event as a history shows it."""

    position: int
    time: str
    tenant_id: str | None
    aggregate: str
    aggregate_id: str
    version: int
    event_type: str
    actor: str | None
    reason: str | None
    correlation_id: str | None
    causation_id: str | None
    summary: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def tenant_of(event: Any) -> str | None:
    """The tenant an event belongs to: from its meta, or the aggregate's own tenant field."""
    meta = getattr(event, "meta", None) or {}
    tenant = meta.get("tenant_id") or getattr(event, "tenant_id", None)
    return str(tenant) if tenant else None


@dataclass(frozen=True)
class Filters:
    """Which entries to show: a time range (inclusive), event types and actors (any of each)."""

    since: datetime | None = None
    until: datetime | None = None
    types: tuple[str, ...] = ()
    actors: tuple[str, ...] = ()

    def admits(self, topic: str, timestamp: datetime, actor: str | None) -> bool:
        if self.since is not None and timestamp < self.since:
            return False
        if self.until is not None and timestamp > self.until:
            return False
        if self.types and not any(type_matches(wanted, topic) for wanted in self.types):
            return False
        return not self.actors or actor in self.actors


def type_matches(wanted: str, topic: str) -> bool:
    """``Edited``, ``Connection.Edited`` and ``Connection.Edited.v1`` all name ``Connection.Edited.v1``."""
    parts = topic.split(".")
    return wanted in (topic, ".".join(parts[:2]), parts[1] if len(parts) > 1 else topic)


class Timeline:
    """Turns events into entries, remembering each connection's name, settings and fingerprint."""

    def __init__(self, secrets_of: SecretsOf) -> None:
        self._secrets_of = secrets_of
        self._subjects: dict[str, Subject | None] = {}

    def subject(self, aggregate_id: str) -> Subject | None:
        """What the timeline remembers of an aggregate so far (its driver, name, settings)."""
        return self._subjects.get(aggregate_id)

    def entry(self, position: int, topic: str, event: Any) -> Entry:
        key = str(event.originator_id)
        before = self._subjects.get(key)
        self._subjects[key] = remember(before, topic, event)
        meta = getattr(event, "meta", None) or {}
        return Entry(
            position=position, time=iso(event.timestamp), tenant_id=tenant_of(event),
            aggregate=topic.split(".", 1)[0], aggregate_id=key, version=event.originator_version,
            event_type=topic, actor=meta.get("actor"), reason=meta.get("reason"),
            correlation_id=meta.get("correlation_id"), causation_id=meta.get("causation_id"),
            summary=summarize(topic, event, before, self._secrets_of),
        )
