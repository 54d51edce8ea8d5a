"""What the view suite drives: the real connections application writing events, the real runner applying them.

One :class:`ViewHarness` per test, on one backend (SQLite files or a PostgreSQL database): commands go through
``Connections.execute`` and worker reports through ``Connections.record_report``, exactly as the entrances
do; ``catch_up()`` runs the projection runner over everything stored since, as the projections process would.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar
from uuid import UUID, uuid4

from contracts import commands as cmd
from contracts import reports
from contracts.datamodel import Attribute, AttributeSet, AttributeType, DataModel
from contracts.results import CommandResult
from services.connections.adapters.catalog import PydanticCatalog
from services.connections.adapters.vault import SqlVault
from services.connections.application import Connections
from services.connections.domain.meta import Meta
from services.projections.adapters import tables
from services.projections.application import EventStoreReader, ProjectionRunner
from services.projections.live import ChangeHub
from services.projections.projection import Change, Projection
from services.projections.read_side import ReadSide
from services.projections.views import all_views
from shared.follower import NotificationFollower
from shared.sql import Database, Transaction, open_database

T = TypeVar("T")

TENANT = "acme"
OTHER_TENANT = "globex"
SECRET = "S3CRET-MARKER-one"
NEW_SECRET = "S3CRET-MARKER-two"
SHOPWARE = {"url": "https://shop.example.com", "access_key_id": "SWIA-KEY", "secret_access_key": SECRET}


def model(*codes: str, sets: dict[str, tuple[str, ...]] | None = None, label: str = "") -> DataModel:
    """A data model with text attributes ``codes`` and the given sets (default: one set of all of them)."""
    sets = sets if sets is not None else {"main": codes}
    return DataModel(
        attributes=tuple(Attribute(code=c, labels={"default": f"{c}{label}"}, type=AttributeType.TEXT) for c in codes),
        attribute_sets=tuple(AttributeSet(code=s, attribute_codes=members) for s, members in sets.items()),
    )


@dataclass
class Backend:
    """Where a harness stores: the eventsourcing environment, and the URL of the views' (and keys') database."""

    events_env: dict[str, str]
    views_url: str
    keys_url: str


@dataclass
class ViewHarness:
    backend: Backend
    app: Connections = field(init=False)
    store: EventStoreReader = field(init=False)
    views: Database = field(init=False)
    hub: ChangeHub = field(init=False)
    runner: ProjectionRunner = field(init=False)
    published: list[Change] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._keys = open_database(self.backend.keys_url)
        vault = SqlVault(self._keys, {"k1": os.urandom(32)}, "k1")
        self.app = Connections(PydanticCatalog(), vault, env=self.backend.events_env)
        self.store = EventStoreReader(env=self.backend.events_env)
        self.views = open_database(self.backend.views_url)
        self.hub = ChangeHub()
        self.runner = self.new_runner()

    def new_runner(self, projections: Sequence[Projection] | None = None) -> ProjectionRunner:
        follower = NotificationFollower(self.store.recorder)  # type: ignore[arg-type]
        return ProjectionRunner(self.store, self.views, list(projections or all_views()), follower, self.hub)

    def read_side(self) -> ReadSide:
        return ReadSide(self.store, self.views, self.views, self.runner, self.hub)

    def close(self) -> None:
        self.app.close()
        self.store.close()
        self.views.close()
        self._keys.close()

    # ----- the write side, as its entrances use it ---------------------------------------------------------------

    def run(self, command: cmd.Message, tenant: str = TENANT, actor: str = "alice",
            correlation_id: str | None = None, reason: str | None = None) -> CommandResult:
        command_id = uuid4()
        meta = Meta(tenant, actor, correlation_id or str(command_id), str(command_id), reason)
        result = self.app.execute(command, command_id, meta)
        assert result.accepted, result
        return result

    def report(self, report: reports.JobReport, actor: str = "worker") -> bool:
        return self.app.record_report(report, Meta(TENANT, actor, str(uuid4()), str(uuid4())))

    def create(self, name: str, driver: str = "pos", tenant: str = TENANT, credentials: dict[str, Any] | None = None,
               settings: dict[str, Any] | None = None, actor: str = "alice") -> UUID:
        self.run(cmd.InstallDriver(driver=driver), tenant)
        credentials = credentials if credentials is not None else (SHOPWARE if driver == "shopware6" else {})
        result = self.run(cmd.CreateConnection(name=name, driver=driver, credentials=credentials,
                                               settings=settings or {}), tenant, actor)
        connection_id = result.items[0].connection_id
        assert connection_id is not None
        return connection_id

    def open_jobs(self, connection_id: UUID) -> dict[str, Any]:
        return dict(self.app.repository.get(connection_id).jobs)

    def job(self, connection_id: UUID, kind: str) -> UUID:
        return next(UUID(j.job_id) for j in self.open_jobs(connection_id).values() if j.kind == kind)

    def attempt(self, connection_id: UUID, job_id: UUID) -> int:
        return int(self.open_jobs(connection_id)[str(job_id)].attempt)

    def start(self, connection_id: UUID, kind: str, worker: str = "worker-1") -> UUID:
        job_id = self.job(connection_id, kind)
        self.report(reports.JobStarted(job_id=job_id, connection_id=connection_id, worker=worker,
                                       attempt=self.attempt(connection_id, job_id)))
        return job_id

    def progress(self, connection_id: UUID, job_id: UUID, done: int, total: int | None) -> None:
        self.report(reports.JobProgressed(job_id=job_id, connection_id=connection_id, done=done, total=total,
                                          attempt=self.attempt(connection_id, job_id)))

    def succeed(self, connection_id: UUID, job_id: UUID, data_model: DataModel | None = None) -> None:
        self.report(reports.JobSucceeded(job_id=job_id, connection_id=connection_id, data_model=data_model,
                                         attempt=self.attempt(connection_id, job_id)))

    def fail(self, connection_id: UUID, job_id: UUID, error_type: str, message: str, retryable: bool = False) -> None:
        self.report(reports.JobFailed(job_id=job_id, connection_id=connection_id, error_type=error_type,
                                      retryable=retryable, message=message,
                                      attempt=self.attempt(connection_id, job_id)))

    def verify(self, connection_id: UUID) -> None:
        """The credential check runs and succeeds (an initial sync is then requested by the application)."""
        self.succeed(connection_id, self.start(connection_id, "check_credentials"))

    def sync(self, connection_id: UUID, data_model: DataModel | None = None, requested: bool = True) -> UUID:
        """A sync (requested unless the application already did) runs with progress and succeeds."""
        if requested:
            self.run(cmd.RequestSync(connection_ids=[connection_id]))
        job_id = self.start(connection_id, "sync")
        self.progress(connection_id, job_id, 1, 2)
        self.succeed(connection_id, job_id, data_model or model("color", "size"))
        return job_id

    def established(self, name: str, driver: str = "pos", tenant: str = TENANT, **kwargs: Any) -> UUID:
        """A connection created, verified and through its initial sync."""
        connection_id = self.create(name, driver, tenant, **kwargs)
        self.verify(connection_id)
        self.sync(connection_id, requested=False)
        return connection_id

    # ----- the read side ----------------------------------------------------------------------------------------

    def catch_up(self, runner: ProjectionRunner | None = None, batch_size: int = 500) -> list[Change]:
        """Apply everything stored since the runner's positions, as the projections process does."""
        runner = runner or self.runner
        position = min(runner.read_positions().values())
        changes: list[Change] = []
        while batch := self.store.recorder.select_notifications(start=position + 1, limit=batch_size):
            applied = runner.apply(batch)
            changes += applied
            self.published += applied
            position = batch[-1].id
        return changes

    def read(self, query: Callable[[Transaction], T]) -> T:
        with self.views.read_transaction() as tx:
            return query(tx)

    def all_view_rows(self) -> Iterator[bytes]:
        """Every stored row of every view, as text: for scans that no secret is anywhere."""
        with self.views.read_transaction() as tx:
            for projection in self.runner.projections:
                for spec in projection.tables():
                    yield from tables.digest_lines(tx, spec)


@contextmanager
def harness(backend: Backend) -> Iterator[ViewHarness]:
    h = ViewHarness(backend)
    try:
        yield h
    finally:
        h.close()
