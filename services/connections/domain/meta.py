"""Who caused a change, and why: recorded on every domain event."""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Meta:
    """Actor, tenant, reason and the ids that tie an event to the command or report that caused it."""

    tenant_id: str
    actor: str
    correlation_id: str
    causation_id: str | None = None
    reason: str | None = None

    def as_dict(self) -> dict[str, str | None]:
        return asdict(self)

    def because(self, reason: str) -> Meta:
        return Meta(self.tenant_id, self.actor, self.correlation_id, self.causation_id, reason)
