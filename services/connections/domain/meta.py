"""Who caused a change, and why: recorded on every domain event."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace


@dataclass(frozen=True)
class Meta:
    """Actor, tenant, reason and the ids that tie an event to the command or report that caused it."""

    tenant_id: str
    actor: str
    correlation_id: str
    causation_id: str | None = None
    reason: str | None = None
    # W3C traceparent of the command's span: the relay continues the trace from it (shared/tracing.py).
    trace_parent: str | None = None

    def as_dict(self) -> dict[str, str | None]:
        fields = asdict(self)
        if fields["trace_parent"] is None:
            del fields["trace_parent"]  # untraced events keep the meta they always had
        return fields

    def because(self, reason: str) -> Meta:
        return replace(self, reason=reason)
