"""The integrity follower: seals every stored record into the hash chain, in position order, as it appears.

It follows the store's notification log like the relay and the projections do, and appends each batch's
links to the ``integrity_chain`` table in one transaction, continuing from the chain's head. Run it as its
own process (``connections audit chain --follow``), or once to catch up (``connections audit chain``).
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Sequence

import psycopg
from eventsourcing import persistence
from eventsourcing.persistence import Notification

from services.audit.application import records_of
from services.audit.domain import chain
from services.audit.domain.chain import Link
from services.audit.ports import ChainStore, Progress
from shared.follower import NotificationFollower
from shared.logging import get_logger

log = get_logger(__name__)
RETRY_FIRST_SECONDS, RETRY_MAX_SECONDS = 0.2, 5.0
# A locked SQLite file (another process writing; seen in CI), a database restarting: the store answers again soon.
TRANSIENT_STORE_ERRORS: tuple[type[Exception], ...] = (
    sqlite3.OperationalError, psycopg.OperationalError, persistence.OperationalError)


class ChainMoved(RuntimeError):
    """Another sealer extended the chain first; reading the head again resolves it."""


class IntegrityFollower:
    """Follows the notification log from the chain's head and seals what it reads."""

    def __init__(self, follower: NotificationFollower, chain_store: ChainStore) -> None:
        self.follower = follower
        self.chain = chain_store

    def head(self) -> Link | None:
        return self.chain.head()

    def catch_up(self, progress: Progress) -> Link | None:
        """Seal everything stored up to now; returns the new head."""
        head = self.chain.head()
        after, target = (head.position if head else 0), self.follower.max_position()
        progress.start("seal", max(0, target - after))
        while after < target:
            batch = self.follower.read(after)
            if not batch:
                break
            try:
                head = self._seal(batch, head)
            except ChainMoved:
                head = self.chain.head()  # a running follower sealed these: go on after its head
            reached = head.position if head else after
            progress.advance(reached - after)
            after = reached
        progress.finish()
        return head

    async def run(self, stop: asyncio.Event) -> None:
        """Seal new records until ``stop`` is set, riding out a store that is briefly unavailable (a SQLite file
        another process holds locked, a PostgreSQL restart): the follower waits and goes on from the chain's
        head instead of exiting."""
        started, delay = False, RETRY_FIRST_SECONDS
        while not stop.is_set():
            try:
                head = await asyncio.to_thread(self.chain.head)
                if not started:
                    log.info("integrity_chain_started", position=head.position if head else 0)
                    started = True
                async for batch in self.follower.follow(head.position if head else 0, stop):
                    head = await asyncio.to_thread(self._seal, batch, head)
                    log.info("integrity_chain_sealed", position=head.position, hash=head.hash)
                    delay = RETRY_FIRST_SECONDS
            except ChainMoved:
                continue  # another sealer ran: go on from its head
            except TRANSIENT_STORE_ERRORS as error:
                log.warning("integrity_chain_store_unavailable_will_retry", error=f"{type(error).__name__}: {error}",
                            retry_in=delay)
                try:
                    await asyncio.wait_for(stop.wait(), delay)
                except TimeoutError:
                    delay = min(delay * 2, RETRY_MAX_SECONDS)

    def _seal(self, batch: Sequence[Notification], head: Link | None) -> Link:
        previous = bytes.fromhex(head.hash) if head else chain.GENESIS
        links = chain.seal(previous, records_of(batch))
        if not self.chain.append(links, head.position if head else 0):
            raise ChainMoved(f"the integrity chain moved past position {head.position if head else 0}")
        return links[-1]
