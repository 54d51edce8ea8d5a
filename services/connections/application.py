"""The connections application: one method per command, each loading aggregates, acting, saving.

Every command runs at most once per command id (see :mod:`domain.command_log`); concurrent commands on one
connection are serialised by optimistic concurrency and retried.
"""

from __future__ import annotations

import collections
import functools
import threading
from contextlib import nullcontext
from dataclasses import replace
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from typing import Any, ClassVar, TypeVar
from uuid import NAMESPACE_URL, UUID, uuid4, uuid5

from eventsourcing.application import AggregateNotFoundError, Application, ProcessingEvent
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError, Recording

from contracts import commands as cmd
from contracts import reports
from contracts.results import CommandResult, ItemOutcome, Outcome
from services.connections.domain.command_log import ProcessedCommand
from services.connections.domain.connection import Connection, CredentialState, Status
from services.connections.domain.errors import Conflict, ConnectionsError, NotFound
from services.connections.domain.jobs import Job, JobKind
from services.connections.domain.meta import Meta
from services.connections.domain.mirror import DataModelMirror
from services.connections.domain.tenant import Tenant
from services.connections.ports import CredentialVault, DriverCatalog, ModelStaging
from services.connections.repository import SnapshotAwareRepository
from services.connections.adapters.staging import InMemoryModelStaging
from contracts.chunking import join_model, model_digest
from contracts.datamodel import DataModel
from shared.store import stored_originators

A = TypeVar("A", bound=Aggregate)
_CONNECTION_NAMESPACE = uuid5(NAMESPACE_URL, "omni-channel-connections:connection")
_RETRIES = 8

Work = Callable[[], tuple[list[Aggregate], CommandResult]]


