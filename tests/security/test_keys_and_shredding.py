"""Secrets at rest: per-connection data keys wrapped by a rotatable master key; rotation rewraps without
touching events; deleting a connection shreds its key, and its history still replays with the secret erased;
keys that survived a crash between save and shred are shredded at start; optional whole-event encryption."""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import pytest

from contracts import commands as cmd
from services.cli import main as cli
from services.connections.adapters.catalog import PydanticCatalog
from services.connections.adapters.vault import SecretsErased, SqlVault, UnknownMasterKey
from services.connections.application import Connections
from services.connections.bootstrap import build_write_side, shred_leftover_keys
from services.connections.domain.connection import Connection
from services.connections.domain.meta import Meta
from services.connections.translation import public_payloads
from shared.settings import Settings
from tests.security.conftest import TENANT_A, WriteSide

SECRET = "marker-at-rest-7e3a"


def meta() -> Meta:
    return Meta(TENANT_A, "alice", str(uuid4()))


def create_shop(app: Connections, secret: str = SECRET) -> UUID:
    app.execute(cmd.InstallDriver(driver="shopware6"), uuid4(), meta())
    result = app.execute(cmd.CreateConnection(name="Shop", driver="shopware6", credentials={
        "url": "https://shop.example.com", "access_key_id": "SWIAKEY", "secret_access_key": secret}), uuid4(), meta())
    assert result.accepted, result
    connection_id = result.items[0].connection_id
    assert connection_id is not None
    return connection_id


def delete(app: Connections, connection_id: UUID) -> None:
    assert app.execute(cmd.DisableConnections(connection_ids=[connection_id]), uuid4(), meta()).accepted
    assert app.execute(cmd.DeleteConnections(connection_ids=[connection_id]), uuid4(), meta()).accepted


def stored_events(app: Connections) -> list[tuple[int, str, bytes]]:
    return [(n.id, n.topic, n.state) for n in app.recorder.select_notifications(start=1, limit=10_000)]


def test_rotation_rewraps_every_data_key_and_leaves_the_events_untouched(write_side: WriteSide) -> None:
    ids = [create_shop(write_side.app, f"{SECRET}-{i}") for i in range(3)]
    events = stored_events(write_side.app)
    assert set(write_side.vault.key_ids().values()) == {"k1"}

    assert write_side.vault.rotate("k2") == 3
    assert write_side.vault.rotate("k2") == 0  # nothing left to rewrap

    assert stored_events(write_side.app) == events
    assert set(write_side.vault.key_ids().values()) == {"k2"}
    without_old = SqlVault(write_side.keys_db, {"k2": write_side.masters["k2"]}, "k2")  # k1 retired
    for i, connection_id in enumerate(ids):
        connection = write_side.app.repository.get(connection_id)
        assert without_old.open(connection_id, connection.credentials)["secret_access_key"] == f"{SECRET}-{i}"
    new_id = create_shop(write_side.app)  # new data keys are wrapped with the new master key
    assert write_side.vault.key_ids()[str(new_id)] == "k2"


def test_rotation_to_an_unknown_key_or_from_a_missing_one_changes_nothing(write_side: WriteSide) -> None:
    create_shop(write_side.app)
    with pytest.raises(UnknownMasterKey, match="'k9' is not configured"):
        write_side.vault.rotate("k9")
    partial = SqlVault(write_side.keys_db, {"k2": write_side.masters["k2"]}, "k2")
    with pytest.raises(UnknownMasterKey, match=r"not configured: \['k1'\]"):
        partial.rotate("k2")
    assert set(write_side.vault.key_ids().values()) == {"k1"}


def test_the_keys_rotate_command_rewraps_with_the_named_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    masters = {"k1": base64.b64encode(os.urandom(32)).decode(), "k2": base64.b64encode(os.urandom(32)).decode()}
    for name, value in {"OMNI_DATA_DIR": str(tmp_path), "OMNI_MASTER_KEYS": json.dumps(masters),
                        "OMNI_MASTER_KEY_ID": "k1"}.items():
        monkeypatch.setenv(name, value)
    write = build_write_side(Settings())
    try:
        connection_id = create_shop(write.app)
        events = stored_events(write.app)
    finally:
        write.close()

    assert cli(["keys", "rotate", "--to", "k2"]) == 0
    assert cli(["keys", "rotate", "--to", "nope"]) == 2
    assert cli(["keys", "status"]) == 0
    output = capsys.readouterr().out

    assert "rewrapped 1 data keys with master key 'k2'" in output and "OMNI_MASTER_KEY_ID=k2" in output
    assert "'nope' is not configured" in output and "k2: 1 data keys" in output
    assert not any(key in output for key in masters.values()) and SECRET not in output
    monkeypatch.setenv("OMNI_MASTER_KEYS", json.dumps({"k2": masters["k2"]}))
    monkeypatch.setenv("OMNI_MASTER_KEY_ID", "k2")
    write = build_write_side(Settings())
    try:
        assert stored_events(write.app) == events
        connection = write.app.repository.get(connection_id)
        assert write.vault.open(connection_id, connection.credentials)["secret_access_key"] == SECRET
    finally:
        write.close()


