"""Time travel: an aggregate folded from its events up to a moment or a version, and described for people.

Folding uses the events' own ``mutate`` (the aggregate's code as it is now, upcasters included), so the state
shown is exactly what the service would load at that version.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Iterable, Sequence
from datetime import datetime
from typing import Any

from services.audit.domain.secrets import credentials_marker, masked


def iso(moment: datetime) -> str:
    """Event times as fixed-width ISO text (microseconds always), so text order is time order."""
    return moment.isoformat(timespec="microseconds")


def cut(events: Sequence[Any], *, at: datetime | None = None, version: int | None = None) -> list[Any]:
    """The events up to and including ``at`` (by event time) or ``version``; all of them when neither."""
    if version is not None:
        return [e for e in events if e.originator_version <= version]
    if at is not None:
        return [e for e in events if e.timestamp <= at]
    return list(events)


def fold(events: Iterable[Any]) -> Any | None:
    """The aggregate after ``events`` (in version order); None before its first event."""
    aggregate: Any = None
    for event in events:
        aggregate = event.mutate(aggregate)
    return aggregate


def _plain(value: Any) -> Any:
    """Aggregate state as JSON-ready data (enums as their values, dataclasses as dicts)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, str):
        return str(value)  # a StrEnum member becomes its plain value
    return value


def connection_document(connection: Any, mirror: Any | None, *, erased: bool,
                        secrets: Collection[str] | None) -> dict[str, Any]:
    """A connection's full state as of its last folded event; credentials only as a marker."""
    return {
        "connection_id": str(connection.id),
        "tenant_id": connection.tenant_id,
        "name": connection.name,
        "driver": connection.driver,
        "status": _plain(connection.status),
        "credential_state": _plain(connection.credential_state),
        "established": connection.established,
        "credentials": credentials_marker(connection.credentials, erased),
        "credentials_fingerprint": connection.credentials_fingerprint,
        "settings": masked(_plain(connection.settings), secrets),
        "open_jobs": [_plain(job) for job in connection.jobs.values()],
        "deletion_step": connection.deletion_step,
        "last_sync_job": connection.last_sync_job,
        "version": connection.version,
        "created_at": iso(connection.created_on),
        "as_of": iso(connection.modified_on),
        "data_model": None if mirror is None else {
            "attributes": len(mirror.attributes),
            "attribute_sets": len(mirror.attribute_sets),
            "mirror_version": mirror.version,
        },
    }
