"""``history``, ``state`` and ``diff`` through the CLI: who did what and when, and the state at any moment."""

from __future__ import annotations

from contracts import commands as cmd
from services.connections.domain.jobs import JobKind
from tests.integration.audit.conftest import MODEL, SECRET, TENANT, AuditStore


def _edit_twice_and_sync(store: AuditStore) -> tuple[str, list[dict[str, object]]]:
    """Create (de-DE), edit settings to en-GB, then to fr-FR, then sync; returns the id and the history."""
    connection_id = store.established(settings={"default_language": "de-DE"})
    store.run(cmd.EditConnection(connection_id=connection_id, settings={"default_language": "en-GB"}),
              actor="bob", reason="ticket 42: English catalogue")
    store.succeed(connection_id, JobKind.SYNC, MODEL)
    store.run(cmd.EditConnection(connection_id=connection_id, settings={"default_language": "fr-FR"}),
              actor="carol", reason="ticket 43: French catalogue")
    store.succeed(connection_id, JobKind.SYNC, MODEL)
    history = store.cli("history", "--connection", str(connection_id))
    assert history.code == 0, history.stderr
    return str(connection_id), history.lines()


def test_history_lists_a_connections_events_in_order_with_actor_reason_correlation_and_summary(
    audit_store: AuditStore,
) -> None:
    connection_id, entries = _edit_twice_and_sync(audit_store)

    assert [e["position"] for e in entries] == sorted(e["position"] for e in entries)  # type: ignore[type-var]
    edits = [e for e in entries if e["event_type"] == "Connection.Edited.v1"]
    assert [(e["actor"], e["reason"]) for e in edits] == [("bob", "ticket 42: English catalogue"),
                                                          ("carol", "ticket 43: French catalogue")]
    assert edits[0]["summary"] == 'settings changed: default_language: "de-DE" -> "en-GB"'
    assert all(e["time"] and e["tenant_id"] == TENANT for e in entries)
    # Every event carries its correlation, except the mirror's opening, which the domain records without meta.
    assert all(e["correlation_id"] for e in entries if e["event_type"] != "DataModelMirror.Created.v1")
    assert {e["event_type"] for e in entries} >= {"Connection.Created.v1", "DataModelMirror.Synced.v1",
                                                  "Connection.JobEnded.v1"}
    created = next(e for e in entries if e["event_type"] == "Connection.Created.v1")
    assert "credentials set (fingerprint" in str(created["summary"])


def test_history_filters_by_type_actor_and_time_and_never_shows_a_secret(audit_store: AuditStore) -> None:
    connection_id, entries = _edit_twice_and_sync(audit_store)
    second_edit = [e for e in entries if e["event_type"] == "Connection.Edited.v1"][1]

    by_type = audit_store.cli("history", "--connection", connection_id, "--type", "Edited").lines()
    by_actor = audit_store.cli("history", "--connection", connection_id, "--actor", "bob").lines()
    since = audit_store.cli("history", "--connection", connection_id, "--type", "Edited",
                            "--since", str(second_edit["time"])).lines()
    tenant = audit_store.cli("history", "--tenant", TENANT, "--format", "table")

    assert [e["actor"] for e in by_type] == ["bob", "carol"]
    assert {e["actor"] for e in by_actor} == {"bob"}
    assert [e["position"] for e in since] == [second_edit["position"]]
    assert tenant.code == 0 and tenant.stdout.startswith("POS")
    assert "driver shopware6 1.0.0 installed" in tenant.stdout
    for output in (tenant.stdout, tenant.stderr, str(entries)):
        assert SECRET not in output and "ciphertext" not in output


def test_state_at_a_time_between_the_two_edits_shows_the_middle_settings(audit_store: AuditStore) -> None:
    connection_id, entries = _edit_twice_and_sync(audit_store)
    first_edit, second_edit = [e for e in entries if e["event_type"] == "Connection.Edited.v1"]

    middle = audit_store.cli("state", connection_id, "--at", str(first_edit["time"]))
    by_version = audit_store.cli("state", connection_id, "--version", str(first_edit["version"]))
    before = audit_store.cli("state", connection_id, "--version", "1")
    now = audit_store.cli("state", connection_id)

    assert middle.code == 0, middle.stderr
    state = middle.lines()[0]
    assert state["settings"]["default_language"] == "en-GB"
    assert state["version"] == first_edit["version"] and state["status"] == "active"
    assert state["credentials"] == "(sealed)" and state["credential_state"] == "verified"
    assert state["data_model"] == {"attributes": 2, "attribute_sets": 1, "mirror_version": 2}
    assert by_version.lines()[0] == state
    assert before.lines()[0]["settings"]["default_language"] == "de-DE"
    assert before.lines()[0]["data_model"] is None
    assert now.lines()[0]["settings"]["default_language"] == "fr-FR"
    assert str(second_edit["time"]) <= now.lines()[0]["as_of"]


def test_diff_between_the_edits_names_the_changed_setting(audit_store: AuditStore) -> None:
    connection_id, entries = _edit_twice_and_sync(audit_store)
    first_edit, second_edit = [e for e in entries if e["event_type"] == "Connection.Edited.v1"]

    changes = audit_store.cli("diff", connection_id, "--from", str(first_edit["time"]),
                              "--to-version", str(second_edit["version"])).lines()

    by_path = {c["path"]: c for c in changes}
    assert by_path["settings.default_language"] == {"path": "settings.default_language", "change": "changed",
                                                    "before": "en-GB", "after": "fr-FR"}
    assert "credentials" not in by_path


def test_asking_for_an_unknown_connection_or_a_moment_before_it_existed_is_a_usage_error(
    audit_store: AuditStore,
) -> None:
    connection_id = audit_store.established()

    unknown = audit_store.cli("state", "00000000-0000-4000-8000-000000000000")
    too_early = audit_store.cli("state", str(connection_id), "--at", "2001-01-01")
    not_a_time = audit_store.cli("state", str(connection_id), "--at", "yesterday-ish")

    assert (unknown.code, too_early.code, not_a_time.code) == (2, 2, 2)
    assert "no connection" in unknown.stderr and "did not exist yet" in too_early.stderr
    assert "not a time" in not_a_time.stderr
