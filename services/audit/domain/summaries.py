"""Readable one-line summaries of stored events, for people reading a history.

A summary never holds a secret: credentials appear only as "credentials changed (fingerprint ...)", settings
only masked. Summaries that compare with what came before (a rename, changed settings) get a
:class:`Subject`: what the history remembers of the aggregate before this event.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection
from dataclasses import dataclass, field, replace
from typing import Any

from services.audit.domain.secrets import masked

SecretsOf = Callable[[str | None], Collection[str] | None]
"""The secret field names of a driver (None: unknown driver, mask everything)."""

_KIND = {"check_credentials": "credential check", "sync": "sync", "clean_up": "clean-up"}
_VALUE_WIDTH = 60


@dataclass(frozen=True)
class Subject:
    """What a history remembers of one connection to tell later events."""

    name: str | None = None
    driver: str | None = None
    fingerprint: str | None = None
    settings: dict[str, Any] = field(default_factory=dict)


def remember(subject: Subject | None, topic: str, event: Any) -> Subject | None:
    """The subject after ``event``."""
    if topic == "Connection.Created.v1":
        return Subject(event.name, event.driver, event.credentials_fingerprint, dict(event.settings or {}))
    if subject is None or topic != "Connection.Edited.v1":
        return subject
    return replace(
        subject,
        name=event.name if event.name is not None else subject.name,
        fingerprint=event.credentials_fingerprint or subject.fingerprint,
        settings=dict(event.settings) if event.settings is not None else subject.settings,
    )


def short(identifier: str | None, width: int = 8) -> str:
    return f"{identifier[:width]}…" if identifier and len(identifier) > width else (identifier or "none")


def _value(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return text if len(text) <= _VALUE_WIDTH else text[: _VALUE_WIDTH - 1] + "…"


def settings_changes(before: dict[str, Any], after: dict[str, Any], secrets: Collection[str] | None) -> str:
    """``key: old -> new`` for each changed top-level setting, secret ones masked."""
    old, new = masked(before, secrets), masked(after, secrets)
    parts = []
    for key in [*old, *(k for k in new if k not in old)]:
        if key not in new:
            parts.append(f"{key} removed")
        elif key not in old:
            parts.append(f"{key} = {_value(new[key])}")
        elif old[key] != new[key]:
            parts.append(f"{key}: {_value(old[key])} -> {_value(new[key])}")
    return ", ".join(parts) or "no visible change"


def summarize(topic: str, event: Any, subject: Subject | None, secrets_of: SecretsOf) -> str:
    """One line telling what ``event`` did; ``subject`` is the aggregate as remembered before it."""
    teller = _TELLERS.get(topic)
    if teller is None:
        return f"{topic.rsplit('.', 1)[0]} recorded"
    return teller(event, subject or Subject(), secrets_of)


def _created(event: Any, _: Subject, secrets_of: SecretsOf) -> str:
    settings = masked(event.settings or {}, secrets_of(event.driver))
    return (f"connection '{event.name}' created with driver {event.driver}; credentials set (fingerprint "
            f"{short(event.credentials_fingerprint)}); settings {_value(settings)}")


def _edited(event: Any, subject: Subject, secrets_of: SecretsOf) -> str:
    parts = []
    if event.name is not None:
        parts.append(f"renamed '{subject.name}' -> '{event.name}'")
    if event.credentials_fingerprint is not None:
        parts.append(f"credentials changed (fingerprint {short(subject.fingerprint)} -> "
                     f"{short(event.credentials_fingerprint)})")
    if event.settings is not None:
        parts.append("settings changed: " + settings_changes(subject.settings, event.settings,
                                                             secrets_of(subject.driver)))
    return "; ".join(parts) or "edited (nothing visible changed)"


def _job(event: Any) -> str:
    return f"{_KIND.get(str(event.kind), str(event.kind))} (job {short(event.job_id)})"


def _job_requested(event: Any, _: Subject, __: SecretsOf) -> str:
    attempt = f", attempt {event.attempt}" if getattr(event, "attempt", 1) != 1 else ""
    return f"{_job(event)} requested{attempt}"


def _job_started(event: Any, _: Subject, __: SecretsOf) -> str:
    return f"{_job(event)} started" + (f" by worker {event.worker}" if event.worker else "")


def _job_progressed(event: Any, _: Subject, __: SecretsOf) -> str:
    total = f"/{event.total}" if event.total is not None else ""
    return f"{_job(event)} progressed: {event.done}{total}"


def _job_ended(event: Any, _: Subject, __: SecretsOf) -> str:
    text = f"{_job(event)} {str(event.state).replace('_', ' ')}"
    details = [part for part in (event.error_type, event.message) if part]
    return text + (": " + ": ".join(details) if details else "")


def _synced(event: Any, _: Subject, __: SecretsOf) -> str:
    return (f"data model synced (job {short(event.job_id)}): attributes +{len(event.added_attributes)} "
            f"~{len(event.changed_attributes)} -{len(event.removed_attributes)}, sets +{len(event.added_sets)} "
            f"~{len(event.changed_sets)} -{len(event.removed_sets)}; now {event.attributes_total} attributes, "
            f"{event.sets_total} sets")


def _processed(event: Any, _: Subject, __: SecretsOf) -> str:
    outcome = event.outcome or {}
    verdict = "accepted" if outcome.get("accepted") else f"refused ({outcome.get('reason_code') or 'no reason'})"
    return f"command {event.command_type} {short(event.command_id)} processed: {verdict}"


_TELLERS: dict[str, Callable[[Any, Subject, SecretsOf], str]] = {
    "Connection.Created.v1": _created,
    "Connection.Edited.v1": _edited,
    "Connection.JobRequested.v1": _job_requested,
    "Connection.JobStarted.v1": _job_started,
    "Connection.JobProgressed.v1": _job_progressed,
    "Connection.JobEnded.v1": _job_ended,
    "Connection.Disabled.v1": lambda e, s, _: f"connection '{s.name}' disabled",
    "Connection.Enabled.v1": lambda e, s, _: f"connection '{s.name}' enabled",
    "Connection.DeletionStarted.v1": lambda e, s, _: f"deletion of '{s.name}' started ({len(e.steps)} steps)",
    "Connection.DeletionStepCompleted.v1": lambda e, s, _: f"deletion step {e.number}/{e.of} done: {e.step}",
    "Connection.Deleted.v1": lambda e, s, _: f"connection '{s.name}' deleted; its credentials are erased",
    "DataModelMirror.Created.v1": lambda e, s, _: f"data model mirror opened for connection {e.connection_id}",
    "DataModelMirror.Synced.v1": _synced,
    "DataModelMirror.Cleared.v1": lambda e, s, _: "data model removed",
    "Tenant.Created.v1": lambda e, s, _: f"tenant {e.tenant_id} created",
    "Tenant.DriverInstalled.v1": lambda e, s, _: f"driver {e.driver} {e.version} installed",
    "Tenant.DriverUninstalled.v1": lambda e, s, _: f"driver {e.driver} uninstalled",
    "Tenant.ConnectionAdded.v1": lambda e, s, _: f"connection {e.connection_id} ({e.driver}) added",
    "Tenant.ConnectionRemoved.v1": lambda e, s, _: f"connection {e.connection_id} ({e.driver}) removed",
    "ProcessedCommand.Created.v1": _processed,
}
