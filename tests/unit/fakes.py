"""Fakes that implement the connections service's ports, for tests that run without infrastructure."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import threading
from typing import Any
from uuid import UUID

from services.connections.adapters.vault import SecretsErased
from shared.sealing import open_sealed, seal


class InMemoryVault:
    """A :class:`~services.connections.ports.CredentialVault` keeping its data keys in a dict.

    It encrypts for real (so a test can prove no plaintext reaches the store) but keeps nothing on disk.
    """

    def __init__(self) -> None:
        self._keys: dict[str, bytes] = {}
        self._lock = threading.Lock()
        self.shredded: set[UUID] = set()

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
        with self._lock:
            self._keys.pop(str(connection_id), None)
            self.shredded.add(connection_id)

    def has_key(self, connection_id: UUID) -> bool:
        return str(connection_id) in self._keys

    def _data_key(self, connection_id: UUID, *, create: bool) -> bytes:
        with self._lock:
            key = self._keys.get(str(connection_id))
            if key is None:
                if not create:
                    raise SecretsErased(f"the credentials of connection {connection_id} were erased")
                key = self._keys[str(connection_id)] = os.urandom(32)
            return key
