"""Table specs shared by every view: one declaration gives the DDL, row (de)coding, upserts, digests and swaps.

A view's rows are plain dicts. A :class:`TableSpec` says which columns a table has, of which kind, its key and
its indexes; :meth:`TableSpec.named` gives the same table under another name, which is how a rebuild writes
into shadow tables before swapping them in. SQL stays portable between SQLite and PostgreSQL (``?`` marks,
``INSERT ... ON CONFLICT``).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any

from shared.sql import Transaction

Row = dict[str, Any]

_SQL_TYPES = {"text": "TEXT", "int": "BIGINT", "float": "DOUBLE PRECISION", "bool": "BIGINT", "json": "TEXT"}
_IN_CHUNK = 500  # keys per IN (...) list on SQLite: far below its parameter limit
_MAX_PARAMS = 4_000  # values per multi-row read on SQLite (it allows 32,766)
_GIN_PENDING_KB = 512  # pending list of a trigram index (see TableSpec.ddl)


_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)  # built once: hot path


def canonical_json(value: Any) -> str:
    """One text per value (sorted keys, no spaces), so equal documents store, compare and digest equal."""
    return _CANONICAL.encode(value)


@dataclass(frozen=True)
class TableSpec:
    """A view table: ``columns`` maps name -> kind (text, int, float, bool, json); ``key`` is the primary key."""

    name: str
    columns: dict[str, str]
    key: tuple[str, ...]
    indexes: dict[str, tuple[str, ...]] = field(default_factory=dict)  # suffix -> columns
    # Text columns searched by substring (``LOWER(col) LIKE '%...%'``): on PostgreSQL with pg_trgm they get a
    # trigram index, which turns that search from a scan of the tenant's rows into an index lookup.
    search: tuple[str, ...] = ()
    # Indexes the view's own writes read (not only its queries): a rebuild creates them with the table, the others
    # once the table is filled (one sort each instead of an insert per row).
    write_indexes: tuple[str, ...] = ()

    def named(self, name: str) -> TableSpec:
        """The same table under another name (shadow tables of a rebuild)."""
        return replace(self, name=name)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self.columns)

    def index_name(self, suffix: str) -> str:
        return f"{self.name}_{suffix}"

    def ddl(self, trigram: bool = False, *, deferred: bool = False) -> list[str]:
        """Idempotent ``CREATE`` statements for the table and its indexes (``trigram``: pg_trgm is there;
        ``deferred``: only the indexes its writes need, the rest left for a second call once it is filled)."""
        columns = ", ".join(f"{c} {_SQL_TYPES[kind]}" for c, kind in self.columns.items())
        statements = [f"CREATE TABLE IF NOT EXISTS {self.name} ({columns}, PRIMARY KEY ({', '.join(self.key)}))"]
        statements += [
            f"CREATE INDEX IF NOT EXISTS {self.index_name(suffix)} ON {self.name} ({', '.join(cols)})"
            for suffix, cols in self.indexes.items() if not deferred or suffix in self.write_indexes
        ]
        if trigram and not deferred:
            # GIN queues new entries in a pending list that every search scans until it is merged (by a write
            # that finds it over the limit, or by vacuum). At the default 4 MB, after bulk writes, that scan took
            # a trigram lookup on 100k names from 2 to 23 ms (load 20); 512 kB keeps it an eighth of that, for
            # 6-13 % more time writing the list's rows.
            statements += [
                f"CREATE INDEX IF NOT EXISTS {self.index_name(column + '_trgm')} ON {self.name} "
                f"USING gin (LOWER({column}) gin_trgm_ops) WITH (gin_pending_list_limit = {_GIN_PENDING_KB})"
                for column in self.search
            ]
        return statements

    # ----- row coding ---------------------------------------------------------------------------------------

    @cached_property
    def _positions(self) -> tuple[tuple[int, ...], tuple[int, ...]]:
        kinds = list(self.columns.values())
        return (tuple(i for i, k in enumerate(kinds) if k == "json"),
                tuple(i for i, k in enumerate(kinds) if k == "bool"))

    def encode(self, row: Row) -> list[Any]:
        """A row dict as SQL parameters in column order."""
        values = [row.get(name) for name in self.columns]
        json_at, bool_at = self._positions
        for i in json_at:
            if values[i] is not None:
                values[i] = canonical_json(values[i])
        for i in bool_at:
            if values[i] is not None:
                values[i] = int(bool(values[i]))
        return values

    def decode(self, values: Sequence[Any]) -> Row:
        """A fetched SQL row as a dict, JSON parsed and booleans restored."""
        row = dict(zip(self.columns, values, strict=True))
        json_at, bool_at = self._positions
        if json_at or bool_at:
            names = list(self.columns)
            for i in json_at:
                if values[i] is not None:
                    row[names[i]] = json.loads(values[i])
            for i in bool_at:
                if values[i] is not None:
                    row[names[i]] = bool(values[i])
        return row

    def select(self) -> str:
        return f"SELECT {', '.join(self.columns)} FROM {self.name}"

    @cached_property
    def statements(self) -> Statements:
        """The table's write statements, one fixed text each (built once per spec)."""
        names, marks = ", ".join(self.columns), ", ".join("?" for _ in self.columns)
        insert = f"INSERT INTO {self.name} ({names}) VALUES ({marks})"
        others = [c for c in self.columns if c not in self.key]
        action = f"DO UPDATE SET {', '.join(f'{c} = excluded.{c}' for c in others)}" if others else "DO NOTHING"
        conflict = f" ON CONFLICT ({', '.join(self.key)}) {action}"
        return Statements(insert, insert + conflict, conflict)


