"""The words of every listed name, kept in the list's sort orders, and each tenant's vocabulary of them.

A name search (``LOWER(name) LIKE '%text%'``) cannot be answered in the sort order from the list's own indexes:
its matches may all lie behind every other name ("Outlet ..." after hundreds of thousands of "Airport ..."),
and no trigram index gives rows in order. But a text without blanks can only occur inside one word of a name
(words: the lower-cased name split at blanks), so its matches are exactly the connections that have one of the
words containing it. The vocabulary (one row per tenant and word, trigram-indexed) names those words; a word row
per connection and word, indexed in the sort orders, gives each word's connections in order; a page merges the
first rows of each word (see :func:`page`). A text with blanks goes by its longest blank-free piece, and every
row is checked against the whole text, so the answer is the substring search's exactly.

A word row holds the columns of the sort orders it answers (every one but ``updated_at``, which moves with every
event) and the status and driver filters, so it changes only when a name, status or driver does.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from operator import itemgetter
from typing import Any

from services.projections.adapters import pages, tables
from services.projections.adapters.tables import Row, TableSpec
from services.projections.domain.connection_list import SORTS
from shared.sql import Transaction

__all__ = ["COLUMNS", "MOST_WORDS", "SORTED", "VOCABULARY", "WORDS", "page", "words_of", "write"]

COLUMNS = ("tenant_id", "word", "connection_id", "name", "status", "driver", "created_at")
SORTED = tuple(sort for sort, columns in SORTS.items() if set(columns) <= set(COLUMNS))
FILTERS = ("status", "driver")  # the list's filters a word row answers itself; others are read from the list's row
WORDS = TableSpec("connection_list_words", {c: "text" for c in COLUMNS}, ("connection_id", "word"),
                  {f"tenant_{sort}": ("tenant_id", "word", *SORTS[sort]) for sort in SORTED},
                  write_indexes=("tenant_name",))  # whether a tenant still has a word (see write)
VOCABULARY = TableSpec("connection_list_vocabulary", {"tenant_id": "text", "word": "text"}, ("tenant_id", "word"),
                       search=("word",))
# A text found inside more words than this (a digit in numbered names) merges too many: the caller searches
# another way.
MOST_WORDS = 32
_SHORTEST = 3  # a trigram index looks up texts of 3 characters or more


def words_of(name: str) -> set[str]:
    return set(name.lower().split())


_KEPT = tuple(c for c in COLUMNS if c != "word")  # what a word row keeps of its list row
_kept = itemgetter(*_KEPT)


def write(tx: Transaction, words: TableSpec, vocabulary: TableSpec, before: Mapping[str, Row | None],
          after: Mapping[str, Row | None]) -> None:
    """Keep the word rows and vocabulary of the list rows that changed from ``before`` to ``after`` (by key)."""
    old: list[Row] = []
    new: list[Row] = []
    for key, row in after.items():
        was = before.get(key)
        if was is not None and row is not None and _kept(was) == _kept(row):
            continue  # a sync's progress, a credential check: nothing a word row holds
        if was is not None:
            old.append(was)
        if row is not None:
            new.append(row)
    if not old and not new:
        return
    tables.delete_where(tx, words, ("connection_id",), [(row["connection_id"],) for row in old])
    worded = [(row, words_of(row["name"])) for row in new]
    # Parameters in the column order of COLUMNS, built here: a dict per word row, encoded again, cost a third more.
    tables.insert_values(tx, words, [[row["tenant_id"], word, *_kept(row)[1:]] for row, found in worded
                                     for word in found])
    had = {(row["tenant_id"], word) for row in old for word in words_of(row["name"])}
    has = {(row["tenant_id"], word) for row, found in worded for word in found}
    tables.insert_values(tx, vocabulary, [list(pair) for pair in has - had], upsert=True)
    gone = had - has  # a word leaves the vocabulary with its tenant's last row of it
    if gone:
        tx.executemany(f"DELETE FROM {vocabulary.name} WHERE tenant_id = ? AND word = ? AND NOT EXISTS "
                       f"(SELECT 1 FROM {words.name} WHERE tenant_id = ? AND word = ?)",
                       [[t, w, t, w] for t, w in gone])


def page(tx: Transaction, listed: TableSpec, tenant_id: str, text: str, sort: str, descending: bool,
         filters: Sequence[tuple[str, Any]], cursor: str | None, limit: int,
         most_words: int = MOST_WORDS) -> list[Any] | None:
    """``limit + 1`` rows of ``listed`` (fetched, not decoded) whose name holds ``text`` (lower case), in the
    order ``sort`` after ``cursor``; None where the words cannot answer (a sort or piece they do not have, or a
    piece inside more than ``most_words`` words)."""
    piece = max(text.split(), key=len, default="")
    if sort not in SORTED or len(piece) < _SHORTEST:
        return None
    tx.execute(f"SELECT word FROM {VOCABULARY.name} WHERE tenant_id = ? AND LOWER(word) LIKE ? LIMIT ?",
               [tenant_id, f"%{piece}%", most_words + 1])
    found = [row[0] for row in tx.fetchall()]
    if len(found) > most_words:
        return None
    if not found:
        return []
    order = SORTS[sort]
    where, params = ["w.tenant_id = ?", "w.word = ?", "LOWER(w.name) LIKE ?"], [f"%{text}%"]
    joined = False
    for column, value in filters:
        owner = "w" if column in FILTERS else "c"
        joined = joined or owner == "c"
        where.append(f"{owner}.{column} = ?")
        params.append(value)
    after, after_params = pages.after([f"w.{c}" for c in order], cursor, descending)
    if after:
        where.append(after)
        params.extend(after_params)
    join = f" JOIN {listed.name} AS c ON c.connection_id = w.connection_id" if joined else ""
    # Each word's first rows in order (its index read until the LIMIT), merged; a name with two of the words is
    # in both, once.
    branch = (f"SELECT {', '.join(f'w.{c}' for c in order)} FROM {WORDS.name} AS w{join} WHERE {' AND '.join(where)} "
              f"ORDER BY {pages.order_by([f'w.{c}' for c in order], descending)} LIMIT ?")
    merged = " UNION ".join(f"SELECT * FROM ({branch}) AS m{i}" for i in range(len(found)))
    columns = ", ".join(f"c.{c}" for c in listed.names)
    tx.execute(f"WITH wanted AS (SELECT * FROM ({merged}) AS m ORDER BY {pages.order_by(order, descending)} "
               f"LIMIT ?) SELECT {columns} FROM wanted JOIN {listed.name} AS c "
               f"ON c.connection_id = wanted.connection_id "
               f"ORDER BY {pages.order_by([f'wanted.{c}' for c in order], descending)}",
               [value for word in found for value in (tenant_id, word, *params, limit + 1)] + [limit + 1])
    return tx.fetchall()
