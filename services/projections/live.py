"""In-process publish/subscribe of view changes, per tenant: what the live stream endpoint serves.

The runner publishes each committed batch's changes; every subscriber has a bounded queue and sees only its
own tenant's changes, in order. A subscriber that falls too far behind gets one ``resync`` message and is
closed (its client reconnects and reloads), so a slow dashboard never holds the runner back.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from services.projections.projection import Change

QUEUE_SIZE = 2_000


@dataclass(frozen=True)
class Notice:
    """One message of the stream: ``kind`` is ``change``, ``rebuilt`` (reload that view) or ``resync``."""

    kind: str
    body: dict[str, Any]
    position: int | None = None


@dataclass(eq=False)
class Subscription:
    tenant_id: str
    views: frozenset[str] | None
    # Unbounded on purpose: the cap is enforced in offer(), which must always fit the closing notices.
    queue: asyncio.Queue[Notice | None] = field(default_factory=asyncio.Queue)
    closed: bool = False

    def wants(self, view: str) -> bool:
        return self.views is None or view in self.views

    def offer(self, notice: Notice) -> None:
        if self.closed:
            return
        if self.queue.qsize() >= QUEUE_SIZE:
            # The client must learn it missed changes.
            self.queue.put_nowait(Notice("resync", {"reason": "too many changes queued; reload the views"}))
            self.queue.put_nowait(None)
            self.closed = True
            return
        self.queue.put_nowait(notice)

    async def notices(self) -> AsyncIterator[Notice]:
        while True:
            notice = await self.queue.get()
            if notice is None:
                return
            yield notice


class ChangeHub:
    """Routes changes to the subscribers of their tenant. Call its methods on the event loop's thread."""

    def __init__(self) -> None:
        self._subscribers: dict[str, set[Subscription]] = {}
        self._loop: asyncio.AbstractEventLoop | None = None

    def subscribe(self, tenant_id: str, views: Iterable[str] | None = None) -> Subscription:
        self._loop = asyncio.get_running_loop()
        subscription = Subscription(tenant_id, frozenset(views) if views is not None else None)
        self._subscribers.setdefault(tenant_id, set()).add(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        subscribers = self._subscribers.get(subscription.tenant_id, set())
        subscribers.discard(subscription)
        if not subscribers:
            self._subscribers.pop(subscription.tenant_id, None)

    @property
    def subscriber_count(self) -> int:
        return sum(len(s) for s in self._subscribers.values())

    def publish(self, changes: Sequence[Change]) -> None:
        """Each change to its own tenant's subscribers only, in the order given."""
        for change in changes:
            for subscription in list(self._subscribers.get(change.tenant_id, ())):
                if subscription.wants(change.view):
                    subscription.offer(Notice("change", change.as_message(), change.position))

    def rebuilt(self, view: str, position: int) -> None:
        """A view was swapped for a rebuilt copy: every subscriber should reload it."""
        for subscribers in list(self._subscribers.values()):
            for subscription in list(subscribers):
                if subscription.wants(view):
                    subscription.offer(Notice("rebuilt", {"view": view, "position": position}, position))

    def publish_threadsafe(self, call: Any, *args: Any) -> None:
        """Run ``call(*args)`` on the hub's loop (from a worker thread)."""
        if self._loop is not None and self._loop.is_running():
            self._loop.call_soon_threadsafe(call, *args)

    def close(self) -> None:
        """End every stream (shutdown): each subscriber's iterator finishes."""
        for subscribers in list(self._subscribers.values()):
            for subscription in list(subscribers):
                if not subscription.closed:
                    subscription.closed = True
                    subscription.queue.put_nowait(None)
