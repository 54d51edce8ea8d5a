"""``rebuild`` through the CLI: a view rebuilt from the store equals the live one, and a wrong row is named."""

from __future__ import annotations

import pytest

from contracts import commands as cmd
from services.projections.bootstrap import build_read_side
from shared.settings import Settings
from shared.sql import open_database
from tests.integration.audit.conftest import AuditStore

VIEWS = ("connection_list", "connection_status", "processes", "data_model", "audit")


def _live_views(store: AuditStore) -> None:
    """Fill every live view as the projections process does: its runner applying the store's batches."""
    side = build_read_side(Settings(data_dir=store.data_dir, store=store.backend, database_url=store.dsn))
    try:
        after = 0
        while batch := side.store.recorder.select_notifications(start=after + 1, limit=500):
            side.runner.apply(batch)
            after = batch[-1].id
    finally:
        side.close()


def _store_with_views(store: AuditStore) -> None:
    first = store.established("First shop")
    store.established("Second shop")
    store.run(cmd.EditConnection(connection_id=first, name="First shop (EU)"))
    store.run(cmd.DisableConnections(connection_ids=[first]))
    _live_views(store)


@pytest.mark.parametrize("view", VIEWS)
def test_every_view_rebuilt_from_the_store_equals_the_live_one(audit_store: AuditStore, view: str) -> None:
    _store_with_views(audit_store)

    rebuilt = audit_store.cli("rebuild", view)

    assert rebuilt.code == 0, rebuilt.stdout + rebuilt.stderr
    report = rebuilt.lines()[0]
    assert report["equal"] is True and report["live_digest"] == report["rebuilt_digest"]
    assert report["position"] == audit_store.head() and report["live_rows"] == report["rebuilt_rows"] > 0
    assert "events/s" in rebuilt.stderr


def test_a_live_row_changed_by_hand_is_named_and_replace_repairs_the_view(audit_store: AuditStore) -> None:
    _store_with_views(audit_store)
    views = open_database(Settings(data_dir=audit_store.data_dir, store=audit_store.backend,
                                   database_url=audit_store.dsn).sql_url("views"))
    with views.transaction() as tx:
        tx.execute("UPDATE connection_list SET name = ? WHERE name = ?", ("Tampered", "Second shop"))
    views.close()

    found = audit_store.cli("rebuild", "connection_list", "--replace")
    again = audit_store.cli("rebuild", "connection_list")

    assert found.code == 1
    report, difference = found.lines()[:2]
    assert report["equal"] is False and report["differences"] == 1
    assert difference["difference"] == "rows differ"
    assert difference["columns"] == {"name": {"live": "Tampered", "rebuilt": "Second shop"}}
    assert "replaced" in found.stderr
    assert again.code == 0, again.stdout + again.stderr


def test_rebuilding_a_view_that_was_never_built_reports_it(audit_store: AuditStore) -> None:
    audit_store.established()

    rebuilt = audit_store.cli("rebuild", "connection_list")
    unknown = audit_store.cli("rebuild", "no_such_view")

    assert rebuilt.code == 1 and "never built" in rebuilt.stderr
    assert unknown.code == 2 and "unknown view" in unknown.stderr
