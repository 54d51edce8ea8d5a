"""What the audit domain reads and reports: stored records as the store holds them, and findings."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class StoredRecord:
    """One row of the event store, undecoded: the exact bytes the hash chain seals."""

    position: int
    originator_id: str
    version: int
    topic: str
    state: bytes


@dataclass(frozen=True, slots=True)
class Finding:
    """Something wrong with the history. ``kind`` is machine-readable; ``message`` names what and where."""

    kind: str
    message: str
    position: int | None = None
    originator_id: str | None = None
    version: int | None = None

    def as_dict(self) -> dict[str, object]:
        return {"kind": self.kind, "position": self.position, "originator_id": self.originator_id,
                "version": self.version, "message": self.message}
