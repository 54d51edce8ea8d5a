"""How results look: aligned tables for people at a terminal, JSON Lines for programs reading a pipe."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any, TextIO

# (title, key, width); the last column takes what is left of the line.
HISTORY_COLUMNS = (
    ("POS", "position", 7), ("TIME (UTC)", "time", 23), ("EVENT", "event_type", 30), ("ACTOR", "actor", 14),
    ("REASON", "reason", 22), ("CORRELATION", "correlation_id", 11), ("SUMMARY", "summary", 0),
)
FINDING_COLUMNS = (("POS", "position", 9), ("KIND", "kind", 13), ("FINDING", "message", 0))


def json_line(document: Any) -> str:
    return json.dumps(document, sort_keys=False, ensure_ascii=False, default=str)


def _cell(value: Any, width: int) -> str:
    text = "" if value is None else str(value).replace("\n", " ")
    if not width:
        return text
    return text.ljust(width) if len(text) <= width else text[: width - 1] + "…"


def _time(value: Any) -> str:
    return str(value).replace("T", " ")[:23] if value else ""


def table(rows: Iterable[dict[str, Any]], columns: Sequence[tuple[str, str, int]], out: TextIO) -> int:
    """Write rows as they come (a history can be long); returns how many were written."""
    out.write("  ".join(_cell(title, width) for title, _, width in columns).rstrip() + "\n")
    count = 0
    for row in rows:
        cells = [_cell(_time(row.get(key)) if key == "time" else row.get(key), width) for _, key, width in columns]
        out.write("  ".join(cells).rstrip() + "\n")
        count += 1
    return count


def json_lines(rows: Iterable[dict[str, Any]], out: TextIO) -> int:
    count = 0
    for row in rows:
        out.write(json_line(row) + "\n")
        count += 1
    return count


def rows_out(rows: Iterable[dict[str, Any]], columns: Sequence[tuple[str, str, int]], out: TextIO,
             fmt: str | None) -> int:
    """A table on a terminal (or ``--format table``), JSON Lines otherwise (or ``--format jsonl``)."""
    as_table = fmt == "table" or (fmt is None and out.isatty())
    return table(rows, columns, out) if as_table else json_lines(rows, out)


def document_out(document: Any, out: TextIO) -> None:
    """One JSON document: indented for people, one line for programs."""
    out.write(json.dumps(document, indent=2 if out.isatty() else None, ensure_ascii=False, default=str) + "\n")
