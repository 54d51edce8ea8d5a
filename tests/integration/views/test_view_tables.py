"""The view tables' writes and keyed reads, on both databases: fixed statements, arrays on PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from services.projections.adapters import tables
from services.projections.adapters.tables import TableSpec
from shared.sql import Database, open_database

SPEC = TableSpec("view_tables_probe", {"tenant_id": "text", "code": "text", "n": "int", "doc": "json", "flag": "bool"},
                 ("tenant_id", "code"))


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    url = (f"sqlite:///{tmp_path / 'views.sqlite'}" if request.param == "sqlite"
           else request.getfixturevalue("postgres_dsn"))
    database = open_database(url)
    with database.transaction() as tx:
        tables.create(tx, SPEC)
    yield database
    database.close()


def _row(tenant: str, code: str, n: int) -> dict[str, object]:
    return {"tenant_id": tenant, "code": code, "n": n, "doc": {"b": [1, None], "a": code}, "flag": n % 2 == 0}


def test_upsert_insert_load_and_delete_by_key(db: Database) -> None:
    with db.transaction(pipelined=True) as tx:
        tables.upsert(tx, SPEC, [_row("t1", f"c{i}", i) for i in range(300)] + [_row("t2", "c0", 7)])
        tables.upsert(tx, SPEC, [_row("t1", "c5", 500)])  # replaces the whole row
        tables.upsert(tx, SPEC, [])
    with db.transaction(pipelined=True) as tx:
        found = tables.load_many(tx, SPEC, "code", ["c5", "c0", "c5", "missing"])
        assert sorted((r["tenant_id"], r["code"], r["n"], r["flag"]) for r in found) == [
            ("t1", "c0", 0, True), ("t1", "c5", 500, True), ("t2", "c0", 7, False)]
        assert tables.load_many(tx, SPEC, "code", ["c0"], where="tenant_id = ?", params=["t2"])[0]["n"] == 7
        keyed = tables.load_keys(tx, SPEC, ("tenant_id", "code"), [("t1", "c1"), ("t2", "c0"), ("t2", "c1")])
        assert sorted((r["tenant_id"], r["code"]) for r in keyed) == [("t1", "c1"), ("t2", "c0")]
        assert keyed[0]["doc"] == {"a": keyed[0]["code"], "b": [1, None]}
        tables.delete(tx, SPEC, [("t1", "c1"), ("t1", "c2"), ("t9", "c1")])
        tables.delete_where(tx, SPEC, ("tenant_id",), [("t2",)])
    with db.transaction() as tx:
        left = tables.rows(tx, SPEC)
    assert len(left) == 298
    assert {(r["tenant_id"], r["code"]) for r in left}.isdisjoint({("t1", "c1"), ("t1", "c2"), ("t2", "c0")})


def test_reads_after_many_pipelined_writes_in_one_transaction_get_their_own_rows(db: Database) -> None:
    """The runner writes a view's rows and then reads the next view's in the same pipelined transaction: the
    answers to the writes must never stand in for the read's rows (psycopg delivers them late in a pipeline)."""
    for round_ in range(150):
        with db.transaction(pipelined=True) as tx:
            tables.upsert(tx, SPEC, [_row(f"r{round_}", f"c{i}", i) for i in range(400)])
            tx.execute(f"SELECT COUNT(*) FROM {SPEC.name} WHERE tenant_id = ?", (f"r{round_}",))
            assert tx.fetchall() == [(400,)]
            assert len(tables.load_many(tx, SPEC, "tenant_id", [f"r{round_}"])) == 400
