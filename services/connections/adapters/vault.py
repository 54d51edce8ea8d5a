"""The credential vault: per-connection data keys, wrapped by a rotatable master key, kept outside the events.

Events hold only ``{"ciphertext", "fingerprint"}``-style sealed documents. The data keys live in the
``connection_keys`` table; shredding a connection deletes its key, so every copy of its sealed credentials
(events, snapshots, backups) becomes unreadable while the rest of its history stays replayable.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import threading
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from typing import Any
from uuid import UUID

from eventsourcing.persistence import IntegrityError

from services.connections.domain.errors import ConnectionsError
from shared.sealing import open_sealed, seal, unwrap_key, wrap_key
from shared.sql import Database, ensure_schema

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS connection_keys ("
    " connection_id TEXT PRIMARY KEY, key_id TEXT NOT NULL, wrapped TEXT NOT NULL)"
)


_ROWS_PER_INSERT = 300  # 900 parameters a statement: below SQLite's oldest limit (999)


class SecretsErased(ConnectionsError):
    reason_code = "secrets_erased"


class UnknownMasterKey(ValueError):
    """A master key id that is not configured (``OMNI_MASTER_KEYS``)."""


class SqlVault:
    """A :class:`~services.connections.ports.CredentialVault` on the project's SQL seam."""

    def __init__(self, db: Database, master_keys: dict[str, bytes], current_key_id: str) -> None:
        self._db = db
        self._masters = master_keys
        self._current = current_key_id
        self._batches = threading.local()  # the key batch the current thread is in, if any
        ensure_schema(db, _SCHEMA)

    @contextmanager
    def batch(self, new: Collection[UUID]) -> Iterator[None]:
        """Data keys of the ``new`` connections (no events yet) made inside are kept in memory and stored
        together, in one transaction, on leaving; every other key is read and made as usual.

        A batch of commands then costs one transaction for its keys instead of two per new connection (seal,
        then fingerprint). The keys are stored before the caller saves the events that use them, as without a
        batch. If another writer stored a different key for one of these connections meanwhile, leaving raises
        :class:`IntegrityError`: nothing sealed in the batch may be saved, the caller runs its commands again.
        """
        made: dict[str, tuple[str, str, bytes]] = {}  # connection id -> (master key id, wrapped, data key)
        self._batches.made = made
        self._batches.new = {str(connection_id) for connection_id in new}
        try:
            yield
        finally:
            self._batches.made = None
        if not made:
            return
        rows = [(cid, key_id, wrapped) for cid, (key_id, wrapped, _) in made.items()]
        stored = 0
        with self._db.transaction() as tx:
            # Multi-row INSERTs (one statement per _ROWS_PER_INSERT keys, not one per key); RETURNING names the
            # keys this batch stored, so a key another writer stored first shows up without reading it back.
            for first in range(0, len(rows), _ROWS_PER_INSERT):
                chunk = rows[first:first + _ROWS_PER_INSERT]
                tx.execute(
                    "INSERT INTO connection_keys (connection_id, key_id, wrapped) VALUES "  # noqa: S608 - marks only
                    + ",".join(["(?, ?, ?)"] * len(chunk))
                    + " ON CONFLICT (connection_id) DO NOTHING RETURNING connection_id",
                    [value for row in chunk for value in row],
                )
                stored += len(tx.fetchall())
        if stored != len(rows):
            raise IntegrityError("a data key of this batch was stored by another writer first")

    @contextmanager
    def preloaded(self, connection_ids: Collection[UUID]) -> Iterator[None]:
        """Inside, the existing data keys of these connections are read once, in one query, instead of one
        transaction per ``open`` (the relay opening the credentials of a batch of jobs). Keys not found are
        looked up as usual, so an erased key still raises :class:`SecretsErased`.
        """
        ids = sorted({str(connection_id) for connection_id in connection_ids})
        found: dict[str, tuple[str, str]] = {}
        if ids:
            with self._db.transaction() as tx:
                marks = ",".join("?" * len(ids))
                tx.execute("SELECT connection_id, key_id, wrapped FROM connection_keys "  # noqa: S608
                           f"WHERE connection_id IN ({marks})", ids)
                found = {str(cid): (str(key_id), str(wrapped)) for cid, key_id, wrapped in tx.fetchall()}
        self._batches.read = found
        try:
            yield
        finally:
            self._batches.read = None

    def seal(self, connection_id: UUID, plaintext: dict[str, Any]) -> dict[str, Any]:
        key = self._data_key(connection_id, create=True)
        return {"v": 1, "ciphertext": seal(key, plaintext, str(connection_id))}

    def open(self, connection_id: UUID, sealed: dict[str, Any]) -> dict[str, Any]:
        if not sealed:
            return {}
        return open_sealed(self._data_key(connection_id, create=False), sealed["ciphertext"], str(connection_id))

    def fingerprint(self, connection_id: UUID, plaintext: dict[str, Any]) -> str:
        key = self._data_key(connection_id, create=True)
        canonical = json.dumps(plaintext, sort_keys=True, separators=(",", ":")).encode()
        return hmac.new(key, canonical, hashlib.sha256).hexdigest()[:16]

    def shred(self, connection_id: UUID) -> None:
        with self._db.transaction() as tx:
            tx.execute("DELETE FROM connection_keys WHERE connection_id = ?", (str(connection_id),))

    def has_key(self, connection_id: UUID) -> bool:
        with self._db.transaction() as tx:
            tx.execute("SELECT 1 FROM connection_keys WHERE connection_id = ?", (str(connection_id),))
            return tx.fetchone() is not None

    def key_ids(self) -> dict[str, str]:
        """Connection id -> id of the master key its data key is wrapped with."""
        with self._db.transaction() as tx:
            tx.execute("SELECT connection_id, key_id FROM connection_keys")
            return {str(cid): str(kid) for cid, kid in tx.fetchall()}

    def rotate(self, new_key_id: str) -> int:
        """Rewrap every data key with master key ``new_key_id``; events are untouched. Returns keys rewrapped.

        All or nothing, in one transaction. Afterwards the old master key can be removed from the settings
        (once every process runs with ``master_key_id`` = ``new_key_id``, so no new key is wrapped with it).
        """
        if new_key_id not in self._masters:
            raise UnknownMasterKey(f"master key {new_key_id!r} is not configured (known: {sorted(self._masters)})")
        with self._db.transaction() as tx:
            tx.execute("SELECT connection_id, key_id, wrapped FROM connection_keys WHERE key_id <> ?", (new_key_id,))
            rows = tx.fetchall()
            missing = sorted({key_id for _, key_id, _ in rows} - set(self._masters))
            if missing:
                raise UnknownMasterKey(f"data keys are wrapped with master keys that are not configured: {missing}")
            for connection_id, key_id, wrapped in rows:
                data_key = unwrap_key(self._masters[key_id], base64.b64decode(wrapped), connection_id)
                rewrapped = base64.b64encode(wrap_key(self._masters[new_key_id], data_key, connection_id)).decode()
                tx.execute(
                    "UPDATE connection_keys SET key_id = ?, wrapped = ? WHERE connection_id = ?",
                    (new_key_id, rewrapped, connection_id),
                )
        self._current = new_key_id
        return len(rows)

    def _data_key(self, connection_id: UUID, *, create: bool) -> bytes:
        cid = str(connection_id)
        made: dict[str, tuple[str, str, bytes]] | None = getattr(self._batches, "made", None)
        if made is not None and create and cid in self._batches.new:
            if cid not in made:
                data_key = os.urandom(32)
                wrapped = base64.b64encode(wrap_key(self._masters[self._current], data_key, cid)).decode()
                made[cid] = (self._current, wrapped, data_key)
            return made[cid][2]
        read: dict[str, tuple[str, str]] | None = getattr(self._batches, "read", None)
        if read is not None and not create and cid in read:
            key_id, wrapped = read[cid]
            return self._unwrap(cid, key_id, wrapped)
        with self._db.transaction() as tx:
            tx.execute("SELECT key_id, wrapped FROM connection_keys WHERE connection_id = ?", (cid,))
            row = tx.fetchone()
            if row is None:
                if not create:
                    raise SecretsErased(f"the credentials of connection {cid} were erased")
                data_key = os.urandom(32)
                wrapped = base64.b64encode(wrap_key(self._masters[self._current], data_key, cid)).decode()
                tx.execute(
                    "INSERT INTO connection_keys (connection_id, key_id, wrapped) VALUES (?, ?, ?) "
                    "ON CONFLICT (connection_id) DO NOTHING",
                    (cid, self._current, wrapped),
                )
                tx.execute("SELECT key_id, wrapped FROM connection_keys WHERE connection_id = ?", (cid,))
                row = tx.fetchone()
                assert row is not None
        key_id, wrapped = row
        return self._unwrap(cid, key_id, wrapped)

    def _unwrap(self, cid: str, key_id: str, wrapped: str) -> bytes:
        if key_id not in self._masters:
            raise UnknownMasterKey(f"the data key of connection {cid} is wrapped with master key {key_id!r}, "
                                   "which is not configured")
        return unwrap_key(self._masters[key_id], base64.b64decode(wrapped), cid)
