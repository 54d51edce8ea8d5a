"""The library's repository, whose cached aggregates never replay more than a snapshot interval of events.

With the aggregate cache on, a cached aggregate is fast-forwarded on every load: every event stored since
its cached version is read and replayed, all at once. For a snapshotted aggregate (the tenant, loaded by
every create) whose events another writer stored meanwhile (another replica, a bulk import), that can be
any number: a write side idle while 100,000 connections were created elsewhere read 100,000 events in one
go (+140 MB of resident memory, bench/scale.py). Here a cached aggregate of a snapshotted type that has a
newer snapshot in the store is dropped from the cache first, so it is loaded from that snapshot instead.
One extra indexed query per load of such an aggregate (the tenant: once per batch of commands).
"""

from __future__ import annotations

from contextlib import suppress
from typing import Any
from uuid import UUID

from eventsourcing.application import LRUCache, Repository
from eventsourcing.domain import Aggregate


class SnapshotAwareRepository(Repository[UUID]):
    def __init__(self, *args: Any, snapshotted: tuple[type[Aggregate], ...] = (), **options: Any) -> None:
        super().__init__(*args, **options)
        self.snapshotted = snapshotted

    @classmethod
    def like(cls, repository: Repository[UUID], snapshotted: tuple[type[Aggregate], ...]) -> SnapshotAwareRepository:
        """A repository configured as ``repository`` (the one the library built from the environment)."""
        cache = repository.cache
        maxsize = cache.maxsize if isinstance(cache, LRUCache) else None if cache is None else 0
        return cls(repository.event_store, snapshot_store=repository.snapshot_store, cache_maxsize=maxsize,
                   fastforward=repository.fastforward, fastforward_skipping=repository.fastforward_skipping,
                   deepcopy_from_cache=repository.deepcopy_from_cache, snapshotted=snapshotted)

    def get(self, aggregate_id: UUID, *, version: int | None = None, **options: Any) -> Any:
        if version is None and self.snapshotted and self.cache is not None and self.snapshot_store is not None:
            self._forget_if_a_snapshot_is_newer(aggregate_id)
        return super().get(aggregate_id, version=version, **options)

    def _forget_if_a_snapshot_is_newer(self, aggregate_id: UUID) -> None:
        assert self.cache is not None and self.snapshot_store is not None
        try:
            cached = self.cache.get(aggregate_id)
        except KeyError:
            return
        if not isinstance(cached, self.snapshotted):
            return
        if list(self.snapshot_store.get(originator_id=aggregate_id, gt=cached.version, desc=True, limit=1)):
            with suppress(KeyError):
                self.cache.get(aggregate_id, evict=True)
