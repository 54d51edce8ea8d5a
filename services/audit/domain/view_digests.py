"""Proving a rebuilt view equal to the live one: a digest per row, one per view, and the rows that differ.

Rows arrive keyed (a view table's key values joined as text) and already decoded by the same table code on
both sides, so equal rows give equal canonical JSON in any database.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

Row = dict[str, Any]
Rows = dict[str, Row]  # key -> row, for one table


def row_digest(row: Row) -> str:
    return hashlib.sha256(json.dumps(row, sort_keys=True, separators=(",", ":"), default=str).encode()).hexdigest()


def view_digest(tables: dict[str, Rows]) -> str:
    """SHA-256 over every table's rows (key and row digest) in key order: equal views give equal digests."""
    hasher = hashlib.sha256()
    for name in sorted(tables):
        hasher.update(f"table {name}\n".encode())
        for key in sorted(tables[name]):
            hasher.update(f"{key}:{row_digest(tables[name][key])}\n".encode())
    return hasher.hexdigest()


def compare(table: str, live: Rows, rebuilt: Rows) -> list[dict[str, Any]]:
    """Every row of one table that differs: missing from one side, or the columns whose values differ."""
    differences: list[dict[str, Any]] = []
    for key in sorted(live.keys() | rebuilt.keys()):
        old, new = live.get(key), rebuilt.get(key)
        if old is None:
            differences.append({"table": table, "key": key, "difference": "missing from the live view"})
        elif new is None:
            differences.append({"table": table, "key": key,
                                "difference": "in the live view but not in the rebuilt one"})
        elif row_digest(old) != row_digest(new):
            columns = {c: {"live": old.get(c), "rebuilt": new.get(c)}
                       for c in sorted(old.keys() | new.keys()) if old.get(c) != new.get(c)}
            differences.append({"table": table, "key": key, "difference": "rows differ", "columns": columns})
    return differences
