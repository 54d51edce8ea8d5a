"""Ports of the audit tools: what the application needs from the outside, as Protocols."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from services.audit.domain.chain import Link
from shared.bus import Outgoing


class Progress(Protocol):
    """Shows how far a long operation got (a bar on a terminal, periodic lines elsewhere, or nothing)."""

    def start(self, label: str, total: int | None) -> None:
        """A new phase of ``total`` units (None: unknown)."""

    def advance(self, units: int) -> None:
        """``units`` more are done."""

    def finish(self) -> None:
        """The phase ended; print its final count and rate."""


class ChainStore(Protocol):
    """The integrity chain's table, next to the event store."""

    def head(self) -> Link | None:
        """The last sealed link (None while nothing is sealed)."""

    def append(self, links: Sequence[Link], after: int) -> bool:
        """Add links continuing the head at position ``after``; False when the head moved meanwhile."""

    def links(self, after: int, limit: int) -> Sequence[Link]:
        """Links after a position, in position order."""

    def link_at(self, position: int) -> Link | None: ...


class KeyRegistry(Protocol):
    """Whether a connection's data key still exists: after crypto-shredding its credentials are erased."""

    def is_erased(self, connection_id: str) -> bool: ...


class Publisher(Protocol):
    """Sends integration events again, marked as replays, and returns when the broker acknowledged them."""

    async def publish(self, messages: Sequence[Outgoing]) -> None: ...


class Signer(Protocol):
    algorithm: str
    key_id: str

    def sign(self, message: bytes) -> bytes: ...


class SignatureChecker(Protocol):
    key_id: str

    def verify(self, algorithm: str, message: bytes, signature: bytes) -> bool:
        """True when ``signature`` is this key's signature of ``message`` with ``algorithm``."""


@dataclass
class RebuildReport:
    """A rebuilt view compared with the live one, row by row."""

    view: str
    position: int  # both sides were compared at this store position
    events: int  # store positions read (every event, whether the view uses it or not)
    applied: int  # events the view reads
    seconds: float
    live_rows: int
    rebuilt_rows: int
    live_digest: str
    rebuilt_digest: str
    differences: list[dict[str, Any]] = field(default_factory=list)
    live_found: bool = True

    @property
    def equal(self) -> bool:
        return self.live_found and not self.differences and self.live_digest == self.rebuilt_digest

    @property
    def rate(self) -> float:
        return self.events / self.seconds if self.seconds > 0 else float("inf")


class ViewRebuild(Protocol):
    """Rebuilds one view from the store next to the live one and compares them."""

    name: str

    def rebuild(self, progress: Progress, *, keep_shadow: bool = False) -> RebuildReport:
        """Build the view into shadow tables up to the live view's position and compare; the live view stays."""

    def replace(self) -> int:
        """Replace the live view by a fresh rebuild; returns the position it was swapped in at."""
