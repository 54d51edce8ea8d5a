"""Decoding of raw bus messages: envelope first, then the payload by its ``type`` and ``schema_version``.

Old versions stay readable: when a message's schema gets a new version, an *upcaster* registered here turns
the previous version's payload into the next one, so messages still in the log (or from producers that have
not upgraded yet) decode into the current model. Each upcaster states until when the old version is
accepted (its deprecation window); the compatibility gate (:mod:`contracts.compat`) checks that every
released version still decodes.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from pydantic import ValidationError

from contracts.commands import ALL_COMMANDS
from contracts.envelope import Envelope, Message
from contracts.events import ALL_EVENTS
from contracts.jobs import DriverJob
from contracts.reports import ALL_REPORTS
from contracts.results import CommandResult

_ALL_MESSAGES: tuple[type[Message], ...] = (*ALL_COMMANDS, *ALL_EVENTS, *ALL_REPORTS, DriverJob, CommandResult)
MESSAGES: dict[tuple[str, int], type[Message]] = {(m.message_type, m.schema_version): m for m in _ALL_MESSAGES}

PayloadUpcast = Callable[[dict[str, Any]], dict[str, Any]]
"""Turns the JSON payload of one version into the JSON payload of the next version."""


@dataclass(frozen=True, slots=True)
class Upcaster:
    """How a payload of ``message_type`` at ``from_version`` becomes ``from_version + 1``."""

    message_type: str
    from_version: int
    upcast: PayloadUpcast
    # The end of the deprecation window: the old version is accepted at least until this day.
    accepted_until: date | None = None


UPCASTERS: dict[tuple[str, int], Upcaster] = {}


class UndecodableMessage(ValueError):
    """A message that is not valid JSON, has no valid envelope, an unknown type or an invalid payload.

    ``reason_code`` is one of ``invalid_json``, ``invalid_envelope``, ``unknown_type``, ``invalid_payload``;
    consumers put it in the ``dlq_reason_code`` header when they dead-letter the message.
    """

    def __init__(self, reason_code: str, message: str) -> None:
        super().__init__(message)
        self.reason_code = reason_code
        self.message = message


def register_upcaster(
    message_type: str, from_version: int, fn: PayloadUpcast, *, accepted_until: date | None = None
) -> None:
    """Accept ``message_type`` at ``from_version`` by converting its payload to ``from_version + 1``.

    ``fn`` gets the old payload as JSON-like data and returns the next version's payload (add a default for
    a new required field, rename a field, map a removed enum value, ...). Chains are followed, so v1 -> v2
    and v2 -> v3 together accept v1. ``accepted_until`` states the deprecation window; the compatibility
    gate requires it for any released version that is no longer current.
    """
    if from_version < 1:
        raise ValueError("from_version must be 1 or more")
    key = (message_type, from_version)
    if key in UPCASTERS:
        raise ValueError(f"an upcaster for {message_type} v{from_version} is already registered")
    UPCASTERS[key] = Upcaster(message_type, from_version, fn, accepted_until)


def upcast(
    message_type: str,
    version: int,
    payload: dict[str, Any],
    messages: Mapping[tuple[str, int], type[Message]],
    upcasters: Mapping[tuple[str, int], Upcaster],
) -> tuple[int, dict[str, Any]] | None:
    """Follow upcasters from ``version`` until a known model; (version, payload) or None when none leads there."""
    while (message_type, version) not in messages:
        step = upcasters.get((message_type, version))
        if step is None:
            return None
        payload = step.upcast(dict(payload))
        version += 1
    return version, payload


def _describe(error: ValidationError) -> str:
    parts = []
    for item in error.errors(include_url=False, include_input=False):
        where = ".".join(str(p) for p in item["loc"]) or "(root)"
        parts.append(f"{where}: {item['msg']}")
    return "; ".join(parts)


def encode(envelope_fields: dict[str, Any], payload: Message) -> Envelope:
    """Wrap a payload in an envelope carrying its type and version.

    >>> from contracts.commands import InstallDriver
    >>> encode({"tenant_id": "acme"}, InstallDriver(driver="pos")).type
    'InstallDriver'
    """
    return Envelope(
        type=payload.message_type,
        schema_version=payload.schema_version,
        payload=payload.model_dump(mode="json"),
        **envelope_fields,
    )


def decode(raw: bytes | str, allowed: tuple[type[Message], ...] | None = None) -> tuple[Envelope, Message]:
    """Decode raw bytes into (envelope, typed payload) or raise :class:`UndecodableMessage` naming the fault.

    Unknown payload fields are ignored. An older, still accepted version is upcast: the returned envelope
    then names the version of the returned payload (its ``message_id`` and the rest are unchanged).
    ``allowed`` limits the accepted models (a consumer's own messages); others are ``unknown_type``.
    """
    return decode_with(raw, allowed, MESSAGES, UPCASTERS)


def decode_with(
    raw: bytes | str,
    allowed: tuple[type[Message], ...] | None,
    messages: Mapping[tuple[str, int], type[Message]],
    upcasters: Mapping[tuple[str, int], Upcaster],
) -> tuple[Envelope, Message]:
    """:func:`decode` against explicit tables; the compatibility gate uses it to try other registries."""
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise UndecodableMessage("invalid_json", f"message is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise UndecodableMessage("invalid_envelope", "message must be a JSON object")
    try:
        envelope = Envelope.model_validate(data)
    except ValidationError as exc:
        raise UndecodableMessage("invalid_envelope", f"invalid envelope: {_describe(exc)}") from None
    try:
        found = upcast(envelope.type, envelope.schema_version, envelope.payload, messages, upcasters)
    except Exception as exc:  # noqa: BLE001 - a failing upcaster must dead-letter the message, not stall the consumer
        raise UndecodableMessage(
            "invalid_payload", f"{envelope.type} v{envelope.schema_version} could not be upcast: {exc!r}"
        ) from None
    model = messages.get((envelope.type, found[0])) if found is not None else None
    if found is None or model is None or (allowed is not None and model not in allowed):
        raise UndecodableMessage(
            "unknown_type", f"unknown message type {envelope.type!r} version {envelope.schema_version} here"
        )
    version, payload_data = found
    try:
        payload = model.model_validate(payload_data)
    except ValidationError as exc:
        raise UndecodableMessage("invalid_payload", f"invalid {envelope.type}: {_describe(exc)}") from None
    if version != envelope.schema_version:
        envelope = envelope.model_copy(update={"schema_version": version, "payload": payload_data})
    return envelope, payload


# --- upcasters: older versions still accepted -----------------------------------------------------------
# None yet: every message is at its first version. When a message's schema_version is bumped, register the
# step from the previous version here, with the date its deprecation window ends, e.g.
#
#     register_upcaster("RequestSync", 1, lambda p: {**p, "priority": "normal"}, accepted_until=date(2026, 6, 30))