class Connections(Application[UUID]):
    """Create, edit, synchronize, disable, enable and delete connections; record what workers report."""

    name = "connections"
    # Every create loads its tenant: snapshots keep a load from the store (a cold cache) flat however many
    # connections the tenant has. They are taken by :meth:`save` from the aggregate just saved, not by the
    # library (its ``snapshotting_intervals``), which reads back and replays every event since the last one.
    is_snapshotting_enabled = True
    snapshot_every: ClassVar[dict[type[Aggregate], int]] = {Tenant: 500}

    def __init__(
        self, catalog: DriverCatalog, vault: CredentialVault, env: dict[str, str] | None = None,
        staging: ModelStaging | None = None,
    ) -> None:
        super().__init__(env=env)
        self.catalog = catalog
        self.vault = vault
        self.staging = staging or InMemoryModelStaging()
        self._local = threading.local()  # the batch a thread is staging, if any

    def construct_repository(self) -> SnapshotAwareRepository:
        """The library's repository, except that a cached tenant behind a newer snapshot is loaded from it."""
        return SnapshotAwareRepository.like(super().construct_repository(), tuple(self.snapshot_every))

    def save(self, *objs: Aggregate, **kwargs: Any) -> list[Recording[UUID]]:
        """The library's save of these aggregates' pending events (recorded, snapshots, notified); then a
        snapshot of each aggregate whose events just passed a multiple of its ``snapshot_every``, taken from the
        aggregate in memory: its state is that of the events just stored.

        The library's own ``save`` accepts aggregates and bare events alike and tells them apart with two
        ``isinstance`` checks against runtime protocols per object, which Python 3.11 answers by walking each
        protocol's attributes: 13 us of a create's CPU. Only aggregates come here, so their events are
        collected directly; the rest is the library's.
        """
        processing: ProcessingEvent[UUID] = ProcessingEvent()
        for aggregate in objs:
            processing.events.extend(aggregate.collect_events())
            processing.aggregates[aggregate.id] = aggregate
        processing.saved_kwargs.update(kwargs)
        recordings = self._record(processing)
        self._take_snapshots(processing)
        self._notify(recordings)
        self.notify(processing.events)  # the library's deprecated hook, called as its save does
        watched = {o.id: o for o in objs if type(o) in self.snapshot_every}
        if watched:
            stored = collections.Counter(r.domain_event.originator_id for r in recordings
                                         if r.domain_event.originator_id in watched)
            snapshots = [type(a).Snapshot.take(a) for i, a in watched.items()
                         if stored[i] and a.version // self.snapshot_every[type(a)]
                         > (a.version - stored[i]) // self.snapshot_every[type(a)]]
            if snapshots:
                assert self.snapshots is not None
                self.snapshots.put(snapshots)
        return recordings

    def execute_batch(self, commands: list[tuple[cmd.Message, UUID, Meta]]) -> list[CommandResult]:
        """Run several commands and store all their events in one transaction.

        Each command still sees the effects of the ones before it, is refused on its own, and is recorded
        once per command id. If the transaction conflicts with another writer, the commands run again one
        by one, so the outcome is always that of some serial order.
        """
        batch = _Batch(lambda aggregate_id, version: self.repository.get(aggregate_id, version=version))
        batch.absent = self._absent(commands)
        keys = getattr(self.vault, "batch", None)  # the SQL vault stores a batch's new keys together
        self._local.batch = batch
        try:
            with keys(batch.absent) if keys is not None else nullcontext():
                results = [self.execute(command, command_id, meta) for command, command_id, meta in commands]
        except IntegrityError:
            conflicted = True  # run again one by one below, once this thread is no longer in the batch
        else:
            conflicted = False
        finally:
            self._local.batch = None
        if conflicted:
            return [self.execute(command, command_id, meta) for command, command_id, meta in commands]
        pending = batch.pending()
        if not pending:
            return results
        try:
            recordings = self.save(*pending)
        except IntegrityError:
            return [self.execute(command, command_id, meta) for command, command_id, meta in commands]
        self._after_save(pending)
        self._cache_saved(batch.loaded(pending))
        position = recordings[-1].notification.id
        return [r.model_copy(update={"position": position}) if i in batch.staged else r
                for i, r in enumerate(results)]

    def execute(self, command: cmd.Message, command_id: UUID, meta: Meta) -> CommandResult:
        """Run any command: the single entrance both HTTP and the bus use."""
        handlers: dict[type[cmd.Message], Callable[[Any, UUID, Meta], CommandResult]] = {
            cmd.CreateConnection: self.create_connection,
            cmd.EditConnection: self.edit_connection,
            cmd.RequestSync: self.request_sync,
            cmd.DisableConnections: self.disable_connections,
            cmd.EnableConnections: self.enable_connections,
            cmd.DeleteConnections: self.delete_connections,
            cmd.InstallDriver: self.install_driver,
            cmd.UninstallDriver: self.uninstall_driver,
        }
        return handlers[type(command)](command, command_id, meta)

    # ----- commands --------------------------------------------------------------------------------------

    def install_driver(self, command: cmd.InstallDriver, command_id: UUID, meta: Meta) -> CommandResult:
        """Make a driver available to the tenant."""

        def work() -> tuple[list[Aggregate], CommandResult]:
            version = self.catalog.version(command.driver)
            tenant = self._tenant(meta.tenant_id, meta)
            done = tenant.install(command.driver, version, meta.as_dict())
            return [tenant], _single(command_id, command, Outcome.DONE if done else Outcome.ALREADY, driver=command.driver)

        return self._once(command_id, command, meta, work)

    def uninstall_driver(self, command: cmd.UninstallDriver, command_id: UUID, meta: Meta) -> CommandResult:
        """Remove a driver; refused while connections of that driver exist."""

        def work() -> tuple[list[Aggregate], CommandResult]:
            tenant = self._tenant(meta.tenant_id, meta)
            done = tenant.uninstall(command.driver, meta.as_dict())
            return [tenant] if done else [], _single(command_id, command, Outcome.DONE if done else Outcome.ALREADY, driver=command.driver)

        return self._once(command_id, command, meta, work)

    def create_connection(self, command: cmd.CreateConnection, command_id: UUID, meta: Meta) -> CommandResult:
        """Store the connection Active and start "Checking credentials..."."""

        def work() -> tuple[list[Aggregate], CommandResult]:
            self.catalog.version(command.driver)  # an unknown driver is bad input, not one to install
            tenant = self._tenant(meta.tenant_id, meta)
            tenant.require_installed(command.driver)
            connection_id = command.connection_id or _new_connection_id(meta.tenant_id, command_id)
            existing = self._find(Aggregate, connection_id)
            if isinstance(existing, Connection) and existing.tenant_id == meta.tenant_id and not existing.is_deleted:
                raise ConnectionsError(f"connection {connection_id} already exists", "connection_exists")
            if existing is not None:
                # Another tenant's connection, a deleted one, or the id of something else: one answer for all
                # of them. It says the id is taken, never by what or by whom (not "another tenant's").
                raise ConnectionsError(f"connection id {connection_id} cannot be used: leave connection_id out "
                                       "or choose another random UUID", "connection_id_unavailable")
            plaintext = self.catalog.validate_credentials(command.driver, command.credentials)
            settings = self.catalog.validate_settings(command.driver, command.settings)
            connection = Connection(
                id=connection_id,
                tenant_id=meta.tenant_id,
                name=command.name,
                driver=command.driver,
                credentials=self.vault.seal(connection_id, plaintext),
                credentials_fingerprint=self.vault.fingerprint(connection_id, plaintext),
                settings=settings,
                meta=meta.as_dict(),
            )
            tenant.add_connection(command.driver, connection_id, meta.as_dict())
            job_id = connection.request_credential_check(_new_job_id(), meta)
            item = ItemOutcome(connection_id=connection_id, outcome=Outcome.DONE, job_id=UUID(job_id))
            return [connection, tenant], _result(command_id, command, [item])

        return self._once(command_id, command, meta, work)

    def edit_connection(self, command: cmd.EditConnection, command_id: UUID, meta: Meta) -> CommandResult:
        """Change name, credentials or settings; changed credentials are checked again; then a sync runs."""

        def work() -> tuple[list[Aggregate], CommandResult]:
            connection = self._connection(command.connection_id, meta)
            sealed = fingerprint = None
            if command.credentials is not None:
                stored = self.vault.open(connection.id, connection.credentials)
                merged = self.catalog.merge_credentials(connection.driver, stored, command.credentials)
                plaintext = self.catalog.validate_credentials(connection.driver, merged)
                fingerprint = self.vault.fingerprint(connection.id, plaintext)
                if fingerprint != connection.credentials_fingerprint:
                    sealed = self.vault.seal(connection.id, plaintext)
                else:
                    fingerprint = None
            settings = None
            if command.settings is not None:  # partial too: settings left out keep their value
                settings = self.catalog.validate_settings(connection.driver, {**connection.settings, **command.settings})
            changed = connection.edit(
                name=command.name, driver=command.driver, credentials=sealed,
                credentials_fingerprint=fingerprint, settings=settings, meta=meta,
            )
            if not changed:
                return [], _result(command_id, command, [_item(connection.id, Outcome.ALREADY)])
            job_id = self._after_edit(connection, changed, meta)
            return [connection], _result(command_id, command, [_item(connection.id, Outcome.DONE, job_id)])

        return self._once(command_id, command, meta, work)

    def request_sync(self, command: cmd.RequestSync, command_id: UUID, meta: Meta) -> CommandResult:
        """Synchronize each connection; a sync already requested or running is named, not duplicated."""

        def act(connection: Connection) -> ItemOutcome:
            job_id, created = connection.request_sync(_new_job_id(), meta)
            return _item(connection.id, Outcome.DONE if created else Outcome.ALREADY, job_id)

        return self._for_each(command_id, command, command.connection_ids, meta, act)

    def disable_connections(self, command: cmd.DisableConnections, command_id: UUID, meta: Meta) -> CommandResult:
        """Deactivate each connection; its pending and running jobs are cancelled."""
        return self._for_each(
            command_id, command, command.connection_ids, meta,
            lambda c: _item(c.id, Outcome.DONE if c.disable(meta) else Outcome.ALREADY),
        )

    def enable_connections(self, command: cmd.EnableConnections, command_id: UUID, meta: Meta) -> CommandResult:
        """Activate each connection again."""
        def act(connection: Connection) -> ItemOutcome:
            if not connection.enable(meta):
                return _item(connection.id, Outcome.ALREADY)
            return _item(connection.id, Outcome.DONE, self._check_again_if_cancelled(connection, meta))

        return self._for_each(command_id, command, command.connection_ids, meta, act)

    def delete_connections(self, command: cmd.DeleteConnections, command_id: UUID, meta: Meta) -> CommandResult:
        """Start (or resume) the deletion of each inactive connection."""
        extra: list[Aggregate] = []

        def act(connection: Connection) -> ItemOutcome:
            started = connection.start_deletion(meta)
            touched = self._advance_deletion(connection, meta, extra)
            extra.extend(a for a in touched if all(a is not b for b in extra))
            return _item(connection.id, Outcome.DONE if started else Outcome.ALREADY)

        return self._for_each(command_id, command, command.connection_ids, meta, act, extra)

    # ----- queries of the write model ----------------------------------------------------------------------

    def installed_drivers(self, tenant_id: str) -> dict[str, str]:
        """The drivers installed for the tenant (id -> version): the ones its users may choose from."""
        tenant = self._find(Tenant, Tenant.id_for(tenant_id))
        return dict(tenant.drivers) if tenant is not None else {}

    def deleted_connections(self, page: int = 1000) -> Iterator[UUID]:
        """Every connection whose deletion completed, in store order (their data keys must be gone)."""
        start = 1
        while True:
            found = self.recorder.select_notifications(start, page, topics=["Connection.Deleted.v1"])
            yield from (n.originator_id for n in found)  # type: ignore[misc]
            if len(found) < page:
                return
            start = found[-1].id + 1

    # ----- reports from driver workers ---------------------------------------------------------------------

    def record_report(self, report: reports.JobReport, meta: Meta) -> bool:
        """Apply one worker report. Repeated, late and unknown reports change nothing (returns False)."""
        for _ in range(_RETRIES):
            connection = self._find(Connection, report.connection_id)
            if connection is None:
                return False
            meta = replace(meta, tenant_id=connection.tenant_id)
            changed = self._apply_report(connection, report, meta)
            if not changed:
                return False
            try:
                self.save(*changed)
            except IntegrityError:
                continue
            self._after_save(changed)
            if isinstance(report, reports.JobSucceeded | reports.JobFailed):
                self.staging.forget(str(report.job_id), report.attempt)
            return True
        raise Conflict(f"connection {report.connection_id} kept changing; report {report.job_id} not applied")

    def time_out_job(self, connection_id: UUID, job_id: UUID, attempt: int, meta: Meta) -> bool:
        """The watchdog's verdict on an attempt of a job that stopped reporting."""
        return self.record_report(
            reports.JobFailed(job_id=job_id, connection_id=connection_id, attempt=attempt, error_type="timed_out",
                              retryable=True, message=meta.reason or "no report in time"),
            meta,
        )

    def _apply_report(self, connection: Connection, report: reports.JobReport, meta: Meta) -> list[Aggregate]:
        job_id = str(report.job_id)
        if not connection.is_current_attempt(job_id, report.attempt):
            return []  # a late report of a job that ended, was cancelled or is being tried again
        extra: list[Aggregate] = []
        if isinstance(report, reports.ModelChunk):
            part = DataModel(attributes=tuple(report.attributes), attribute_sets=tuple(report.attribute_sets))
            self.staging.put(job_id, report.attempt, report.index, part)
        elif isinstance(report, reports.JobSucceeded) and report.model_chunks:
            problem = self._reassemble(job_id, report)
            if isinstance(problem, str):
                connection.record_failed(job_id, "model_incomplete", True, problem, meta)
            else:
                job = connection.record_succeeded(job_id, meta)
                if job is not None:
                    extra = self._after_success(connection, job, problem, meta)
        elif isinstance(report, reports.JobStarted):
            connection.record_started(job_id, report.worker, meta)
        elif isinstance(report, reports.JobProgressed):
            connection.record_progress(job_id, report.done, report.total, datetime.now(UTC), meta)
        elif isinstance(report, reports.JobFailed) and report.error_type == "timed_out":
            connection.time_out(job_id, meta.because(report.message))
        elif isinstance(report, reports.JobFailed):
            connection.record_failed(job_id, report.error_type, report.retryable, report.message, meta)
        elif isinstance(report, reports.JobSucceeded):
            job = connection.record_succeeded(job_id, meta)
            if job is not None:
                extra = self._after_success(connection, job, report, meta)
        return [connection, *extra] if connection.pending_events or extra else []

    def _reassemble(self, job_id: str, report: reports.JobSucceeded) -> reports.JobSucceeded | str:
        """The report with its chunked model put back together, or why that failed (the sync is retried)."""
        assert report.model_chunks is not None
        parts = self.staging.parts(job_id, report.attempt, report.model_chunks)
        if parts is None:
            return f"the data model's {report.model_chunks} chunks did not all arrive"
        model = join_model(parts)
        if model_digest(model) != report.model_sha256:
            return "the reassembled data model does not match its SHA-256"
        return report.model_copy(update={"data_model": model})

    def _after_success(
        self, connection: Connection, job: Job, report: reports.JobSucceeded, meta: Meta
    ) -> list[Aggregate]:
        if job.kind is JobKind.CHECK_CREDENTIALS and connection.status is Status.ACTIVE:
            connection.request_sync(_new_job_id(), meta.because("credentials verified: initial sync"))
        elif job.kind is JobKind.SYNC and report.data_model is not None:
            mirror = self._mirror(connection)
            model = report.data_model.model_dump(mode="json")
            mirror.record_sync(job.job_id, model["attributes"], model["attribute_sets"], meta.as_dict())
            return [mirror]
        elif job.kind is JobKind.CLEAN_UP:
            connection.complete_deletion_step("clean_up_marketplace", meta)
            return self._advance_deletion(connection, meta)
        return []

    # ----- deletion ----------------------------------------------------------------------------------------

    def _advance_deletion(
        self, connection: Connection, meta: Meta, loaded: list[Aggregate] | None = None
    ) -> list[Aggregate]:
        """Run the deletion steps that need no worker; stop at the clean-up job, which reports back.

        ``loaded`` are aggregates this command already changed: the tenant is reused from there, because two
        copies of it changed in one save would conflict with each other (deleting several connections).
        """
        touched: list[Aggregate] = []
        while (step := connection.next_deletion_step) is not None:
            if step == "cancel_jobs":
                connection.complete_deletion_step(step, meta)
            elif step == "clean_up_marketplace":
                if self.catalog.needs_cleanup(connection.driver) and connection.established:
                    if connection.running_job(JobKind.CLEAN_UP) is None:
                        connection.request_clean_up(_new_job_id(), meta)
                    return touched
                connection.complete_deletion_step(step, meta)
            elif step == "remove_data_model":
                mirror = self._find(DataModelMirror, DataModelMirror.id_for(connection.id))
                if mirror is not None and mirror.clear(meta.as_dict()):
                    touched.append(mirror)
                tenant = next((a for a in loaded or [] if isinstance(a, Tenant)), None)
                if tenant is None:
                    tenant = self._tenant(connection.tenant_id, meta)
                tenant.remove_connection(connection.driver, connection.id, meta.as_dict())
                touched.append(tenant)
                connection.complete_deletion_step(step, meta)
        return touched

    # ----- helpers -----------------------------------------------------------------------------------------

    def _after_edit(self, connection: Connection, changed: list[str], meta: Meta) -> str | None:
        if "credentials" in changed:
            return connection.request_credential_check(_new_job_id(), meta.because("credentials changed"))
        if connection.status is Status.ACTIVE and connection.established:
            job_id, _ = connection.request_sync(_new_job_id(), meta.because("connection edited"))
            return job_id
        return None

    def _check_again_if_cancelled(self, connection: Connection, meta: Meta) -> str | None:
        """A credential check cancelled by disabling is requested again; else the connection would wait forever."""
        if connection.credential_state is CredentialState.CHECKING and (
            connection.running_job(JobKind.CHECK_CREDENTIALS) is None
        ):
            return connection.request_credential_check(_new_job_id(), meta.because("connection enabled: check again"))
        return None

    def _cache_saved(self, aggregates: Iterable[Aggregate]) -> None:
        """Put aggregates just saved back in the library's aggregate cache, at the version they were saved.

        With fast-forwarding on, the library leaves the cached copy at the version it was read, so the next
        batch would read back and replay every event this one stored for them (200 for a tenant that got 200
        connections). Fast-forwarding still brings in what other writers store later.
        """
        cache = self.repository.cache
        if cache is not None and self.repository.fastforward:
            for aggregate in aggregates:
                cache.put(aggregate.id, aggregate)

    def _after_save(self, aggregates: Iterable[Aggregate]) -> None:
        for aggregate in aggregates:
            if isinstance(aggregate, Connection) and aggregate.is_deleted:
                self.vault.shred(aggregate.id)

    def _for_each(
        self,
        command_id: UUID,
        command: cmd.Message,
        connection_ids: list[UUID],
        meta: Meta,
        act: Callable[[Connection], ItemOutcome],
        extra: list[Aggregate] | None = None,
    ) -> CommandResult:
        def work() -> tuple[list[Aggregate], CommandResult]:
            if extra is not None:
                extra.clear()
            touched: list[Aggregate] = []
            items: list[ItemOutcome] = []
            for connection_id in dict.fromkeys(connection_ids):
                try:
                    connection = self._connection(connection_id, meta)
                    items.append(act(connection))
                    touched.append(connection)
                except ConnectionsError as refusal:
                    items.append(_refused(connection_id, refusal))
            return [*touched, *(extra or [])], _result(command_id, command, items)

        return self._once(command_id, command, meta, work)

    def _once(self, command_id: UUID, command: cmd.Message, meta: Meta, work: Work) -> CommandResult:
        batch: _Batch | None = getattr(self._local, "batch", None)
        if batch is not None:
            return self._stage(batch, command_id, command, meta, work)
        record_id = ProcessedCommand.id_for(meta.tenant_id, command_id)
        for _ in range(_RETRIES):
            previous = self._find(ProcessedCommand, record_id)
            if previous is not None:
                return CommandResult.model_validate(previous.outcome)
            try:
                aggregates, result = work()
            except ConnectionsError as refusal:
                aggregates, result = [], _rejected(command_id, command, refusal)
            changed = [a for a in aggregates if a.pending_events]
            if not result.accepted or not changed:
                # The same command id may have been saved since we looked; what it changed then looks like a
                # refusal ("connection_exists") or "already" now. Answer its first outcome instead.
                if self._find(ProcessedCommand, record_id) is not None:
                    continue
                return result
            record = ProcessedCommand(
                id=record_id, command_id=str(command_id), command_type=command.message_type,
                outcome=result.model_dump(mode="json"), meta=meta.as_dict(),
            )
            try:
                recordings = self.save(*changed, record)
            except IntegrityError:
                continue  # another command changed one of these aggregates first (or this one ran): go again
            self._after_save(changed)
            return result.model_copy(update={"position": recordings[-1].notification.id})
        return _rejected(command_id, command, Conflict("too many concurrent changes; retry the command"))

    def _stage(self, batch: _Batch, command_id: UUID, command: cmd.Message, meta: Meta, work: Work) -> CommandResult:
        """Run one command of a batch against the batch's aggregates; undo its changes if it is refused."""
        batch.begin()
        record_id = ProcessedCommand.id_for(meta.tenant_id, command_id)
        previous = self._find(ProcessedCommand, record_id)
        if previous is not None:
            return CommandResult.model_validate(previous.outcome)
        try:
            aggregates, result = work()
        except ConnectionsError as refusal:
            batch.rollback()
            return _rejected(command_id, command, refusal)
        changed = [a for a in aggregates if batch.changed(a)]
        if not result.accepted or not changed:
            batch.rollback()
            return result
        # What the command changed but does not store (an item it refused halfway) is undone, as a command
        # run alone would never store it.
        batch.rollback(keep=aggregates)
        record = ProcessedCommand(
            id=record_id, command_id=str(command_id), command_type=command.message_type,
            outcome=result.model_dump(mode="json"), meta=meta.as_dict(),
        )
        batch.commit([*aggregates, record])
        return result

    def _connection(self, connection_id: UUID, meta: Meta) -> Connection:
        connection = self._find(Connection, connection_id)
        if connection is None or connection.tenant_id != meta.tenant_id or connection.is_deleted:
            raise NotFound(f"connection {connection_id} not found")
        return connection

    def _tenant(self, tenant_id: str, meta: Meta) -> Tenant:
        """The tenant; a new one (saved only with its first change) when it has no history yet."""
        tenant = self._find(Tenant, Tenant.id_for(tenant_id))
        if tenant is None:
            tenant = Tenant(id=Tenant.id_for(tenant_id), tenant_id=tenant_id, meta=meta.as_dict())
        return tenant

    def _mirror(self, connection: Connection) -> DataModelMirror:
        mirror = self._find(DataModelMirror, DataModelMirror.id_for(connection.id))
        if mirror is None:
            mirror = DataModelMirror(
                id=DataModelMirror.id_for(connection.id), connection_id=str(connection.id),
                tenant_id=connection.tenant_id,
            )
        return mirror

    def _absent(self, commands: list[tuple[cmd.Message, UUID, Meta]]) -> set[UUID]:
        """The command records and new connections of a batch that have no events yet, in one query.

        Each would otherwise be a lookup of its own that finds nothing (two round trips with snapshots on).
        If another writer stores one of them before the batch is saved, the save conflicts and the commands
        run again one by one.
        """
        ids = [ProcessedCommand.id_for(meta.tenant_id, command_id) for _, command_id, meta in commands]
        ids += [command.connection_id or _new_connection_id(meta.tenant_id, command_id)
                for command, command_id, meta in commands if isinstance(command, cmd.CreateConnection)]
        stored = stored_originators(self.recorder, ids)
        return set() if stored is None else set(ids) - stored

    def _find(self, kind: type[A], aggregate_id: UUID) -> A | None:
        batch: _Batch | None = getattr(self._local, "batch", None)
        if batch is not None and batch.has(aggregate_id):
            aggregate = batch.get(aggregate_id)
        elif batch is not None and aggregate_id in batch.absent:
            return None
        else:
            try:
                aggregate = self.repository.get(aggregate_id)
            except AggregateNotFoundError:
                return None
            if batch is not None:
                batch.load(aggregate)
        return aggregate if isinstance(aggregate, kind) else None


class _Batch:
    """Aggregates shared by the commands of one batch, with what it takes to undo the command being run.

    Nothing is copied while commands run: an aggregate's state changes only by its events, so a refused
    command is undone by rebuilding each aggregate it gave new events to from the events before it (on the
    version loaded from the store, read again, or from nothing for an aggregate created in the batch).
    Copying each aggregate at every command's first touch instead cost a deep copy of the tenant per create.
    """

    def __init__(self, reload: Callable[[UUID, int], Aggregate]) -> None:
        self._reload = reload  # (aggregate id, version) -> the aggregate as stored at that version
        self._aggregates: dict[UUID, Aggregate] = {}
        self._loaded: dict[UUID, int] = {}  # aggregates read from the store -> the version read
        self._pending_at_begin: dict[UUID, int] = {}  # touched by the current command -> pending events then
        self._command = -1
        self._saving_order: dict[UUID, None] = {}  # aggregates in the order the commands changed them
        self.staged: set[int] = set()  # indexes of the commands whose changes are in the batch
        self.absent: set[UUID] = set()  # ids known to have no stored events when the batch began

    def has(self, aggregate_id: UUID) -> bool:
        return aggregate_id in self._aggregates

    def get(self, aggregate_id: UUID) -> Aggregate:
        aggregate = self._aggregates[aggregate_id]
        self._pending_at_begin.setdefault(aggregate_id, len(aggregate.pending_events))
        return aggregate

    def load(self, aggregate: Aggregate) -> None:
        self._aggregates[aggregate.id] = aggregate
        self._loaded[aggregate.id] = aggregate.version
        self._pending_at_begin[aggregate.id] = 0

    def loaded(self, aggregates: Iterable[Aggregate]) -> list[Aggregate]:
        """Those of ``aggregates`` that were read from the store (not created) in this batch."""
        return [a for a in aggregates if a.id in self._loaded]

    def begin(self) -> None:
        """The next command of the batch starts."""
        self._command += 1
        self._pending_at_begin = {}

    def changed(self, aggregate: Aggregate) -> bool:
        return len(aggregate.pending_events) > self._pending_at_begin.get(aggregate.id, 0)

    def rollback(self, keep: Iterable[Aggregate] = ()) -> None:
        """Undo the current command's changes, except to the aggregates in ``keep``."""
        kept = {a.id for a in keep}
        for aggregate_id, count in self._pending_at_begin.items():
            aggregate = self._aggregates[aggregate_id]
            if aggregate_id not in kept and len(aggregate.pending_events) > count:
                self._aggregates[aggregate_id] = self._rebuilt(aggregate_id, aggregate.pending_events[:count])

    def _rebuilt(self, aggregate_id: UUID, kept: list[Any]) -> Aggregate:
        version = self._loaded.get(aggregate_id)
        aggregate = self._reload(aggregate_id, version) if version is not None else None
        for event in kept:
            aggregate = event.mutate(aggregate)
        assert aggregate is not None
        aggregate._pending_events = list(kept)  # noqa: SLF001 - the library's own attribute for them
        return aggregate

    def commit(self, aggregates: list[Aggregate]) -> None:
        for aggregate in aggregates:
            self._aggregates[aggregate.id] = aggregate
            self._saving_order.setdefault(aggregate.id)
        self.staged.add(self._command)

    def pending(self) -> list[Aggregate]:
        """Changed aggregates, in the order a command-by-command run would have stored them."""
        return [self._aggregates[i] for i in self._saving_order if self._aggregates[i].pending_events]


@functools.lru_cache(maxsize=4096)  # a batch asks twice per create: which connections are new, then each one's id
def _new_connection_id(tenant_id: str, command_id: UUID) -> UUID:
    """A created connection's id when the command names none: the same for the same command, so a repeat
    finds the connection the first run created."""
    return uuid5(_CONNECTION_NAMESPACE, f"{tenant_id}/{command_id}")


def _new_job_id() -> str:
    return str(uuid4())


def _item(connection_id: UUID, outcome: Outcome, job_id: str | None = None) -> ItemOutcome:
    return ItemOutcome(connection_id=connection_id, outcome=outcome, job_id=UUID(job_id) if job_id else None)


def _refused(connection_id: UUID, refusal: ConnectionsError) -> ItemOutcome:
    outcome = Outcome.NOT_FOUND if isinstance(refusal, NotFound) else Outcome.REFUSED
    return ItemOutcome(connection_id=connection_id, outcome=outcome, reason_code=refusal.reason_code,
                       message=refusal.message)


def _result(command_id: UUID, command: cmd.Message, items: list[ItemOutcome]) -> CommandResult:
    accepted = any(i.outcome in (Outcome.DONE, Outcome.ALREADY) for i in items)
    first_refusal = next((i for i in items if i.outcome not in (Outcome.DONE, Outcome.ALREADY)), None)
    return CommandResult(
        command_id=command_id, command_type=command.message_type, accepted=accepted, items=items,
        reason_code=None if accepted or first_refusal is None else first_refusal.reason_code,
        message=None if accepted or first_refusal is None else first_refusal.message,
    )


def _single(command_id: UUID, command: cmd.Message, outcome: Outcome, *, driver: str) -> CommandResult:
    return _result(command_id, command, [ItemOutcome(driver=driver, outcome=outcome)])


def _rejected(command_id: UUID, command: cmd.Message, refusal: ConnectionsError) -> CommandResult:
    return CommandResult(
        command_id=command_id, command_type=command.message_type, accepted=False,
        reason_code=refusal.reason_code, message=refusal.message,
    )
