"""Opening the event store from several processes at once."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from eventsourcing.persistence import PersistenceError

T = TypeVar("T")


def open_store(construct: Callable[[], T], attempts: int = 10) -> T:
    """Construct an eventsourcing application, retrying while another process creates the same tables.

    PostgreSQL's ``CREATE TABLE IF NOT EXISTS`` is not safe against a concurrent twin (it can fail on the
    table's row type); the loser simply tries again and finds the tables there.
    """
    for attempt in range(1, attempts + 1):
        try:
            return construct()
        except PersistenceError:
            if attempt == attempts:
                raise
            time.sleep(0.1 * attempt)
    raise AssertionError("unreachable")
