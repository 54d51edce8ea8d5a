"""Differences between two documents (two moments of a connection), as dotted paths with before and after."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

_ABSENT = object()


@dataclass(frozen=True, slots=True)
class Difference:
    path: str
    before: Any
    after: Any

    @property
    def kind(self) -> str:
        if self.before is _ABSENT:
            return "added"
        if self.after is _ABSENT:
            return "removed"
        return "changed"

    def as_dict(self) -> dict[str, Any]:
        return {"path": self.path, "change": self.kind,
                "before": None if self.before is _ABSENT else self.before,
                "after": None if self.after is _ABSENT else self.after}


def diff(before: dict[str, Any], after: dict[str, Any], prefix: str = "") -> list[Difference]:
    """Every leaf that differs, nested dicts walked; lists compare whole (their order is meaningful)."""
    changes: list[Difference] = []
    for key in [*before, *(k for k in after if k not in before)]:
        old, new = before.get(key, _ABSENT), after.get(key, _ABSENT)
        path = f"{prefix}{key}"
        if isinstance(old, dict) and isinstance(new, dict):
            changes += diff(old, new, path + ".")
        elif old != new:
            changes.append(Difference(path, old, new))
    return changes
