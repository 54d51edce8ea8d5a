"""Whether a connection's credentials can still be opened: its data key exists in the vault's key table.

The audit tools never decrypt credentials; they only need to say "(sealed)" or "(erased)". So this probe
reads whether the key row exists in ``connection_keys`` (see ``services.connections.adapters.vault``),
without the master keys and without unwrapping anything.
"""

from __future__ import annotations

from shared.sql import Database


class SqlKeyRegistry:
    """A :class:`~services.audit.ports.KeyRegistry` over the vault's ``connection_keys`` table."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def is_erased(self, connection_id: str) -> bool:
        try:
            with self._db.transaction() as tx:
                tx.execute("SELECT 1 FROM connection_keys WHERE connection_id = ?", (connection_id,))
                return tx.fetchone() is None
        except Exception as exc:  # no key table: nothing was ever sealed with a key that still exists
            if "connection_keys" in str(exc):
                return True
            raise
