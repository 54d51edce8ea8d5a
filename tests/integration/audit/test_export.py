"""``export`` and ``verify-export`` through the CLI: signed exports verify, altered ones do not."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from contracts import commands as cmd
from tests.integration.audit.conftest import SECRET, TENANT, AuditStore


def _store_with_history(store: AuditStore) -> None:
    connection_id = store.established(settings={"default_language": "de-DE"})
    store.run(cmd.EditConnection(connection_id=connection_id, settings={"default_language": "en-GB"}), actor="bob")


def _alter_one_event_line(path: Path) -> None:
    lines = path.read_bytes().splitlines(keepends=True)
    index = next(i for i, line in enumerate(lines) if b'"actor":"bob"' in line)
    lines[index] = lines[index].replace(b'"actor":"bob"', b'"actor":"eve"')
    path.write_bytes(b"".join(lines))


def test_an_ed25519_signed_export_verifies_with_the_public_key_and_fails_once_altered(
    audit_store: AuditStore, tmp_path: Path,
) -> None:
    _store_with_history(audit_store)
    assert audit_store.cli("keygen", "--out", str(tmp_path / "audit")).code == 0
    export = tmp_path / "acme.jsonl"

    made = audit_store.cli("export", "--tenant", TENANT, "--sign", "ed25519", "--key-file",
                           str(tmp_path / "audit.pem"), "--output", str(export))
    checked = audit_store.cli("verify-export", str(export), "--key-file", str(tmp_path / "audit.pub.pem"))
    _alter_one_event_line(export)
    altered = audit_store.cli("verify-export", str(export), "--key-file", str(tmp_path / "audit.pub.pem"))

    assert made.code == 0, made.stderr
    assert checked.code == 0 and "signature valid (ed25519" in checked.stdout, checked.stdout + checked.stderr
    assert altered.code == 1 and "FAILED" in altered.stdout


def test_an_hmac_signed_export_holds_the_tenants_events_without_secrets_and_a_forged_trailer_fails(
    audit_store: AuditStore, tmp_path: Path,
) -> None:
    _store_with_history(audit_store)
    key, other_key = tmp_path / "audit.key", tmp_path / "other.key"
    key.write_bytes(b"k" * 32)
    other_key.write_bytes(b"o" * 32)
    export = tmp_path / "acme.jsonl"

    made = audit_store.cli("export", "--tenant", TENANT, "--sign", "hmac-sha256", "--key-file", str(key),
                           "--output", str(export))
    lines = [json.loads(line) for line in export.read_text().splitlines()]
    good = audit_store.cli("verify-export", str(export), "--key-file", str(key))
    wrong_key = audit_store.cli("verify-export", str(export), "--key-file", str(other_key))

    assert made.code == 0, made.stderr
    assert lines[0]["record"] == "header" and lines[0]["tenant_id"] == TENANT
    events = [line for line in lines if line["record"] == "event"]
    assert events and all(e["tenant_id"] == TENANT for e in events)
    created = next(e for e in events if e["event_type"] == "Connection.Created.v1")
    assert created["data"]["credentials"] == "(sealed)" and created["data"]["settings"]["default_language"] == "de-DE"
    assert SECRET not in export.read_text() and "ciphertext" not in export.read_text()
    assert lines[-1]["events"] == len(events)
    assert good.code == 0 and "signature valid (hmac-sha256" in good.stdout
    assert wrong_key.code == 1

    # An attacker who edits a line and recomputes the trailer's digest still cannot sign it.
    _alter_one_event_line(export)
    body = export.read_bytes().rsplit(b"\n", 2)[0] + b"\n"
    trailer = lines[-1] | {"sha256": hashlib.sha256(body).hexdigest()}
    export.write_bytes(body + json.dumps(trailer).encode() + b"\n")
    forged = audit_store.cli("verify-export", str(export), "--key-file", str(key))
    digest_only = audit_store.cli("verify-export", str(export))
    assert forged.code == 1 and "signature does not match" in forged.stdout
    assert digest_only.code == 0 and "not checked" in digest_only.stdout


def test_an_export_of_a_period_holds_only_the_events_of_that_period(audit_store: AuditStore) -> None:
    _store_with_history(audit_store)
    edit = audit_store.cli("history", "--tenant", TENANT, "--type", "Edited").lines()[0]

    exported = audit_store.cli("export", "--tenant", TENANT, "--since", str(edit["time"]))

    events = [json.loads(line) for line in exported.stdout.splitlines()][1:-1]
    assert exported.code == 0, exported.stderr
    assert events and all(e["time"] >= edit["time"] for e in events)
    assert events[0]["position"] == edit["position"]


def test_a_signing_key_that_cannot_serve_is_a_usage_error(audit_store: AuditStore, tmp_path: Path) -> None:
    short = tmp_path / "short.key"
    short.write_bytes(b"too short")

    refused = audit_store.cli("export", "--tenant", TENANT, "--sign", "hmac-sha256", "--key-file", str(short))
    missing = audit_store.cli("export", "--tenant", TENANT, "--sign", "ed25519")

    assert (refused.code, missing.code) == (2, 2)
    assert "at least 32 bytes" in refused.stderr