def test_deleting_shreds_the_key_and_the_history_still_replays_with_the_secret_erased(write_side: WriteSide) -> None:
    connection_id = create_shop(write_side.app)
    sealed_before = write_side.app.repository.get(connection_id).credentials
    delete(write_side.app, connection_id)

    assert not write_side.vault.has_key(connection_id)
    with pytest.raises(SecretsErased):
        write_side.vault.open(connection_id, sealed_before)  # every copy of the sealed credentials is dead

    replayed = write_side.reopen()  # a fresh process: no cache, every event read again
    try:
        history = list(replayed.repository.get(connection_id, version=v) for v in range(1, 4))
        final = replayed.repository.get(connection_id)
        assert isinstance(final, Connection) and final.is_deleted and final.credentials == {}
        assert all(isinstance(c, Connection) and c.name == "Shop" for c in history)
        with pytest.raises(SecretsErased):
            replayed.vault.open(connection_id, history[0].credentials)
        # Every stored event still becomes its public messages (the relay and a view rebuild read them so).
        published: list[Any] = []
        for notification in replayed.recorder.select_notifications(start=1, limit=10_000):
            published += public_payloads(notification.topic, replayed.mapper.to_domain_event(notification),
                                         notification.id)
            assert SECRET.encode() not in notification.state
        assert [p.message_type for p in published if getattr(p, "connection_id", None) == connection_id][-1] == (
            "ConnectionStatusChanged")
    finally:
        replayed.close()


class CrashBeforeShred(SqlVault):
    """A vault whose process dies between saving the deletion and shredding the key."""

    def shred(self, connection_id: UUID) -> None:
        pass


def test_keys_that_survived_a_crash_between_save_and_shred_are_shredded_at_start(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, master_keys={"k1": base64.b64encode(os.urandom(32)).decode()},
                        master_key_id="k1")
    write = build_write_side(settings)
    vault = CrashBeforeShred(write.keys_db, {"k1": base64.b64decode(settings.master_keys["k1"])}, "k1")
    crashing = Connections(PydanticCatalog(), vault, env=settings.eventsourcing_env())
    try:
        deleted = create_shop(crashing)
        delete(crashing, deleted)
        active = create_shop(crashing, "still-in-use")
        in_flight = uuid4()
        write.vault.seal(in_flight, {"secret": "being created elsewhere"})  # key made, events not saved yet
        assert write.vault.has_key(deleted)

        assert shred_leftover_keys(write) == 1
        assert shred_leftover_keys(write) == 0
        assert not write.vault.has_key(deleted)
        assert write.vault.has_key(active) and write.vault.has_key(in_flight)
    finally:
        crashing.close()
        write.close()


def test_the_whole_event_store_can_be_encrypted_and_every_reader_uses_the_same_settings(tmp_path: Path) -> None:
    cipher_key = base64.b64encode(os.urandom(32)).decode()
    settings = Settings(data_dir=tmp_path, cipher_key=cipher_key)
    assert settings.eventsourcing_env()["CIPHER_TOPIC"] == "eventsourcing.cryptography:AESCipher"
    write = build_write_side(settings)
    try:
        connection_id = create_shop(write.app)
    finally:
        write.close()

    raw = (tmp_path / "events.sqlite").read_bytes() + b"".join(
        p.read_bytes() for p in tmp_path.glob("events.sqlite-*"))
    assert b"shopware6" not in raw and b"shop.example.com" not in raw and b"SWIAKEY" not in raw

    reader = build_write_side(Settings(data_dir=tmp_path, cipher_key=cipher_key))
    try:
        assert reader.app.repository.get(connection_id).name == "Shop"
    finally:
        reader.close()
    stranger = build_write_side(Settings(data_dir=tmp_path))
    try:
        with pytest.raises(Exception):  # noqa: B017 - without the key the payloads are noise
            stranger.app.repository.get(connection_id)
    finally:
        stranger.close()
    with pytest.raises(ValueError, match="16, 24 or 32 bytes"):
        Settings(cipher_key=base64.b64encode(b"short").decode())
