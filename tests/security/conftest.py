"""Fixtures of the security tests: a write side on SQLite with the real vault, its HTTP API, tokens per role, and
the log output captured."""

from __future__ import annotations

import base64
import io
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import structlog
from fastapi.testclient import TestClient

from services.connections.adapters.catalog import PydanticCatalog
from services.connections.adapters.vault import SqlVault
from services.connections.application import Connections
from services.connections.entrypoints.http import create_app
from shared.auth import BearerAuth, StaticTokens
from shared.logging import configure_logging
from shared.sealed_credentials import CommandKeys
from shared.sql import Database, open_database

TENANT_A = "tenant-a"
TENANT_B = "tenant-b"
ROLES = ("viewer", "operator", "admin")


def token(tenant: str, role: str) -> str:
    return f"tok-{tenant}-{role}"


TOKENS = {token(t, r): {"tenant": t, "roles": [r], "actor": f"{t}-{r}"} for t in (TENANT_A, TENANT_B) for r in ROLES}
TOKENS["tok-no-roles"] = {"tenant": TENANT_A, "roles": [], "actor": "nobody"}


def auth_header(tenant: str, role: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token(tenant, role)}"}


@dataclass
class WriteSide:
    app: Connections
    vault: SqlVault
    keys_db: Database
    masters: dict[str, bytes]
    command_keys: CommandKeys
    env: dict[str, str]
    data_dir: Path

    def reopen(self) -> Connections:
        """Another application on the same store (a restarted process, or a reader)."""
        return Connections(PydanticCatalog(), self.vault, env=self.env)


@pytest.fixture
def command_keys() -> CommandKeys:
    return CommandKeys(base64.b64encode(os.urandom(32)).decode())


@pytest.fixture
def write_side(tmp_path: Path, command_keys: CommandKeys) -> Iterator[WriteSide]:
    keys_db = open_database(f"sqlite:///{tmp_path / 'keys.sqlite'}")
    masters = {"k1": os.urandom(32), "k2": os.urandom(32)}
    vault = SqlVault(keys_db, masters, "k1")
    env = {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(tmp_path / "events.sqlite")}
    app = Connections(PydanticCatalog(), vault, env=env)
    try:
        yield WriteSide(app, vault, keys_db, masters, command_keys, env, tmp_path)
    finally:
        app.close()
        keys_db.close()


@pytest.fixture
def client(write_side: WriteSide) -> Iterator[TestClient]:
    api = create_app(write_side.app, BearerAuth(StaticTokens(TOKENS)), write_side.command_keys)
    with TestClient(api, raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    """What the process logs (``configure_logging(json=True)``), on a StringIO; logging goes back to the real
    stderr afterwards, so later tests do not write to this stream."""
    stream, real = io.StringIO(), sys.stderr
    sys.stderr = stream
    try:
        configure_logging(json=True)
        yield stream
    finally:
        sys.stderr = real
        structlog.reset_defaults()
        configure_logging(json=True)
