"""The connection list's SQL table: rows keyed by connection id, queried per tenant a page at a time."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from services.projections.adapters import connection_list_words, pages, tables
from services.projections.adapters.pages import decode_cursor, encode_cursor
from services.projections.domain.connection_list import COLUMNS, SORTS, Row
from shared.sql import Transaction

__all__ = ["SORTABLE", "SORTS", "SPEC", "TEXT_MATCHES_SORTED", "TEXT_PROBE_ROWS", "ListQuery", "all_rows",
           "create_table", "decode_cursor", "delete", "encode_cursor", "load", "query", "save", "schema"]

TABLE = "connection_list"
_INTEGER_COLUMNS = {"sync_done", "sync_total", "deletion_step", "version"}

SPEC = tables.TableSpec(
    TABLE,
    {c: ("int" if c in _INTEGER_COLUMNS else "text") for c in COLUMNS},
    ("connection_id",),
    {
        "tenant_name": ("tenant_id", "name", "connection_id"),
        "tenant_status": ("tenant_id", "status", "name", "connection_id"),
        "tenant_driver": ("tenant_id", "driver", "name", "connection_id"),
        "tenant_created": ("tenant_id", "created_at", "connection_id"),
        "tenant_updated": ("tenant_id", "updated_at", "connection_id"),
    },
    search=("name",),
)

SORTABLE = tuple(SORTS)


def _spec(table: str) -> tables.TableSpec:
    return SPEC if table == TABLE else SPEC.named(table)


def schema(table: str = TABLE) -> list[str]:
    return _spec(table).ddl()


def create_table(tx: Transaction, table: str = TABLE) -> None:
    tables.create(tx, _spec(table))


def load(tx: Transaction, connection_id: str, table: str = TABLE) -> Row | None:
    found = tables.load_many(tx, _spec(table), "connection_id", [connection_id])
    return found[0] if found else None


def save(tx: Transaction, row: Row, table: str = TABLE) -> None:
    tables.upsert(tx, _spec(table), [row])


def delete(tx: Transaction, connection_id: str, table: str = TABLE) -> None:
    tables.delete(tx, _spec(table), [(connection_id,)])


@dataclass(frozen=True)
class ListQuery:
    """One page of one tenant's list: filters, sort order, page size and the cursor of the previous page."""

    tenant_id: str
    status: str | None = None
    driver: str | None = None
    text: str | None = None
    sort: str = "name"
    descending: bool = False
    limit: int = 50
    cursor: str | None = None
    credential_state: str | None = None
    last_sync_state: str | None = None


# A text search reads this many rows in the sort order before it collects the matches instead (see :func:`query`),
# and collects at most this many matches before it goes back to reading in the sort order.
TEXT_PROBE_ROWS = 1_000
TEXT_MATCHES_SORTED = 10_000


