"""``connections migrate``: a used SQLite store copied into PostgreSQL, verified, and then used there."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest

from contracts import commands as cmd
from services.connections.bootstrap import WriteSide, build_write_side
from services.connections.domain.connection import Connection, Status
from shared.positions import create_positions_table, write_position
from shared.settings import Settings, Store
from shared.sql import open_database
from tests.unit.application_suite import CREDENTIALS, create, run

pytestmark = [pytest.mark.postgres]
ROOT = Path(__file__).resolve().parents[2]


def connections(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    import os

    return subprocess.run([sys.executable, "-m", "services.cli", *args], cwd=ROOT, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}, timeout=300, check=False)


def used_sqlite_store(data_dir: Path) -> dict[str, Any]:
    """A store with history: several tenants and connections, edits, a disabled and a deleted (shredded) one."""
    write = build_write_side(Settings(store=Store.SQLITE, data_dir=data_dir))
    try:
        kept, _ = create(write.app, "shopware6", "Main shop")
        for number in range(25):
            create(write.app, "pos", f"Till {number}", tenant=f"tenant-{number % 3}")
        run(write.app, cmd.EditConnection(connection_id=kept, name="Main shop (EU)"))
        gone, _ = create(write.app, "shopware6", "Old shop")
        assert run(write.app, cmd.DisableConnections(connection_ids=[gone])).accepted
        assert run(write.app, cmd.DeleteConnections(connection_ids=[gone])).accepted
        head = write.app.recorder.max_notification_id() or 0
        positions = open_database(f"sqlite:///{data_dir / 'positions.sqlite'}")
        create_positions_table(positions)
        with positions.transaction() as tx:
            write_position(tx, "relay", head - 3)
        positions.close()
        return {"kept": kept, "head": head, "state": _state(write, kept)}
    finally:
        write.close()


def _state(write: WriteSide, connection_id: UUID) -> dict[str, Any]:
    connection = write.app.repository.get(connection_id)
    assert isinstance(connection, Connection)
    return {"version": connection.version, "name": connection.name, "status": connection.status,
            "credentials": write.vault.open(connection.id, connection.credentials)}


def test_a_used_sqlite_store_moves_to_postgresql_verified_and_keeps_working(tmp_path: Path, postgres_dsn: str) -> None:
    data_dir = tmp_path / "data"
    before = used_sqlite_store(data_dir)
    sealed = connections("audit", "chain", "--quiet", env={"OMNI_DATA_DIR": str(data_dir), "OMNI_STORE": "sqlite"})
    assert sealed.returncode == 0, sealed.stderr  # the audit chain is sealed, so the copy must keep it valid

    done = connections("migrate", "--from-sqlite", str(data_dir), "--to-postgres", postgres_dsn)
    assert done.returncode == 0, done.stderr
    assert f"migrated {before['head']} events" in done.stdout
    assert "verified: counts, versions of" in done.stderr
    assert "audit verify: ok" in done.stderr or "skipped" in done.stderr

    write = build_write_side(Settings(store=Store.POSTGRES, database_url=postgres_dsn))
    try:
        assert _state(write, before["kept"]) == before["state"]  # same versions, same state, keys still open it
        assert set(before["state"]["credentials"]) == set(CREDENTIALS["shopware6"])  # opened, not erased
        result = run(write.app, cmd.DisableConnections(connection_ids=[before["kept"]]))
        assert result.accepted
        new = write.app.recorder.select_notifications(before["head"] + 1, 100)
        assert [n.id for n in new] == list(range(before["head"] + 1, result.position + 1))  # positions continue
        connection = write.app.repository.get(before["kept"])
        assert isinstance(connection, Connection) and connection.status is Status.INACTIVE
    finally:
        write.close()
    positions = open_database(postgres_dsn)
    with positions.transaction() as tx:
        tx.execute("SELECT position FROM tracked_positions WHERE name = ?", ("relay",))
        assert tx.fetchone() == (before["head"] - 3,)  # the relay resumes where it stopped on SQLite
    positions.close()


def test_migrating_into_a_database_that_holds_events_is_refused(tmp_path: Path, postgres_dsn: str) -> None:
    data_dir = tmp_path / "data"
    used_sqlite_store(data_dir)
    assert connections("migrate", "--from-sqlite", str(data_dir), "--to-postgres", postgres_dsn,
                       "--skip-audit").returncode == 0
    again = connections("migrate", "--from-sqlite", str(data_dir), "--to-postgres", postgres_dsn, "--skip-audit")
    assert again.returncode == 2
    assert "already holds" in again.stderr and "Traceback" not in again.stderr


def test_a_folder_without_a_store_is_a_usage_error(tmp_path: Path, postgres_dsn: str) -> None:
    missing = connections("migrate", "--from-sqlite", str(tmp_path), "--to-postgres", postgres_dsn)
    assert missing.returncode == 2
    assert "no event store" in missing.stderr
