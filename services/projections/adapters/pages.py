"""Keyset pagination shared by every query: opaque cursors and the ``WHERE`` clause that continues after one.

A cursor is the sort values of the last row of a page, base64url JSON. Continuing uses a row-value comparison
``(sort, key) > (?, ?)``, which both SQLite and PostgreSQL answer from an index with the same column order, so a
deep page costs what the first one does.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from typing import Any

from services.projections.adapters.tables import Row


class InvalidCursor(ValueError):
    """A cursor this API did not hand out (or one for another sort order)."""


def encode_cursor(values: Sequence[Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(list(values)).encode()).decode()


def decode_cursor(cursor: str, length: int = 2) -> list[Any]:
    try:
        values = json.loads(base64.urlsafe_b64decode(cursor.encode()))
    except (ValueError, binascii.Error):
        raise InvalidCursor("invalid cursor") from None
    if not isinstance(values, list) or len(values) != length:
        raise InvalidCursor("invalid cursor")
    return values


def after(columns: Sequence[str], cursor: str | None, descending: bool) -> tuple[str, list[Any]]:
    """The condition selecting rows after ``cursor`` in ``ORDER BY columns`` (ascending or descending)."""
    if not cursor:
        return "", []
    values = decode_cursor(cursor, len(columns))
    op = "<" if descending else ">"
    return f"({', '.join(columns)}) {op} ({', '.join('?' for _ in columns)})", values


def order_by(columns: Sequence[str], descending: bool) -> str:
    direction = "DESC" if descending else "ASC"
    return ", ".join(f"{c} {direction}" for c in columns)


def page(rows: list[Row], limit: int, columns: Sequence[str]) -> tuple[list[Row], str | None]:
    """Cut ``limit + 1`` fetched rows to a page and the cursor of the next one (None on the last page)."""
    items, more = rows[:limit], len(rows) > limit
    next_cursor = encode_cursor([items[-1][c] for c in columns]) if more and items else None
    return items, next_cursor