def query(tx: Transaction, q: ListQuery, table: str = TABLE, *, search_indexed: bool = False,
          probe: int = TEXT_PROBE_ROWS, most_matches: int = TEXT_MATCHES_SORTED,
          most_words: int = connection_list_words.MOST_WORDS) -> tuple[list[Row], str | None]:
    """One page of the tenant's list; keyset pagination on the sort columns.

    Filters and sorts are answered by an index in the sort order (first page and deep pages alike). A text
    search (``LOWER(name) LIKE '%...%'``) cannot be: read in the sort order, the matches may all lie far
    behind the cursor (every "Outlet ..." after tens of thousands of "Airport ..." and "Berlin ..."), and the
    planner, assuming them spread evenly, then reads up to the whole tenant. So where the names have a trigram
    index (``search_indexed``: PostgreSQL with pg_trgm) a search

    0. takes each word of the names that holds the text, and merges those words' rows, kept in the sort order
       (:mod:`connection_list_words`): the cost follows the page, not the matches or where they lie. Unless the
       sort is by ``updated_at``, the text is under 3 characters, or more than ``most_words`` words hold it:
    1. reads the next ``probe`` rows in the sort order: if they hold a page, that is the answer (a common text
       costs what a filter does);
    2. else collects the matches from the trigram index (texts of 3 characters or more), at most
       ``most_matches``, and sorts only their keys: the cost follows the number of matches, not where they lie;
    3. else (a text in most names, none of them near) reads in the sort order until the page is full.

    Without the index (SQLite) collecting the matches or words would read every row of the tenant: step 3 only.
    """
    if q.sort not in SORTS:
        raise ValueError(f"cannot sort by {q.sort!r}; use one of {', '.join(SORTS)}")
    order = SORTS[q.sort]
    filters = [(column, value) for column in ("status", "driver", "credential_state", "last_sync_state")
               if (value := getattr(q, column))]
    where, params = ["tenant_id = ?", *(f"{column} = ?" for column, _ in filters)], [q.tenant_id]
    params += [value for _, value in filters]
    after, after_params = pages.after(order, q.cursor, q.descending)
    if after:
        where.append(after)
        params.extend(after_params)
    spec = _spec(table)
    sort = pages.order_by(order, q.descending)
    if q.text:
        text = q.text.lower().replace("%", "").replace("_", "")
        like = f"%{text}%"
        if search_indexed:
            found = None
            if table == TABLE and most_words:
                found = connection_list_words.page(tx, spec, q.tenant_id, text, q.sort, q.descending, filters,
                                                   q.cursor, q.limit, most_words)
            if found is None:
                found = _search(tx, spec, order, q.descending, " AND ".join(where), params, like, q.limit, probe,
                                most_matches)
            if found is not None:
                return pages.page([spec.decode(r) for r in found], q.limit, order)
        where.append("LOWER(name) LIKE ?")
        params.append(like)
    tx.execute(f"{spec.select()} WHERE {' AND '.join(where)} ORDER BY {sort} LIMIT ?", [*params, q.limit + 1])
    return pages.page([spec.decode(r) for r in tx.fetchall()], q.limit, order)


def _search(tx: Transaction, spec: tables.TableSpec, order: tuple[str, ...], descending: bool, where: str,
            params: list[Any], like: str, limit: int, probe: int, most_matches: int) -> list[Any] | None:
    """Steps 1 and 2 of :func:`query`'s text search: ``limit + 1`` matching rows, or None (go on to step 3)."""
    sort = pages.order_by(order, descending)
    # 1. The next rows in the sort order (the LIMIT inside bounds the scan), filtered by the text.
    tx.execute(f"SELECT * FROM ({spec.select()} WHERE {where} ORDER BY {sort} LIMIT ?) AS ahead "
               f"WHERE LOWER(name) LIKE ? ORDER BY {sort} LIMIT ?", [*params, probe, like, limit + 1])
    found = tx.fetchall()
    if len(found) > limit:
        return found
    if len(like.strip("%")) < 3:
        return None  # no trigram to look up: collecting the matches would read every row of the tenant
    # 2. The matches' sort keys (MATERIALIZED: collected apart, not read in the sort order), the page's keys
    # sorted from those, the page's rows by key; and how many matches there were, to tell a cut-off collection.
    keys = ", ".join(order)  # every sort order ends in the key
    columns = ", ".join(f"c.{c}" for c in spec.names)
    tx.execute(f"WITH matches AS MATERIALIZED (SELECT {keys} FROM {spec.name} WHERE {where} AND LOWER(name) LIKE ? "
               f"LIMIT ?), wanted AS (SELECT {keys} FROM matches ORDER BY {sort} LIMIT ?) "
               f"SELECT {columns}, (SELECT COUNT(*) FROM matches) FROM wanted "
               f"JOIN {spec.name} AS c ON c.connection_id = wanted.connection_id "
               f"ORDER BY {pages.order_by([f'wanted.{c}' for c in order], descending)}",
               [*params, like, most_matches + 1, limit + 1])
    found = tx.fetchall()
    if found and found[0][-1] > most_matches:
        return None
    return [row[:-1] for row in found]


def all_rows(tx: Transaction, table: str = TABLE) -> list[Row]:
    return tables.rows(tx, _spec(table))

