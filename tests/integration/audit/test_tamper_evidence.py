"""``chain`` and ``verify`` through the CLI: a record edited or removed by hand in the database is named."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from uuid import UUID

from contracts import commands as cmd
from tests.integration.audit.conftest import ROOT, AuditStore


def _sealed_store(store: AuditStore) -> tuple[str, int]:
    connection_id = store.established()
    store.run(cmd.EditConnection(connection_id=connection_id, name="Main shop (EU)"))
    sealed = store.cli("chain")
    assert sealed.code == 0, sealed.stderr
    assert sealed.lines()[0]["position"] == store.head()
    return str(connection_id), store.head()


def test_an_untouched_history_verifies(audit_store: AuditStore) -> None:
    _, head = _sealed_store(audit_store)

    verified = audit_store.cli("verify")

    assert verified.code == 0, verified.stdout + verified.stderr
    assert f"up to position {head}" in verified.stderr and f"{head} sealed" in verified.stderr


def test_a_record_edited_by_hand_is_named_by_its_position(audit_store: AuditStore) -> None:
    connection_id, _ = _sealed_store(audit_store)
    position = audit_store.position_of("Connection.Edited.v1", UUID(connection_id))
    audit_store.edit_stored_state(position, b'"Main shop (EU)"', b'"Evil shop (EU)"')

    verified = audit_store.cli("verify")

    assert verified.code == 1
    findings = verified.lines()
    assert [(f["kind"], f["position"]) for f in findings] == [("edited", position)]
    assert f"first bad position {position}" in verified.stderr


def test_a_record_deleted_by_hand_is_named_as_a_gap(audit_store: AuditStore) -> None:
    connection_id, _ = _sealed_store(audit_store)
    position = audit_store.position_of("Connection.JobStarted.v1", UUID(connection_id))
    audit_store.delete_stored(position)

    verified = audit_store.cli("verify", "--format", "table")

    assert verified.code == 1
    assert re.search(rf"^{position}\s+removed\s+position {position}: the sealed record", verified.stdout, re.M)
    assert "version_gap" in verified.stdout  # the connection's versions jump over the removed one
    assert f"first bad position {position}" in verified.stderr


def test_a_record_the_current_code_cannot_decode_is_named(audit_store: AuditStore) -> None:
    connection_id, _ = _sealed_store(audit_store)
    position = audit_store.position_of("Connection.Edited.v1", UUID(connection_id))
    audit_store.sql("UPDATE {events} SET topic = %s WHERE {position} = %s", ("Connection.Renamed.v9", position))

    verified = audit_store.cli("verify")

    assert verified.code == 1
    assert {(f["kind"], f["position"]) for f in verified.lines()} == {("undecodable", position), ("edited", position)}


def test_records_stored_after_the_chain_head_are_not_yet_sealed_not_tampered(audit_store: AuditStore) -> None:
    connection_id, head = _sealed_store(audit_store)
    audit_store.run(cmd.DisableConnections(connection_ids=[UUID(connection_id)]))

    verified = audit_store.cli("verify")

    assert verified.code == 0, verified.stdout + verified.stderr
    assert f"not yet sealed (from position {head + 1})" in verified.stderr


def test_a_rewritten_chain_is_caught_by_an_anchor_kept_outside(audit_store: AuditStore) -> None:
    _, head = _sealed_store(audit_store)
    anchor = audit_store.cli("chain", "--head").lines()[0]
    audit_store.sql("UPDATE integrity_chain SET hash = %s WHERE position = %s", ("0" * 64, head))

    verified = audit_store.cli("verify", "--anchor", f"{anchor['position']}:{anchor['hash']}")

    assert verified.code == 1
    assert {f["kind"] for f in verified.lines()} == {"edited", "anchor"}


def test_the_chain_follower_process_seals_new_records_until_stopped(audit_store: AuditStore) -> None:
    """``connections audit chain --follow`` as the launcher starts it."""
    connection_id = audit_store.established()
    follower = subprocess.Popen(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", "services.cli", "audit", "chain", "--follow"], env={**os.environ, **audit_store.env},
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        audit_store.run(cmd.DisableConnections(connection_ids=[connection_id]))
        deadline = time.monotonic() + 30
        while audit_store.cli("chain", "--head").lines()[0]["position"] != audit_store.head():
            assert follower.poll() is None, follower.stdout.read() if follower.stdout else ""
            assert time.monotonic() < deadline, "the follower did not seal the new records"
            time.sleep(0.2)
    finally:
        follower.send_signal(signal.SIGTERM)
        assert follower.wait(30) == 0
    assert audit_store.cli("verify").code == 0