@dataclass(frozen=True)
class Statements:
    insert: str
    upsert: str
    conflict: str  # what makes an insert an upsert


def create(tx: Transaction, spec: TableSpec, trigram: bool = False, *, deferred: bool = False) -> None:
    for statement in spec.ddl(trigram, deferred=deferred):
        tx.execute(statement)


def drop(tx: Transaction, spec: TableSpec) -> None:
    tx.execute(f"DROP TABLE IF EXISTS {spec.name}")


def _chunks(rows: list[list[Any]], width: int) -> Iterator[list[list[Any]]]:
    per_statement = max(1, _MAX_PARAMS // max(1, width))
    for start in range(0, len(rows), per_statement):
        yield rows[start:start + per_statement]


def _values(rows: list[list[Any]]) -> tuple[str, list[Any]]:
    """``(?, ?), (?, ?)`` and the flat parameters: one statement for many rows."""
    marks = "(" + ", ".join("?" for _ in rows[0]) + ")"
    return ", ".join(marks for _ in rows), [value for row in rows for value in row]


def upsert(tx: Transaction, spec: TableSpec, rows: Iterable[Row]) -> None:
    """Insert or replace whole rows by key (see :func:`insert_values`). Keys must be unique in ``rows``."""
    insert_values(tx, spec, [spec.encode(row) for row in rows], upsert=True)


def insert(tx: Transaction, spec: TableSpec, rows: Iterable[Row]) -> None:
    """Append rows that are new by construction (change lists, set members)."""
    insert_values(tx, spec, [spec.encode(row) for row in rows])


def insert_values(tx: Transaction, spec: TableSpec, values: list[list[Any]], *, upsert: bool = False) -> None:
    """Insert (or with ``upsert`` insert or replace) rows given as parameter lists in column order, many at once.

    On PostgreSQL one statement over one array per column (``SELECT * FROM unnest(...)``), one fixed text whatever
    the number of rows: ``executemany`` sent every row as a statement of its own (the word rows of a rebuild cost
    more than the list rows they come from), and a multi-row ``VALUES`` list was a new text for every row count,
    parsed again each time. SQLite, without arrays, runs ``executemany``. Keys must be unique in ``values``.
    """
    if not values:
        return
    if tx.dialect != "postgres":
        tx.executemany(spec.statements.upsert if upsert else spec.statements.insert, values)
        return
    names = ", ".join(spec.columns)
    arrays = ", ".join(f"?::{_SQL_TYPES[kind]}[]" for kind in spec.columns.values())
    tx.execute(f"INSERT INTO {spec.name} ({names}) SELECT {names} FROM unnest({arrays}) AS v ({names})"
               f"{spec.statements.conflict if upsert else ''}", [list(column) for column in zip(*values, strict=True)])


def delete(tx: Transaction, spec: TableSpec, keys: Iterable[Sequence[Any]]) -> None:
    """Delete rows by their whole key."""
    delete_where(tx, spec, spec.key, keys)


def delete_where(tx: Transaction, spec: TableSpec, columns: Sequence[str], values: Iterable[Sequence[Any]]) -> None:
    """Delete the rows whose ``columns`` equal one of the ``values`` tuples."""
    params = [list(v) for v in values]
    if params:
        tx.executemany(f"DELETE FROM {spec.name} WHERE {' AND '.join(f'{c} = ?' for c in columns)}", params)


def load_many(tx: Transaction, spec: TableSpec, column: str, values: Iterable[Any],
              where: str = "", params: Sequence[Any] = ()) -> list[Row]:
    """Rows whose ``column`` is one of ``values`` (plus an optional extra condition).

    On PostgreSQL one fixed statement with one array (``column = ANY(?)``), prepared once, instead of an
    ``IN (?, ?, ...)`` text per list length; SQLite, without arrays, reads ``IN`` lists in chunks.
    """
    wanted = list(dict.fromkeys(values))
    if not wanted:
        return []
    extra = f" AND {where}" if where else ""
    if tx.dialect == "postgres":
        tx.execute(f"{spec.select()} WHERE {column} = ANY(?){extra}", [wanted, *params])
        return [spec.decode(r) for r in tx.fetchall()]
    rows: list[Row] = []
    for start in range(0, len(wanted), _IN_CHUNK):
        chunk = wanted[start:start + _IN_CHUNK]
        tx.execute(f"{spec.select()} WHERE {column} IN ({', '.join('?' for _ in chunk)}){extra}",
                   [*chunk, *params])
        rows += [spec.decode(r) for r in tx.fetchall()]
    return rows


def load_keys(tx: Transaction, spec: TableSpec, columns: Sequence[str], values: Iterable[Sequence[Any]]) -> list[Row]:
    """Rows whose ``columns`` equal one of the ``values`` tuples (composite keys).

    On PostgreSQL one fixed statement joining one array per column; on SQLite ``VALUES`` lists in chunks.
    """
    wanted = list(dict.fromkeys(tuple(v) for v in values))
    if not wanted:
        return []
    if tx.dialect == "postgres":
        arrays = ", ".join(f"?::{_SQL_TYPES[spec.columns[c]]}[]" for c in columns)
        tx.execute(f"{spec.select()} WHERE ({', '.join(columns)}) IN (SELECT * FROM unnest({arrays}))",
                   [list(column) for column in zip(*wanted, strict=True)])
        return [spec.decode(r) for r in tx.fetchall()]
    found: list[Row] = []
    for chunk in _chunks([list(v) for v in wanted], len(columns)):
        marks, flat = _values(chunk)
        tx.execute(f"{spec.select()} WHERE ({', '.join(columns)}) IN (VALUES {marks})", flat)
        found += [spec.decode(r) for r in tx.fetchall()]
    return found


def rows(tx: Transaction, spec: TableSpec, where: str = "", params: Sequence[Any] = ()) -> list[Row]:
    """Every row (optionally filtered), in key order."""
    clause = f" WHERE {where}" if where else ""
    tx.execute(f"{spec.select()}{clause} ORDER BY {', '.join(spec.key)}", params)
    return [spec.decode(r) for r in tx.fetchall()]


def digest_lines(tx: Transaction, spec: TableSpec) -> Iterator[bytes]:
    """Canonical lines of every row in key order: the input of a view's digest."""
    tx.execute(f"{spec.select()} ORDER BY {', '.join(spec.key)}")
    for values in tx.fetchall():
        yield canonical_json(list(spec.decode(values).values())).encode() + b"\n"


def digest(tx: Transaction, specs: Iterable[TableSpec]) -> str:
    """SHA-256 over every row of the tables, in key order; equal rows in any database give equal digests."""
    hasher = hashlib.sha256()
    for spec in specs:
        # A separator, not the table's name: a shadow copy must digest like the live table it equals.
        hasher.update(b"--\n")
        for line in digest_lines(tx, spec):
            hasher.update(line)
    return hasher.hexdigest()


def swap_in(tx: Transaction, dialect: str, shadow: TableSpec, live: TableSpec) -> None:
    """Replace ``live`` by ``shadow`` (drop, rename, rename indexes) inside the caller's transaction."""
    tx.execute(f"DROP TABLE IF EXISTS {live.name}")
    tx.execute(f"ALTER TABLE {shadow.name} RENAME TO {live.name}")
    if dialect == "postgres":
        # Index names survive a rename; give them the live names so the next shadow can reuse its own.
        tx.execute(f"ALTER INDEX IF EXISTS {shadow.name}_pkey RENAME TO {live.name}_pkey")
        for suffix in [*live.indexes, *(column + "_trgm" for column in live.search)]:
            tx.execute(f"ALTER INDEX IF EXISTS {shadow.index_name(suffix)} RENAME TO {live.index_name(suffix)}")
        return
    # SQLite cannot rename an index: build the live-named ones and drop the shadow-named ones.
    for suffix, cols in live.indexes.items():
        tx.execute(f"DROP INDEX IF EXISTS {shadow.index_name(suffix)}")
        tx.execute(f"CREATE INDEX IF NOT EXISTS {live.index_name(suffix)} ON {live.name} ({', '.join(cols)})")
