"""The read side's behaviour, as one suite every storage backend must pass.

``ViewSuite`` is not collected by itself (no ``Test`` prefix): ``test_views_sqlite.py`` and
``test_views_postgres.py`` subclass it once each and provide the ``backend`` fixture. Events are produced by the
real connections application (``Connections.execute`` and ``record_report``), applied by the real runner, and read
back through the same table queries (and, for the HTTP tests, the same FastAPI app) the service uses.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from contracts import commands as cmd
from services.projections.adapters import audit_table, connection_list_table, connection_status_table
from services.projections.adapters import data_model_tables as dm
from services.projections.adapters import processes_table, tables
from services.projections.entrypoints.http import create_app
from services.projections.lag import measure
from services.projections.projection import Change
from services.projections.rebuild import build, rebuild, view_digest
from services.projections.views import ConnectionListView, all_views
from shared.auth import StaticTokens
from shared.sql import Transaction
from tests.integration.views.harness import (
    NEW_SECRET, OTHER_TENANT, SHOPWARE, TENANT, Backend, ViewHarness, harness, model,
)

TOKENS = {
    "acme-viewer": {"tenant": TENANT, "roles": ["viewer"], "actor": "ann"},
    "acme-admin": {"tenant": TENANT, "roles": ["admin"], "actor": "root"},
    "globex-viewer": {"tenant": OTHER_TENANT, "roles": ["viewer"], "actor": "gus"},
    "platform-ops": {"tenant": TENANT, "roles": ["platform-operator"], "actor": "ops"},
}


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _list(tx: Transaction, **filters: Any) -> list[dict[str, Any]]:
    rows, _ = connection_list_table.query(tx, connection_list_table.ListQuery(TENANT, limit=500, **filters))
    return rows


def _all_pages(tx: Transaction, **query: Any) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    cursor = None
    while True:
        page, cursor = connection_list_table.query(tx, connection_list_table.ListQuery(TENANT, cursor=cursor, **query))
        rows += page
        if cursor is None:
            return rows


class Exploding:
    """A view that fails on its first event: stands for any projection bug or lost connection mid-batch."""

    name = "exploding"
    version = 1
    topics = frozenset({"Connection.Created.v1"})

    def tables(self) -> list[tables.TableSpec]:
        return []

    def on_tables(self, suffix: str) -> Exploding:
        return self

    def apply(self, tx: Transaction, events: Any, *, changes: bool = True) -> list[Change]:
        raise RuntimeError("boom")


class ViewSuite:
    @pytest.fixture
    def backend(self) -> Backend:
        raise NotImplementedError("each backend's subclass provides it")

    @pytest.fixture
    def h(self, backend: Backend) -> Iterator[ViewHarness]:
        with harness(backend) as h:
            yield h

    @pytest.fixture
    def api(self, h: ViewHarness) -> Iterator[TestClient]:
        with TestClient(create_app(h.read_side(), StaticTokens(TOKENS))) as client:
            yield client

    # ----- connection list ----------------------------------------------------------------------------------------

    def test_a_new_connection_is_listed_active_with_its_credentials_being_checked(self, h: ViewHarness) -> None:
        connection_id = h.create("Till 1")
        h.catch_up()
        row = h.read(lambda tx: connection_list_table.load(tx, str(connection_id)))
        assert row is not None
        assert (row["name"], row["driver"], row["status"], row["credential_state"]) == ("Till 1", "pos", "active",
                                                                                      "checking")
        assert row["sync_state"] is None and row["last_sync_at"] is None

    def test_a_verified_and_synced_connection_shows_its_credential_state_and_last_sync(self, h: ViewHarness) -> None:
        connection_id = h.established("Till 1")
        h.catch_up()
        row = h.read(lambda tx: connection_list_table.load(tx, str(connection_id)))
        assert row is not None
        assert row["credential_state"] == "verified" and row["credential_checked_at"] is not None
        assert row["sync_state"] == row["last_sync_state"] == "succeeded"
        assert row["last_sync_at"] >= row["credential_checked_at"]
        assert (row["sync_done"], row["sync_total"]) == (1, 2)

    def test_a_failed_sync_shows_its_error_and_the_last_sync_outcome(self, h: ViewHarness) -> None:
        connection_id = h.established("Till 1")
        h.run(cmd.RequestSync(connection_ids=[connection_id]))
        h.fail(connection_id, h.start(connection_id, "sync"), "marketplace_error", "HTTP 500 from the shop")
        h.catch_up()
        row = h.read(lambda tx: connection_list_table.load(tx, str(connection_id)))
        assert row is not None
        assert row["sync_state"] == row["last_sync_state"] == "failed"
        assert row["last_sync_error"] == "HTTP 500 from the shop"
        assert h.read(lambda tx: _list(tx, last_sync_state="failed"))[0]["connection_id"] == str(connection_id)

    def test_the_list_filters_by_status_driver_and_text_and_pages_every_sort_without_gaps(self,
                                                                                          h: ViewHarness) -> None:
        ids = {name: h.create(name) for name in ("Berlin", "Bonn", "Köln", "Hamburg", "Bremen", "Aachen", "Essen")}
        shop = h.create("Shop Berlin", "shopware6")
        h.run(cmd.DisableConnections(connection_ids=[ids["Bonn"], ids["Essen"]]))
        h.catch_up()
        assert {r["name"] for r in h.read(lambda tx: _list(tx, status="inactive"))} == {"Bonn", "Essen"}
        assert [r["connection_id"] for r in h.read(lambda tx: _list(tx, driver="shopware6"))] == [str(shop)]
        assert {r["name"] for r in h.read(lambda tx: _list(tx, text="BERL"))} == {"Berlin", "Shop Berlin"}
        everyone = sorted(r["connection_id"] for r in h.read(_list))
        for sort in connection_list_table.SORTS:
            for descending in (False, True):
                paged = h.read(lambda tx, s=sort, d=descending: _all_pages(tx, sort=s, descending=d, limit=3))
                assert sorted(r["connection_id"] for r in paged) == everyone, (sort, descending)
                keys = [tuple(r[c] for c in connection_list_table.SORTS[sort]) for r in paged]
                assert keys == sorted(keys, reverse=descending), (sort, descending)

    def test_a_text_search_pages_alike_whichever_way_it_finds_the_matches(self, h: ViewHarness) -> None:
        # The matches lie behind the others in name order; another tenant's names match too.
        for name in ("Aachen", "Bonn", "Berlin", "Hamburg outlet", "Outlet Köln", "Outlet Essen", "Outlet Bremen",
                     "Zoo OUTLET", "Outlet outlets", "Factory-outlet  Bonn"):
            h.create(name, "shopware6" if name.startswith("B") else "pos")
        h.create("Outlet theirs", tenant=OTHER_TENANT)
        h.run(cmd.DisableConnections(connection_ids=[h.create("Outlet off")]))
        renamed, gone = h.create("Outlet Ulm"), h.established("Outlet Trier")
        h.run(cmd.EditConnection(connection_id=renamed, name="Ulm store"))
        h.run(cmd.DisableConnections(connection_ids=[gone]))
        h.run(cmd.DeleteConnections(connection_ids=[gone]))
        h.catch_up()
        everyone = h.read(_list)
        # indexed / probe rows / most matches sorted / most words: merge the words' rows; read ahead in order;
        # collect the matches (the SQL runs without the index too); collect too many and read on; read in order
        # only (no index)
        ways = {"words": (True, 1_000, 10_000, 32), "ahead": (True, 1_000, 10_000, 0),
                "matches": (True, 1, 10_000, 0), "too many": (True, 1, 1, 0), "in order": (False, 1, 10_000, 32)}
        for text, status in (("outlet", None), ("OUTL", "active"), ("ut", None), ("no such", None),
                             ("let  bo", None), ("outlet b", "active"), ("ulm", None)):
            for sort, keys in connection_list_table.SORTS.items():
                for descending in (False, True):
                    expected = sorted((r for r in everyone if text.lower() in r["name"].lower()
                                       and status in (None, r["status"])),
                                      key=lambda r, k=keys: tuple(r[c] for c in k), reverse=descending)
                    for way, (indexed, probe, most, words) in ways.items():
                        def pages(tx: Transaction, i: bool = indexed, p: int = probe, m: int = most, w: int = words,
                                  s: str = sort, d: bool = descending, t: str = text,
                                  st: str | None = status) -> list[Any]:
                            rows, cursor = [], None
                            while True:
                                query = connection_list_table.ListQuery(TENANT, status=st, text=t, sort=s,
                                                                        descending=d, limit=2, cursor=cursor)
                                page, cursor = connection_list_table.query(tx, query, search_indexed=i, probe=p,
                                                                           most_matches=m, most_words=w)
                                rows += page
                                if cursor is None:
                                    return rows

                        assert h.read(pages) == expected, (text, status, sort, descending, way)
        assert {r["name"] for r in h.read(lambda tx: _list(tx, text="outlet"))} == {
            "Hamburg outlet", "Outlet Köln", "Outlet Essen", "Outlet Bremen", "Zoo OUTLET", "Outlet off",
            "Outlet outlets", "Factory-outlet  Bonn"}

    def test_the_words_of_the_names_follow_renames_and_deletions(self, h: ViewHarness) -> None:
        kept, renamed, gone = h.create("Outlet Köln"), h.create("Outlet Ulm"), h.established("Trier kiosk")
        h.create("Ulm theirs", tenant=OTHER_TENANT)
        h.run(cmd.EditConnection(connection_id=renamed, name="Ulm store"))
        h.run(cmd.DisableConnections(connection_ids=[gone, kept]))
        h.run(cmd.DeleteConnections(connection_ids=[gone]))
        h.catch_up()

        def stored(tx: Transaction) -> tuple[list[Any], list[Any]]:
            tx.execute("SELECT word, connection_id, status FROM connection_list_words WHERE tenant_id = ? "
                       "ORDER BY word, connection_id", [TENANT])
            words = tx.fetchall()
            tx.execute("SELECT word FROM connection_list_vocabulary WHERE tenant_id = ? ORDER BY word", [TENANT])
            return [tuple(w) for w in words], [w[0] for w in tx.fetchall()]

        words, vocabulary = h.read(stored)
        assert words == sorted([("köln", str(kept), "inactive"), ("outlet", str(kept), "inactive"),
                                ("store", str(renamed), "active"), ("ulm", str(renamed), "active")])
        assert vocabulary == ["köln", "outlet", "store", "ulm"]

    def test_a_deleted_connection_leaves_the_list_but_keeps_its_status_and_history(self, h: ViewHarness) -> None:
        connection_id = h.established("Till 1")
        h.run(cmd.DisableConnections(connection_ids=[connection_id]))
        h.run(cmd.DeleteConnections(connection_ids=[connection_id]))
        h.catch_up()
        assert h.read(lambda tx: connection_list_table.load(tx, str(connection_id))) is None
        status = h.read(lambda tx: connection_status_table.get(tx, TENANT, str(connection_id)))
        assert status is not None and status["status"] == "deleted" and status["deleted_at"] is not None

    # ----- connection status -------------------------------------------------------------------------------------

    def test_status_shows_the_current_job_with_its_progress(self, h: ViewHarness) -> None:
        connection_id = h.create("Till 1")
        h.verify(connection_id)
        job_id = h.start(connection_id, "sync", worker="pos@host-7")
        h.progress(connection_id, job_id, 40, 100)
        h.catch_up()
        status = h.read(lambda tx: connection_status_table.get(tx, TENANT, str(connection_id)))
        assert status is not None
        [current] = status["current_jobs"]
        assert (current["job_id"], current["kind"], current["state"]) == (str(job_id), "sync", "running")
        assert (current["done"], current["total"], current["worker"]) == (40, 100, "pos@host-7")
        assert current["reason"] == "credentials verified: initial sync"
        assert [j["kind"] for j in status["recent_jobs"]] == ["check_credentials"]

    def test_status_keeps_the_last_20_jobs_newest_first_with_outcomes_and_failure_reasons(self,
                                                                                          h: ViewHarness) -> None:
        connection_id = h.established("Till 1")
        for i in range(24):
            if i % 3 == 0:
                h.run(cmd.RequestSync(connection_ids=[connection_id]))
                h.fail(connection_id, h.start(connection_id, "sync"), "marketplace_error", f"failure {i}")
            else:
                h.sync(connection_id)
        h.catch_up()
        status = h.read(lambda tx: connection_status_table.get(tx, TENANT, str(connection_id)))
        assert status is not None
        recent = status["recent_jobs"]
        assert len(recent) == 20 and status["current_jobs"] == []
        ended = [j["ended_at"] for j in recent]
        assert ended == sorted(ended, reverse=True)
        assert recent[0]["state"] == "succeeded"  # the 24th (i = 23)
        failed = [j for j in recent if j["state"] == "failed"]
        assert {j["message"] for j in failed} == {f"failure {i}" for i in range(6, 24, 3)}
        assert all(j["error_type"] == "marketplace_error" and j["duration_seconds"] >= 0 for j in failed)

    def test_status_shows_settings_and_of_the_credentials_only_the_fingerprint_and_when_it_changed(
        self, h: ViewHarness,
    ) -> None:
        connection_id = h.create("Shop", "shopware6", settings={"default_language": "de-DE"})
        h.catch_up()
        before = h.read(lambda tx: connection_status_table.get(tx, TENANT, str(connection_id)))
        assert before is not None
        assert before["settings"]["default_language"] == "de-DE"
        time.sleep(0.01)
        h.run(cmd.EditConnection(connection_id=connection_id, credentials={**SHOPWARE, "secret_access_key": NEW_SECRET}))
        h.catch_up()
        after = h.read(lambda tx: connection_status_table.get(tx, TENANT, str(connection_id)))
        assert after is not None
        assert after["credentials_fingerprint"] != before["credentials_fingerprint"]
        assert after["credentials_changed_at"] > before["credentials_changed_at"]
        assert "credentials" not in after and after["credential_state"] == "checking"

    def test_no_view_row_holds_ciphertext_or_a_plaintext_secret(self, h: ViewHarness) -> None:
        connection_id = h.established("Shop", "shopware6")
        h.run(cmd.EditConnection(connection_id=connection_id, credentials={**SHOPWARE, "secret_access_key": NEW_SECRET}))
        h.catch_up()
        stored = b"".join(h.all_view_rows())
        assert b"S3CRET-MARKER" not in stored and b"ciphertext" not in stored
        assert b"credentials changed (fingerprint" in stored

    # ----- processes ---------------------------------------------------------------------------------------------

    def test_processes_show_running_and_finished_jobs_with_times_duration_and_attempts(self, h: ViewHarness) -> None:
        connection_id = h.create("Till 1")
        h.verify(connection_id)
        sync_id = h.job(connection_id, "sync")
        h.fail(connection_id, h.start(connection_id, "sync"), "marketplace_unavailable", "503", retryable=True)
        h.catch_up()
        running, _ = h.read(lambda tx: processes_table.query(tx, processes_table.ProcessQuery(TENANT, "running")))
        [retried] = running
        assert (retried["process_id"], retried["state"], retried["attempt"]) == (str(sync_id), "requested", 2)
        assert (retried["error_type"], retried["message"], retried["connection_name"]) == (
            "marketplace_unavailable", "503", "Till 1")
        h.start(connection_id, "sync")
        h.progress(connection_id, sync_id, 5, 10)
        h.succeed(connection_id, sync_id, model("a"))
        h.catch_up()
        finished, _ = h.read(lambda tx: processes_table.query(tx, processes_table.ProcessQuery(TENANT, "finished")))
        assert [p["kind"] for p in finished] == ["sync", "check_credentials"]
        sync = finished[0]
        assert (sync["state"], sync["attempt"], sync["done"], sync["total"]) == ("succeeded", 2, 5, 10)
        assert sync["requested_at"] <= sync["started_at"] <= sync["ended_at"] == sync["last_activity_at"]
        assert sync["duration_seconds"] is not None and sync["duration_seconds"] >= 0
        assert h.read(lambda tx: processes_table.query(tx, processes_table.ProcessQuery(TENANT, "running")))[0] == []

    def test_a_deletion_is_a_process_with_its_steps_and_its_clean_up_job(self, h: ViewHarness) -> None:
        connection_id = h.established("Shop", "shopware6")
        h.run(cmd.DisableConnections(connection_ids=[connection_id]))
        h.run(cmd.DeleteConnections(connection_ids=[connection_id]))
        h.catch_up()
        query = processes_table.ProcessQuery(TENANT, "running")
        running = {p["kind"]: p for p in h.read(lambda tx: processes_table.query(tx, query))[0]}
        assert set(running) == {"deletion", "clean_up"}
        assert (running["deletion"]["done"], running["deletion"]["total"]) == (1, 3)
        h.succeed(connection_id, h.start(connection_id, "clean_up"))
        h.catch_up()
        deletion = h.read(lambda tx: processes_table.query(
            tx, processes_table.ProcessQuery(TENANT, kind="deletion")))[0][0]
        assert (deletion["state"], deletion["done"], deletion["total"], deletion["detail"]) == (
            "succeeded", 3, 3, "deleted")
        assert deletion["connection_name"] == "Shop" and deletion["duration_seconds"] >= 0

    def test_jobs_cancelled_by_disabling_end_as_cancelled_processes_with_the_reason(self, h: ViewHarness) -> None:
        connection_id = h.create("Till 1")
        h.run(cmd.DisableConnections(connection_ids=[connection_id]), actor="bob")
        h.catch_up()
        [check] = h.read(lambda tx: processes_table.query(tx, processes_table.ProcessQuery(TENANT)))[0]
        assert (check["state"], check["message"]) == ("cancelled", "connection disabled")

    # ----- data model -------------------------------------------------------------------------------------------

    def test_the_first_sync_mirrors_every_set_with_its_attributes(self, h: ViewHarness) -> None:
        codes = tuple(f"attr_{i:03d}" for i in range(25))
        connection_id = h.create("Till 1")
        h.verify(connection_id)
        h.sync(connection_id, model(*codes, sets={"all": codes, "odd": codes[1::2]}), requested=False)
        h.catch_up()
        q = dm.ModelQuery(TENANT, str(connection_id), limit=10)
        sets, _ = h.read(lambda tx: dm.sets(tx, q))
        assert [(s["code"], s["attribute_count"]) for s in sets] == [("all", 25), ("odd", 12)]
        assert sets[1]["document"]["attribute_codes"] == list(codes[1::2])
        collected, cursor = [], None
        while True:
            page, cursor = h.read(lambda tx, c=cursor: dm.attributes(tx, dm.ModelQuery(
                TENANT, str(connection_id), limit=10, cursor=c, set_code="odd")))
            collected += [a["code"] for a in page]
            if cursor is None:
                break
        assert collected == list(codes[1::2])
        [summary], _ = h.read(lambda tx: dm.syncs(tx, q))
        assert (summary["attributes_added"], summary["sets_added"], summary["attributes_total"]) == (25, 2, 25)

    def test_a_later_sync_lists_what_it_added_changed_and_removed(self, h: ViewHarness) -> None:
        connection_id = h.create("Till 1")
        h.verify(connection_id)
        h.sync(connection_id, model("color", "size", "weight"), requested=False)
        h.sync(connection_id, model("color", "size", "material", label=" (new)"))
        h.catch_up()
        q = dm.ModelQuery(TENANT, str(connection_id))
        latest = h.read(lambda tx: dm.syncs(tx, q))[0][0]
        changes, _ = h.read(lambda tx: dm.changes(tx, dm.ModelQuery(TENANT, str(connection_id),
                                                                      sync_id=latest["sync_id"])))
        told = {(c["item"], c["change"], c["code"]): c for c in changes}
        assert set(told) == {("attribute", "added", "material"), ("attribute", "changed", "color"),
                             ("attribute", "changed", "size"), ("attribute", "removed", "weight"),
                             ("set", "changed", "main")}
        assert told[("attribute", "changed", "color")]["fields"] == ["labels"]
        assert told[("attribute", "removed", "weight")]["document"]["code"] == "weight"
        attributes, _ = h.read(lambda tx: dm.attributes(tx, q))
        assert [a["code"] for a in attributes] == ["color", "material", "size"]

    def test_deleting_a_connection_clears_its_data_model_but_keeps_the_sync_history(self, h: ViewHarness) -> None:
        connection_id = h.established("Till 1")
        h.run(cmd.DisableConnections(connection_ids=[connection_id]))
        h.run(cmd.DeleteConnections(connection_ids=[connection_id]))
        h.catch_up()
        q = dm.ModelQuery(TENANT, str(connection_id))
        assert h.read(lambda tx: dm.attributes(tx, q))[0] == [] and h.read(lambda tx: dm.sets(tx, q))[0] == []
        assert [s["kind"] for s in h.read(lambda tx: dm.syncs(tx, q))[0]] == ["cleared", "synced"]

    # ----- audit timeline -----------------------------------------------------------------------------------------

    def test_the_audit_timeline_tells_who_did_what_when_and_why_with_correlation_ids(self, h: ViewHarness) -> None:
        connection_id = h.established("Till 1")
        h.run(cmd.DisableConnections(connection_ids=[connection_id]), actor="bob", correlation_id="corr-disable",
              reason="store closed")
        h.catch_up()
        entries, _ = h.read(lambda tx: audit_table.query(tx, audit_table.TimelineQuery(TENANT, str(connection_id))))
        newest = entries[0]
        assert (newest["actor"], newest["correlation_id"], newest["reason"]) == ("bob", "corr-disable", "store closed")
        assert newest["summary"] == "bob disabled connection 'Till 1'"
        summaries = [e["summary"] for e in reversed(entries)]
        assert summaries[0] == "alice created connection 'Till 1' (pos); credentials fingerprint " + \
            summaries[0].rsplit(" ", 1)[1]
        assert "sync requested (credentials verified: initial sync)" in summaries
        assert any(s.startswith("data model synced: attributes +2") for s in summaries)
        positions = [e["position"] for e in entries]
        assert positions == sorted(positions, reverse=True)

    def test_credential_changes_appear_in_the_audit_timeline_only_as_a_fingerprint(self, h: ViewHarness) -> None:
        connection_id = h.create("Shop", "shopware6")
        h.run(cmd.EditConnection(connection_id=connection_id, name="Shop DE",
                                 credentials={**SHOPWARE, "secret_access_key": NEW_SECRET}),
              actor="bob", correlation_id="corr-edit")
        h.catch_up()
        [edit] = h.read(lambda tx: audit_table.query(tx, audit_table.TimelineQuery(
            TENANT, correlation_id="corr-edit")))[0][-1:]
        status = h.read(lambda tx: connection_status_table.get(tx, TENANT, str(connection_id)))
        assert status is not None
        fingerprint = status["credentials_fingerprint"]
        assert edit["summary"] == (f"bob edited connection 'Shop': renamed 'Shop' to 'Shop DE'; credentials changed "
                                   f"(fingerprint {fingerprint[:12]}…)")
        assert edit["details"] == {"name": "Shop DE", "credentials_fingerprint": fingerprint}

    def test_the_tenant_timeline_pages_newest_first_without_gaps(self, h: ViewHarness) -> None:
        for name in ("A", "B", "C"):
            h.established(name)
        h.catch_up()
        seen: list[int] = []
        cursor = None
        while True:
            page, cursor = h.read(lambda tx, c=cursor: audit_table.query(
                tx, audit_table.TimelineQuery(TENANT, limit=4, cursor=c)))
            seen += [e["position"] for e in page]
            if cursor is None:
                break
        everything = h.read(lambda tx: tables.rows(tx, audit_table.SPEC, "tenant_id = ?", [TENANT]))
        assert seen == sorted((e["position"] for e in everything), reverse=True)
        assert any(e["summary"] == "alice installed driver pos 1.0.0" for e in everything)

    # ----- tenant isolation ------------------------------------------------------------------------------------

    def test_no_query_answers_with_another_tenants_rows(self, h: ViewHarness, api: TestClient) -> None:
        ours = h.established("Ours")
        theirs = h.established("Theirs", tenant=OTHER_TENANT)
        h.catch_up()
        syncs = {c: h.read(lambda tx, c=c, t=t: dm.syncs(tx, dm.ModelQuery(t, str(c))))[0][0]["sync_id"]
                 for c, t in ((ours, TENANT), (theirs, OTHER_TENANT))}
        per_connection = ["", "/status", "/data-model", "/data-model/sets", "/data-model/attributes",
                          "/data-model/syncs", "/data-model/syncs/{sync}/changes", "/audit"]
        for suffix in per_connection:
            answer = api.get(f"/v1/connections/{ours}{suffix.format(sync=syncs[ours])}", headers=_auth("acme-viewer"))
            assert answer.status_code == 200, (suffix, answer.text)
            refused = api.get(f"/v1/connections/{theirs}{suffix.format(sync=syncs[theirs])}",
                              headers=_auth("acme-viewer"))
            assert refused.status_code == 404 and refused.json()["reason_code"] == "not_found", suffix
        for path in ("/v1/connections", "/v1/processes", "/v1/audit", f"/v1/audit?connection_id={theirs}",
                     f"/v1/processes?connection_id={theirs}"):
            body = api.get(path, headers=_auth("acme-viewer")).json()
            assert str(theirs) not in str(body) and "Theirs" not in str(body), path
            assert all(item.get("tenant_id", TENANT) == TENANT for item in body["items"]), path
        assert api.get("/v1/connections", headers=_auth("globex-viewer")).json()["items"][0]["name"] == "Theirs"

    def test_the_change_hub_sends_each_tenant_only_its_own_changes(self, h: ViewHarness) -> None:
        async def scenario() -> tuple[list[Any], list[Any]]:
            ours = h.hub.subscribe(TENANT)
            theirs = h.hub.subscribe(OTHER_TENANT, ["processes"])
            h.established("Ours")
            h.established("Theirs", tenant=OTHER_TENANT)
            h.hub.publish(h.catch_up())
            h.hub.close()
            return [n async for n in ours.notices()], [n async for n in theirs.notices()]

        ours, theirs = asyncio.run(scenario())
        assert ours and theirs
        assert all("Theirs" not in str(n.body) and OTHER_TENANT not in str(n.body) for n in ours)
        assert all(n.body["view"] == "processes" and n.body["row"]["tenant_id"] == OTHER_TENANT for n in theirs)

    # ----- the runner: exactly once, positions, order ------------------------------------------------------------

    def test_applying_a_batch_again_changes_nothing(self, h: ViewHarness) -> None:
        h.established("Till 1")
        batch = h.store.recorder.select_notifications(start=1, limit=10_000)
        assert h.runner.apply(batch)
        digests = {p.name: view_digest(h.views, p) for p in h.runner.projections}
        assert h.runner.apply(batch) == []
        assert {p.name: view_digest(h.views, p) for p in h.runner.projections} == digests

    def test_a_batch_that_fails_leaves_every_view_and_position_as_it_was(self, h: ViewHarness) -> None:
        h.established("Till 1")
        h.catch_up()
        digests = {p.name: view_digest(h.views, p) for p in h.runner.projections}
        positions = h.runner.read_positions()
        h.create("Till 2")
        failing = h.new_runner([*all_views(), Exploding()])
        with pytest.raises(RuntimeError, match="boom"):
            h.catch_up(failing)
        assert h.runner.read_positions() == positions
        assert {p.name: view_digest(h.views, p) for p in h.runner.projections} == digests
        h.catch_up()
        assert len(h.read(_list)) == 2

    def test_each_view_keeps_its_own_position_and_a_new_view_catches_up_from_zero(self, h: ViewHarness) -> None:
        h.established("Till 1")
        list_only = h.new_runner([ConnectionListView()])
        h.catch_up(list_only)
        head = h.store.recorder.max_notification_id()
        assert list_only.read_positions() == {"connection_list": head}
        listed = view_digest(h.views, ConnectionListView())
        everything = h.new_runner()
        assert everything.read_positions()["audit"] == 0
        h.catch_up(everything)
        assert set(everything.read_positions().values()) == {head}
        assert view_digest(h.views, ConnectionListView()) == listed

    def test_changes_are_published_per_event_in_store_order_even_within_one_batch(self, h: ViewHarness) -> None:
        connection_id = h.established("Till 1")
        changes = h.catch_up(batch_size=10_000)
        states = [c.row["sync_state"] for c in changes
                  if c.view == "connection_list" and c.row and c.key == str(connection_id)]
        assert states[-4:] == ["requested", "running", "running", "succeeded"]
        assert [c.position for c in changes] == sorted(c.position for c in changes)

    # ----- rebuild ------------------------------------------------------------------------------------------------

    def test_a_rebuilt_view_equals_the_live_one(self, h: ViewHarness) -> None:
        ids = [h.established(f"Till {i}", "shopware6" if i % 2 else "pos") for i in range(4)]
        h.run(cmd.DisableConnections(connection_ids=ids[:2]))
        h.run(cmd.DeleteConnections(connection_ids=ids[:1]))
        h.catch_up()
        for projection in h.runner.projections:
            live = view_digest(h.views, projection)
            progress = rebuild(h.store, h.views, projection, batch_size=7)
            assert progress.state == "done" and progress.position == h.store.recorder.max_notification_id()
            assert view_digest(h.views, projection) == live, projection.name
        assert h.runner.read_positions()["audit"] == h.store.recorder.max_notification_id()

    def test_a_rebuild_while_events_keep_coming_swaps_in_a_view_equal_to_a_fresh_build(self, h: ViewHarness) -> None:
        for i in range(3):
            h.established(f"Before {i}")
        stop = threading.Event()
        failures: list[BaseException] = []

        def keep_writing() -> None:
            try:
                i = 0
                while not stop.is_set():
                    h.established(f"During {i}")
                    i += 1
            except BaseException as exc:  # noqa: BLE001 - reported by the test below
                failures.append(exc)

        def keep_applying() -> None:
            try:
                while not stop.is_set():
                    h.catch_up(batch_size=5)
            except BaseException as exc:  # noqa: BLE001 - reported by the test below
                failures.append(exc)

        threads = [threading.Thread(target=keep_writing), threading.Thread(target=keep_applying)]
        for thread in threads:
            thread.start()
        try:
            for projection in h.runner.projections:
                rebuild(h.store, h.views, projection, batch_size=10)
        finally:
            stop.set()
            for thread in threads:
                thread.join()
        assert not failures, failures
        h.catch_up()
        for projection in h.runner.projections:
            fresh = projection.on_tables("__fresh")
            with h.views.transaction() as tx:
                for spec in fresh.tables():
                    tables.drop(tx, spec)
                    tables.create(tx, spec)
            build(h.store, h.views, fresh)
            assert view_digest(h.views, projection) == view_digest(h.views, fresh), projection.name

    def test_a_view_whose_version_changed_is_reset_and_filled_again(self, h: ViewHarness) -> None:
        h.established("Till 1")
        h.catch_up()
        before = view_digest(h.views, ConnectionListView())

        class NextListView(ConnectionListView):
            version = ConnectionListView.version + 1

        runner = h.new_runner([NextListView()])
        assert runner.read_positions() == {"connection_list": 0}
        assert h.read(_list) == []
        h.catch_up(runner)
        assert view_digest(h.views, ConnectionListView()) == before

    # ----- lag and read-your-writes -------------------------------------------------------------------------------

    def test_lag_counts_the_events_and_seconds_the_views_are_behind(self, h: ViewHarness) -> None:
        h.catch_up()
        h.create("Till 1")
        time.sleep(0.2)
        head, lags = measure(h.store, h.runner.positions())
        assert head == h.store.recorder.max_notification_id()
        assert all(lag.events > 0 and lag.seconds >= 0.2 for lag in lags)
        h.catch_up()
        _, lags = measure(h.store, h.runner.positions())
        assert all(lag.events == 0 and lag.seconds == 0 for lag in lags)

    def test_a_query_with_min_position_waits_until_the_views_reached_it(self, h: ViewHarness) -> None:
        async def scenario() -> tuple[bool, bool, list[dict[str, Any]]]:
            stop = asyncio.Event()
            running = asyncio.create_task(h.runner.run(stop))
            result = await asyncio.to_thread(h.run, cmd.InstallDriver(driver="pos"))
            created = await asyncio.to_thread(h.run, cmd.CreateConnection(name="Till 1", driver="pos"))
            assert result.position is not None and created.position is not None
            reached = await h.runner.wait_for(created.position, ["connection_list"], timeout=5)
            rows = h.read(_list)
            too_far = await h.runner.wait_for(created.position + 1_000, timeout=0.3)
            stop.set()
            await running
            return reached, too_far, rows

        reached, too_far, rows = asyncio.run(scenario())
        assert reached and not too_far
        assert [r["name"] for r in rows] == ["Till 1"]

    # ----- HTTP: operations --------------------------------------------------------------------------------------

    def test_readiness_and_metrics_report_each_views_lag(self, h: ViewHarness, api: TestClient) -> None:
        h.established("Till 1")
        h.catch_up()
        ready = api.get("/health/ready")
        assert ready.status_code == 200 and ready.json()["lag_events"] == 0
        assert {v["view"] for v in ready.json()["views"]} == {p.name for p in h.runner.projections}
        h.create("Till 2")
        metrics = api.get("/metrics").text
        assert 'projection_lag_events{view="audit"} ' in metrics
        assert f'event_store_position {h.store.recorder.max_notification_id()}' in metrics
        lagging = [line for line in metrics.splitlines() if line.startswith("projection_lag_events{")]
        assert all(float(line.rsplit(" ", 1)[1]) > 0 for line in lagging)

    def test_a_rebuild_over_http_needs_the_platform_operator_role_and_shows_its_progress(
            self, h: ViewHarness, api: TestClient) -> None:
        h.established("Till 1")
        h.catch_up()
        before = view_digest(h.views, h.runner.by_name("processes"))
        assert api.post("/v1/admin/views/processes/rebuild", headers=_auth("acme-viewer")).status_code == 403
        assert api.post("/v1/admin/views/processes/rebuild", headers=_auth("acme-admin")).status_code == 403
        assert api.post("/v1/admin/views/nope/rebuild", headers=_auth("platform-ops")).status_code == 404
        started = api.post("/v1/admin/views/processes/rebuild", headers=_auth("platform-ops"))
        assert started.status_code == 202 and started.json()["view"] == "processes"
        deadline = time.monotonic() + 30
        while (state := api.get("/v1/admin/views/processes/rebuild", headers=_auth("platform-ops")).json())[
                "state"] not in ("done", "failed") and time.monotonic() < deadline:
            time.sleep(0.05)
        assert state["state"] == "done" and state["fraction"] == 1.0, state
        assert view_digest(h.views, h.runner.by_name("processes")) == before

    def test_openapi_documents_every_query(self, api: TestClient) -> None:
        paths = api.get("/openapi.json").json()["paths"]
        for path in ("/v1/connections", "/v1/connections/{connection_id}/status", "/v1/processes",
                     "/v1/connections/{connection_id}/data-model/attributes",
                     "/v1/connections/{connection_id}/data-model/syncs/{sync_id}/changes", "/v1/audit",
                     "/v1/connections/{connection_id}/audit", "/v1/stream", "/v1/admin/views/{view}/rebuild"):
            assert path in paths, path

