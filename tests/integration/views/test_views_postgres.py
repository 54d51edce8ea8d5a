"""The view suite on PostgreSQL: events, views and keys in one database, as deployments run."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from services.projections.adapters import connection_list_table, connection_list_words, tables
from services.projections.rebuild import rebuild
from shared.sql import Transaction
from tests.integration.views.harness import TENANT, Backend, ViewHarness
from tests.integration.views.suite import ViewSuite
from tests.support.postgres import eventsourcing_postgres_env


@pytest.mark.postgres
class TestViewsPostgres(ViewSuite):
    @pytest.fixture
    def backend(self, postgres_dsn: str) -> Backend:
        return Backend(events_env=eventsourcing_postgres_env(postgres_dsn), views_url=postgres_dsn,
                       keys_url=postgres_dsn)

    def test_a_rebuilt_table_is_swapped_in_with_planner_statistics(self, h: ViewHarness) -> None:
        for i in range(3):
            h.create(f"Till {i}")
        h.catch_up()
        rebuild(h.store, h.views, h.runner.by_name("connection_list"), batch_size=2)
        # Without statistics PostgreSQL plans the table as if nearly empty until autovacuum analyzes it.
        stats = h.read(_rows("SELECT attname FROM pg_stats WHERE tablename = 'connection_list'"))
        assert {"tenant_id", "name", "status"} <= {row[0] for row in stats}

    def test_a_name_search_that_reads_past_the_rows_ahead_collects_its_matches_from_the_trigram_index(
            self, h: ViewHarness) -> None:
        for name in ("Aachen", "Outlet Köln", "Outlet Essen"):
            h.create(name)
        h.catch_up()
        # Many more names of the tenant without the text, as the planner sees them.
        first = h.read(lambda tx: connection_list_table.query(tx, connection_list_table.ListQuery(TENANT))[0][0])
        with h.views.transaction() as tx:
            tables.upsert(tx, connection_list_table.SPEC, [{**first, "connection_id": f"c{i}", "name": f"Bonn {i}"}
                                                           for i in range(2_000)])
            # As (auto)vacuum leaves the index: new entries merged from GIN's pending list (else scanned each time).
            tx.execute("SELECT gin_clean_pending_list('connection_list_name_trgm')")
            tx.execute("ANALYZE connection_list")
        plans: list[str] = []
        query = connection_list_table.ListQuery(TENANT, text="outlet", limit=1)
        found = h.read(lambda tx: connection_list_table.query(_Explaining(tx, plans), query, search_indexed=True,
                                                              probe=1, most_words=0)[0])
        assert [r["name"] for r in found] == ["Outlet Essen"]
        # Read ahead (1 row: no page), then the matches from the trigram index.
        assert len(plans) == 2 and "Bitmap Index Scan on connection_list_name_trgm" in plans[1], plans
        # Its pending list (scanned by every search until merged) is kept short.
        options = h.read(_rows("SELECT reloptions FROM pg_class WHERE relname = 'connection_list_name_trgm'"))
        assert options == [(["gin_pending_list_limit=512"],)]


    def test_a_name_search_merges_the_rows_of_the_words_holding_the_text_read_in_the_sort_order(
            self, h: ViewHarness) -> None:
        for name in ("Aachen", "Outlet Köln", "Outlet Essen", "Factory-outlet Bonn"):
            h.create(name)
        h.catch_up()
        # Many more names of the tenant without the text, before the matches in name order, as the planner sees them.
        first = h.read(lambda tx: connection_list_table.query(tx, connection_list_table.ListQuery(TENANT))[0][0])
        others = [{**first, "connection_id": f"c{i}", "name": f"Bonn {i:05d}"} for i in range(5_000)]
        with h.views.transaction() as tx:
            tables.upsert(tx, connection_list_table.SPEC, others)
            tables.upsert(tx, connection_list_words.WORDS, [{**row, "word": word} for row in others
                                                            for word in connection_list_words.words_of(row["name"])])
            tables.upsert(tx, connection_list_words.VOCABULARY, [{"tenant_id": TENANT, "word": f"{i:05d}"}
                                                                 for i in range(5_000)])
            tx.execute("SELECT gin_clean_pending_list('connection_list_vocabulary_word_trgm')")
            for table in ("connection_list", "connection_list_words", "connection_list_vocabulary"):
                tx.execute(f"ANALYZE {table}")
        plans: list[str] = []
        query = connection_list_table.ListQuery(TENANT, text="outlet", limit=2)
        found = h.read(lambda tx: connection_list_table.query(_Explaining(tx, plans), query, search_indexed=True)[0])
        assert [r["name"] for r in found] == ["Factory-outlet Bonn", "Outlet Essen"]
        # The words holding the text from the vocabulary's trigram index; each word's rows from its index in order.
        assert len(plans) == 2, plans
        assert "connection_list_vocabulary_word_trgm" in plans[0], plans[0]
        assert plans[1].count("Scan using connection_list_words_tenant_name") == 2, plans[1]
        assert "Seq Scan" not in plans[1], plans[1]


class _Explaining:
    """A transaction that keeps the plan of every statement it runs."""

    def __init__(self, tx: Transaction, plans: list[str]) -> None:
        self.tx, self.plans, self.dialect = tx, plans, tx.dialect

    def execute(self, sql: str, params: Any = ()) -> None:
        self.tx.execute(f"EXPLAIN {sql}", params)
        self.plans.append("\n".join(row[0] for row in self.tx.fetchall()))
        self.tx.execute(sql, params)

    def executemany(self, sql: str, rows: Any) -> None:
        self.tx.executemany(sql, rows)

    def fetchone(self) -> Any:
        return self.tx.fetchone()

    def fetchall(self) -> list[Any]:
        return self.tx.fetchall()


def _rows(sql: str) -> Callable[[Transaction], list[Any]]:
    def read(tx: Transaction) -> list[Any]:
        tx.execute(sql)
        return tx.fetchall()

    return read
