"""Ports of the connections application: what it needs from the outside, as Protocols."""

from __future__ import annotations

from typing import Any, Protocol
from uuid import UUID

from contracts.datamodel import DataModel


class DriverCatalog(Protocol):
    """The drivers this platform offers, with their credential and settings schemas."""

    def version(self, driver: str) -> str:
        """The driver's version; raises ``InvalidInput`` (reason ``unknown_driver``) for an unknown id."""

    def needs_cleanup(self, driver: str) -> bool:
        """Whether deleting a connection needs a clean-up job at the marketplace."""

    def validate_credentials(self, driver: str, data: dict[str, Any]) -> dict[str, Any]:
        """Plaintext credentials checked against the driver's schema; ``InvalidInput`` naming each bad field."""

    def validate_settings(self, driver: str, data: dict[str, Any]) -> dict[str, Any]:
        """Settings checked against the driver's schema, defaults filled in."""

    def merge_credentials(self, driver: str, stored: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
        """A partial update: fields left out, or secrets sent back masked, keep their stored value."""


class CredentialVault(Protocol):
    """Keeps credentials sealed: only the sealed form is ever stored in events."""

    def seal(self, connection_id: UUID, plaintext: dict[str, Any]) -> dict[str, Any]:
        """Encrypt with the connection's data key (created on first use)."""

    def open(self, connection_id: UUID, sealed: dict[str, Any]) -> dict[str, Any]:
        """Decrypt; raises ``SecretsErased`` after the connection's key was shredded."""

    def fingerprint(self, connection_id: UUID, plaintext: dict[str, Any]) -> str:
        """A keyed, non-reversible fingerprint telling whether credentials changed."""

    def shred(self, connection_id: UUID) -> None:
        """Destroy the connection's data key: its credentials become unrecoverable everywhere."""


class ModelStaging(Protocol):
    """Keeps the chunks of a large data model until its job's final report arrives."""

    def put(self, job_id: str, attempt: int, index: int, part: DataModel) -> None: ...

    def parts(self, job_id: str, attempt: int, count: int) -> list[DataModel] | None:
        """The parts in order, or None when any is missing."""

    def forget(self, job_id: str, attempt: int) -> None:
        """Drop the job's parts once its final report was recorded."""
