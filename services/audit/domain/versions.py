"""Contiguous aggregate versions: every aggregate's events are versions 1, 2, 3, ... in position order.

A missing version means a record was removed (or never committed, which the store's transactions rule
out); a version seen twice or going backwards means records were copied or reordered.
"""

from __future__ import annotations

from services.audit.domain.records import Finding


class VersionCheck:
    """Fed every record in position order; remembers each aggregate's last version (a few bytes each)."""

    def __init__(self) -> None:
        self._last: dict[str, tuple[int, int]] = {}  # originator id -> (version, position)

    def see(self, position: int, originator_id: str, version: int) -> Finding | None:
        last_version, last_position = self._last.get(originator_id, (0, 0))
        if version > last_version:
            self._last[originator_id] = (version, position)
        if version == last_version + 1:
            return None
        if version > last_version + 1:
            missing = (f"version {last_version + 1}" if version == last_version + 2
                       else f"versions {last_version + 1}-{version - 1}")
            after = f"after v{last_version} at position {last_position}" if last_version else "before its first"
            return Finding("version_gap", f"position {position}: aggregate {originator_id} jumps to v{version}; "
                           f"{missing} missing ({after})", position, originator_id, version)
        return Finding("version_order", f"position {position}: aggregate {originator_id} v{version} comes after "
                       f"v{last_version} (position {last_position}): duplicated or reordered",
                       position, originator_id, version)

    @property
    def aggregates(self) -> int:
        return len(self._last)
