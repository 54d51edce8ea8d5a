"""A connections store on SQLite or PostgreSQL, written through the real application, and the audit CLI run
as a user runs it: ``python -m services.cli audit ...`` in its own process, configured by ``OMNI_*`` variables.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import psycopg
import pytest

from contracts import commands as cmd
from contracts import reports
from contracts.datamodel import Attribute, AttributeSet, AttributeType, DataModel
from contracts.results import CommandResult
from services.connections.bootstrap import WriteSide, build_write_side
from services.connections.domain.connection import Connection
from services.connections.domain.jobs import JobKind
from services.connections.domain.meta import Meta
from shared.settings import Settings

ROOT = Path(__file__).resolve().parents[3]
TENANT = "acme"
SECRET = "S3CRET-MARKER-audit"
CREDENTIALS = {"url": "https://shop.example.com", "access_key_id": "SWIA-KEY", "secret_access_key": SECRET}
MODEL = DataModel(
    attributes=(Attribute(code="color", labels={"default": "Color"}, type=AttributeType.SELECT),
                Attribute(code="size", labels={"default": "Size"}, type=AttributeType.TEXT)),
    attribute_sets=(AttributeSet(code="shirts", attribute_codes=("color", "size")),),
)


@dataclass
class Ran:
    """One finished CLI run."""

    code: int
    stdout: str
    stderr: str

    def lines(self) -> list[dict[str, Any]]:
        """stdout as JSON Lines (it is piped, so the CLI writes JSON Lines)."""
        return [json.loads(line) for line in self.stdout.splitlines() if line.strip()]


@dataclass
class AuditStore:
    """One store, the write side that fills it, and the audit CLI pointed at it."""

    backend: str
    env: dict[str, str]
    write: WriteSide
    data_dir: Path
    dsn: str | None

    # ----- the CLI, as a user runs it --------------------------------------------------------------------

    def cli(self, *args: str, timeout: float = 300) -> Ran:
        done = subprocess.run(  # noqa: S603 - our own interpreter and module
            [sys.executable, "-m", "services.cli", "audit", *args], env={**os.environ, **self.env}, cwd=ROOT,
            capture_output=True, text=True, timeout=timeout, check=False,
        )
        return Ran(done.returncode, done.stdout, done.stderr)

    # ----- writing, through the real application ---------------------------------------------------------

    def run(self, command: cmd.Message, actor: str = "alice", reason: str | None = None) -> CommandResult:
        meta = Meta(tenant_id=TENANT, actor=actor, correlation_id=str(uuid4()), reason=reason)
        result = self.write.app.execute(command, uuid4(), meta)
        assert result.accepted, result
        return result

    def report(self, message: reports.JobReport) -> None:
        meta = Meta(tenant_id="", actor="worker-1", correlation_id=str(uuid4()))
        assert self.write.app.record_report(message, meta)

    def job(self, connection_id: UUID, kind: JobKind) -> UUID:
        connection = self.write.app.repository.get(connection_id)
        assert isinstance(connection, Connection)
        job = connection.running_job(kind)
        assert job is not None, f"no {kind} job running"
        return UUID(job.job_id)

    def succeed(self, connection_id: UUID, kind: JobKind, model: DataModel | None = None) -> None:
        job_id = self.job(connection_id, kind)
        self.report(reports.JobStarted(job_id=job_id, connection_id=connection_id, worker="worker-1"))
        self.report(reports.JobSucceeded(job_id=job_id, connection_id=connection_id, data_model=model))

    def established(self, name: str = "Main shop", settings: dict[str, Any] | None = None) -> UUID:
        """A connection whose credentials were checked and whose first sync mirrored :data:`MODEL`."""
        self.run(cmd.InstallDriver(driver="shopware6"))
        created = self.run(cmd.CreateConnection(name=name, driver="shopware6", credentials=CREDENTIALS,
                                                settings=settings or {}))
        connection_id = created.items[0].connection_id
        assert connection_id is not None
        self.succeed(connection_id, JobKind.CHECK_CREDENTIALS)
        self.succeed(connection_id, JobKind.SYNC, MODEL)
        return connection_id

    def head(self) -> int:
        return self.write.app.recorder.max_notification_id() or 0

    # ----- tampering, by hand in the database ------------------------------------------------------------

    def sql(self, statement: str, params: tuple[Any, ...] = ()) -> None:
        """Run one statement on the event store's database, bypassing every application."""
        if self.dsn is None:
            with sqlite3.connect(self.data_dir / "events.sqlite") as conn:
                conn.execute(statement.replace("%s", "?").replace("{events}", "stored_events")
                             .replace("{position}", "rowid"), params)
            return
        with psycopg.connect(self.dsn, autocommit=True) as conn:
            conn.execute(statement.replace("{events}", "connections_events")  # type: ignore[arg-type]
                         .replace("{position}", "notification_id"), params)

    def edit_stored_state(self, position: int, old: bytes, new: bytes) -> None:
        """Replace bytes inside one stored event's state, as an attacker with database access could."""
        state = self._state(position)
        assert old in state, f"{old!r} not in the record at position {position}"
        self.sql("UPDATE {events} SET state = %s WHERE {position} = %s", (state.replace(old, new), position))

    def delete_stored(self, position: int) -> None:
        self.sql("DELETE FROM {events} WHERE {position} = %s", (position,))

    def _state(self, position: int) -> bytes:
        found = self.write.app.recorder.select_notifications(start=position, limit=1)
        assert found and found[0].id == position
        return bytes(found[0].state)

    def position_of(self, topic: str, originator_id: UUID, nth: int = 1) -> int:
        matches = [n.id for n in self.write.app.recorder.select_notifications(start=1, limit=100_000)
                   if n.topic == topic and n.originator_id == originator_id]
        return matches[nth - 1]


def settings_env(backend: str, data_dir: Path, dsn: str | None) -> dict[str, str]:
    env = {"OMNI_DATA_DIR": str(data_dir), "OMNI_STORE": backend, "OMNI_LOG_JSON": "true"}
    if dsn:
        env["OMNI_DATABASE_URL"] = dsn
    return env


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def audit_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[AuditStore]:
    """An empty connections store on SQLite or PostgreSQL, with its write side open."""
    dsn = request.getfixturevalue("postgres_dsn") if request.param == "postgres" else None
    data_dir = tmp_path / "data"
    env = settings_env(request.param, data_dir, dsn)
    settings = Settings(data_dir=data_dir, store=request.param, database_url=dsn)
    write = build_write_side(settings)
    try:
        yield AuditStore(request.param, env, write, data_dir, dsn)
    finally:
        write.close()
