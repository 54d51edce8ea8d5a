"""A deleted connection's key is shredded: its history, time travel and verification still work, and show the
credentials as erased."""

from __future__ import annotations

from uuid import UUID

from contracts import commands as cmd
from services.connections.domain.jobs import JobKind
from tests.integration.audit.conftest import SECRET, AuditStore


def _deleted(store: AuditStore) -> UUID:
    connection_id = store.established()
    store.run(cmd.DisableConnections(connection_ids=[connection_id]))
    store.run(cmd.DeleteConnections(connection_ids=[connection_id]))
    store.succeed(connection_id, JobKind.CLEAN_UP)  # the marketplace clean-up step reports back
    assert store.cli("chain").code == 0
    return connection_id


def test_the_key_of_a_deleted_connection_is_gone_and_its_history_still_reads(audit_store: AuditStore) -> None:
    connection_id = _deleted(audit_store)

    history = audit_store.cli("history", "--connection", str(connection_id))

    assert history.code == 0, history.stderr
    summaries = [e["summary"] for e in history.lines()]
    assert "connection 'Main shop' deleted; its credentials are erased" in summaries
    assert summaries[-1] == "data model removed"  # the mirror is cleared in the same save, after it
    assert any(s.startswith("connection 'Main shop' created") for s in summaries)
    assert SECRET not in history.stdout


def test_time_travel_before_the_deletion_shows_the_credentials_as_erased(audit_store: AuditStore) -> None:
    connection_id = _deleted(audit_store)

    first = audit_store.cli("state", str(connection_id), "--version", "1")
    last = audit_store.cli("state", str(connection_id))

    assert first.code == 0, first.stderr
    assert first.lines()[0]["credentials"] == "(erased)"
    assert first.lines()[0]["credentials_fingerprint"]  # the fingerprint stays: it tells changes apart
    assert (last.lines()[0]["status"], last.lines()[0]["credentials"]) == ("deleted", "(erased)")


def test_a_live_connection_shows_its_credentials_as_sealed_next_to_an_erased_one(audit_store: AuditStore) -> None:
    _deleted(audit_store)
    created = audit_store.run(cmd.CreateConnection(name="Second", driver="shopware6",
                                                    credentials={"url": "https://b.example.com",
                                                                 "access_key_id": "K2", "secret_access_key": SECRET}))

    state = audit_store.cli("state", str(created.items[0].connection_id)).lines()[0]

    assert state["credentials"] == "(sealed)"


def test_verify_passes_after_shredding(audit_store: AuditStore) -> None:
    _deleted(audit_store)

    verified = audit_store.cli("verify")

    assert verified.code == 0, verified.stdout + verified.stderr
