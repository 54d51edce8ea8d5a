"""The audit export format: JSON Lines with a header, one line per event, and a trailer that seals them.

Layout (format ``omni-audit-export``, version 1)::

    {"record": "header", ...what was exported, when, from which store position...}
    {"record": "event", ...the history entry..., "data": {...the event's fields, secrets replaced...}}
    ...
    {"record": "trailer", "events": N, "sha256": "<hex of every byte above>", "signature": null | {...}}

The trailer's digest covers every byte before it, so any edited, added, removed or reordered line changes
it. A signature (HMAC-SHA256 or Ed25519, see the audit adapters) signs :func:`signed_message` of that digest.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

FORMAT = "omni-audit-export"
FORMAT_VERSION = 1


class ExportInvalid(ValueError):
    """The file is not an audit export, or its trailer does not match its lines."""


def line(document: dict[str, Any]) -> bytes:
    """One canonical JSON line: sorted keys, no spaces, UTF-8, newline-terminated."""
    return (json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
            + "\n").encode()


def signed_message(digest_hex: str) -> bytes:
    """What a signature signs: the format's name and version bound to the digest of the lines."""
    return f"{FORMAT}/{FORMAT_VERSION}\n{digest_hex}".encode()


class ExportDigest:
    """Counts and hashes lines as they are written, for the trailer."""

    def __init__(self) -> None:
        self._hash = hashlib.sha256()
        self.events = 0

    def add(self, data: bytes, *, is_event: bool) -> bytes:
        self._hash.update(data)
        self.events += int(is_event)
        return data

    def hexdigest(self) -> str:
        return self._hash.hexdigest()


@dataclass(frozen=True)
class ParsedExport:
    """An export split into what the trailer covers and the trailer itself, checked for consistency."""

    header: dict[str, Any]
    trailer: dict[str, Any]
    digest: str
    events: int

    @property
    def signature(self) -> dict[str, Any] | None:
        signature = self.trailer.get("signature")
        return signature if isinstance(signature, dict) else None


def parse(content: bytes) -> tuple[ParsedExport, list[str]]:
    """Split and recompute an export; returns it and the problems found (empty when the lines match)."""
    body, _, last = content.rstrip(b"\n").rpartition(b"\n")
    if not body:
        raise ExportInvalid("not an audit export: fewer than two lines")
    body += b"\n"
    try:
        trailer = json.loads(last)
        header = json.loads(body.split(b"\n", 1)[0])
    except ValueError:
        raise ExportInvalid("not an audit export: the first or last line is not JSON") from None
    if not isinstance(header, dict) or header.get("record") != "header" or header.get("format") != FORMAT:
        raise ExportInvalid(f"not an audit export: the first line is not a {FORMAT} header")
    if not isinstance(trailer, dict) or trailer.get("record") != "trailer":
        raise ExportInvalid("the export has no trailer: it was cut short")
    events = sum(1 for raw in body.splitlines()[1:] if raw.strip())
    digest = hashlib.sha256(body).hexdigest()
    problems = []
    if digest != trailer.get("sha256"):
        problems.append("the lines do not match the trailer's SHA-256: the export was altered")
    if events != trailer.get("events"):
        problems.append(f"the export holds {events} event lines but its trailer says {trailer.get('events')}")
    return ParsedExport(header, trailer, digest, events), problems
