"""Who caused a change, and why: recorded on every domain event."""

from __future__ import annotations

import functools
from dataclasses import dataclass, replace
from dataclasses import fields as dataclass_fields


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
        # Every field is a string: a shallow copy is the same as ``asdict`` at a fraction of its cost (it runs
        # for every event of every command). Each event gets its own copy of the fields, made once per meta.
        return dict(self._fields)

    @functools.cached_property
    def _fields(self) -> dict[str, str | None]:
        fields = {name: getattr(self, name) for name in _FIELDS}
        if fields["trace_parent"] is None:
            del fields["trace_parent"]  # untraced events keep the meta they always had
        return fields

    def because(self, reason: str) -> Meta:
        return replace(self, reason=reason)


_FIELDS = tuple(f.name for f in dataclass_fields(Meta))
