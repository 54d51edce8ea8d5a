"""The audit application: one method per tool, each reading the event store and handing the rules to the domain.

The store is only read here (the integrity chain is written by :mod:`services.audit.integrity`). Every scan goes
through the library's ``select_notifications`` in position order and reports its progress.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, BinaryIO
from uuid import UUID

from eventsourcing.persistence import Notification

from contracts import topics
from contracts.jobs import DriverJob
from services.audit.domain import chain, exports
from services.audit.domain.diffs import Difference, diff
from services.audit.domain.history import Entry, Filters, Timeline, tenant_of
from services.audit.domain.records import Finding, StoredRecord
from services.audit.domain.secrets import sanitized
from services.audit.domain.state import connection_document, cut, fold, iso
from services.audit.domain.summaries import SecretsOf
from services.audit.domain.versions import VersionCheck
from services.audit.ports import (
    ChainStore, KeyRegistry, Progress, Publisher, RebuildReport, SignatureChecker, Signer, ViewRebuild,
)
from services.connections.domain.mirror import DataModelMirror
from services.connections.translation import outgoing
from services.projections.application import EventStoreReader

BATCH = 2_000  # notifications per read: large enough to amortise a round trip, small enough to show progress
_OWN_FIELDS = frozenset({"originator_id", "originator_version", "timestamp", "originator_topic", "meta"})


class AuditError(Exception):
    """What the user asked for cannot be answered as asked (unknown connection, a moment before it existed)."""


@dataclass(frozen=True)
class Moment:
    """A point in a connection's life: an event time, a version, or (neither) now."""

    at: datetime | None = None
    version: int | None = None

    def describe(self) -> str:
        if self.version is not None:
            return f"version {self.version}"
        return f"time {iso(self.at)}" if self.at is not None else "now"


@dataclass
class VerifyReport:
    """Everything ``verify`` checked and found."""

    store_head: int
    chain_head: int
    records: int = 0
    aggregates: int = 0
    sealed: int = 0
    unsealed: int = 0
    first_unsealed: int | None = None
    findings: list[Finding] = field(default_factory=list)

    @property
    def first_bad_position(self) -> int | None:
        return min((f.position for f in self.findings if f.position is not None), default=None)


@dataclass(frozen=True)
class ExportSummary:
    events: int
    sha256: str
    signed_by: str | None


@dataclass(frozen=True)
class RepublishReport:
    events: int
    messages: int
    first: int | None
    last: int | None


class Audit:
    """History, time travel, verification, export, rebuild and republish over one connections store."""

    def __init__(self, store: EventStoreReader, chain_store: ChainStore, keys: KeyRegistry, secrets_of: SecretsOf,
                 views: Mapping[str, ViewRebuild]) -> None:
        self.store = store
        self.chain = chain_store
        self.keys = keys
        self.secrets_of = secrets_of
        self.views = views
        self._erased: dict[str, bool] = {}
        self._drivers: dict[UUID, str] = {}

    # ----- history ---------------------------------------------------------------------------------------

    def history(self, progress: Progress, filters: Filters, *, connection_id: UUID | None = None,
                tenant: str | None = None) -> Iterator[Entry]:
        """A connection's events (its own and its data model's) or a tenant's, in order, filtered."""
        timeline = Timeline(self.secrets_of)
        for notification, event in self._subject_events(progress, connection_id, tenant):
            entry = timeline.entry(notification.id, notification.topic, event)
            if filters.admits(notification.topic, event.timestamp, entry.actor):
                yield entry

    def _subject_events(self, progress: Progress, connection_id: UUID | None,
                        tenant: str | None) -> Iterator[tuple[Notification, Any]]:
        if connection_id is not None:
            wanted = {connection_id, DataModelMirror.id_for(connection_id)}
            for notification in self._notifications(progress, "history"):
                if notification.originator_id in wanted:
                    yield notification, self._decode(notification)
            return
        mapper = self.store.mapper
        # Compressed or encrypted states hide the id: then every event is decoded.
        marker = _literal(tenant) if mapper.cipher is None and mapper.compressor is None else b""
        for notification in self._notifications(progress, "history"):
            if marker and marker not in notification.state:
                continue
            event = self._decode(notification)
            if tenant_of(event) == tenant:
                yield notification, event

    # ----- time travel -----------------------------------------------------------------------------------

    def state(self, connection_id: UUID, moment: Moment) -> dict[str, Any]:
        """A connection's full state at a moment; credentials only as "(sealed)" or "(erased)"."""
        events = self._aggregate_events(connection_id)
        if not events or not events[0].__class__.__qualname__.startswith("Connection."):
            raise AuditError(f"no connection {connection_id} in this store")
        chosen = cut(events, at=moment.at, version=moment.version)
        if not chosen:
            raise AuditError(f"connection {connection_id} did not exist yet at {moment.describe()} "
                             f"(created {iso(events[0].timestamp)})")
        if moment.version is not None and moment.version > events[-1].originator_version:
            raise AuditError(f"connection {connection_id} has only {events[-1].originator_version} versions")
        connection: Any = fold(chosen)
        as_of = moment.at if moment.at is not None else connection.modified_on
        mirror = fold(cut(self._aggregate_events(DataModelMirror.id_for(connection_id)), at=as_of))
        return connection_document(connection, mirror, erased=self._is_erased(str(connection_id)),
                                   secrets=self.secrets_of(connection.driver))

    def diff(self, connection_id: UUID, before: Moment, after: Moment
             ) -> tuple[dict[str, Any], dict[str, Any], list[Difference]]:
        """The connection at two moments and what changed between them."""
        old, new = self.state(connection_id, before), self.state(connection_id, after)
        return old, new, diff(old, new)

    # ----- verify ----------------------------------------------------------------------------------------

    def verify(self, progress: Progress, anchor: tuple[int, str] | None = None) -> VerifyReport:
        """Versions contiguous, every event decodable, the store equal to its integrity chain."""
        sealed_head = self.chain.head()
        chain_head = sealed_head.position if sealed_head else 0
        store_head = self.head()
        report = VerifyReport(store_head=store_head, chain_head=chain_head)
        versions = VersionCheck()

        def records() -> Iterator[StoredRecord]:
            for notification in self._notifications(progress, "verify", stop=max(store_head, chain_head)):
                report.records += 1
                record = _record(notification)
                found = versions.see(record.position, record.originator_id, record.version)
                if found is not None:
                    report.findings.append(found)
                undecodable = self._decode_check(notification, record)
                if undecodable is not None:
                    report.findings.append(undecodable)
                yield record

        checked = chain.check(records(), self._links(chain_head), chain_head)
        report.findings += checked.findings
        report.findings += self._anchor_check(anchor)
        report.findings.sort(key=lambda f: (f.position is None, f.position or 0))
        report.aggregates = versions.aggregates
        report.sealed, report.unsealed, report.first_unsealed = checked.sealed, checked.unsealed, checked.first_unsealed
        return report

    def _decode_check(self, notification: Notification, record: StoredRecord) -> Finding | None:
        try:
            self.store.mapper.to_domain_event(notification)
        except Exception as exc:  # noqa: BLE001 - any failure to decode is the finding itself
            return Finding("undecodable", f"position {record.position}: {record.topic} of {record.originator_id} "
                           f"v{record.version} does not decode with the current code ({type(exc).__name__})",
                           record.position, record.originator_id, record.version)
        return None

    def _links(self, up_to: int) -> Iterator[chain.Link]:
        after = 0
        while after < up_to:
            page = self.chain.links(after, BATCH)
            if not page:
                return
            yield from (sealed for sealed in page if sealed.position <= up_to)
            after = page[-1].position

    def _anchor_check(self, anchor: tuple[int, str] | None) -> list[Finding]:
        if anchor is None:
            return []
        position, expected = anchor
        sealed = self.chain.link_at(position)
        if sealed is not None and sealed.hash == expected.lower():
            return []
        actual = sealed.hash if sealed else "nothing"
        return [Finding("anchor", f"position {position}: the chain holds {actual} where the anchor kept outside "
                        f"says {expected}: the chain itself was rewritten", position)]

    # ----- export ----------------------------------------------------------------------------------------

    def export(self, out: BinaryIO, progress: Progress, tenant: str, filters: Filters,
               signer: Signer | None = None) -> ExportSummary:
        """A tenant's events in a period as JSON Lines, sealed by a trailer and optionally signed."""
        digest = exports.ExportDigest()
        sealed_head = self.chain.head()
        header = {
            "record": "header", "format": exports.FORMAT, "format_version": exports.FORMAT_VERSION,
            "tenant_id": tenant, "since": _iso_or_none(filters.since), "until": _iso_or_none(filters.until),
            "types": list(filters.types), "actors": list(filters.actors),
            "generated_at": iso(datetime.now(UTC)), "store_head": self.head(),
            "chain_head": None if sealed_head is None else {"position": sealed_head.position,
                                                             "hash": sealed_head.hash},
        }
        out.write(digest.add(exports.line(header), is_event=False))
        timeline = Timeline(self.secrets_of)
        for notification, event in self._subject_events(progress, None, tenant):
            entry = timeline.entry(notification.id, notification.topic, event)
            if not filters.admits(notification.topic, event.timestamp, entry.actor):
                continue
            subject = timeline.subject(entry.aggregate_id)
            data = self._auditable(notification.topic, event, subject.driver if subject else None)
            document = {"record": "event", **entry.as_dict(), "data": data}
            out.write(digest.add(exports.line(document), is_event=True))
        sha256 = digest.hexdigest()
        signature = None
        if signer is not None:
            value = signer.sign(exports.signed_message(sha256))
            signature = {"algorithm": signer.algorithm, "key_id": signer.key_id, "value": value.hex()}
        out.write(exports.line({"record": "trailer", "events": digest.events, "sha256": sha256,
                                "signature": signature}))
        return ExportSummary(digest.events, sha256, signer.key_id if signer else None)

    def _auditable(self, topic: str, event: Any, driver: str | None) -> dict[str, Any]:
        """The event's own fields, secrets replaced; ``driver`` is the connection's (for masking settings)."""
        fields = {k: v for k, v in vars(event).items() if k not in _OWN_FIELDS}
        connection = str(event.originator_id) if topic.startswith("Connection.") else None
        erased = connection is not None and self._is_erased(connection)
        return sanitized(fields, self.secrets_of(driver), erased)

    @staticmethod
    def verify_export(content: bytes, checker: SignatureChecker | None) -> tuple[exports.ParsedExport, list[str]]:
        """Re-check an export: its lines against its trailer, and its signature when a key is given."""
        parsed, problems = exports.parse(content)
        signature = parsed.signature
        if checker is None:
            return parsed, problems
        if signature is None:
            return parsed, [*problems, "the export is not signed"]
        if signature.get("key_id") != checker.key_id:
            problems.append(f"signed with key {signature.get('key_id')}, not with the given key {checker.key_id}")
        elif not checker.verify(str(signature.get("algorithm")), exports.signed_message(parsed.digest),
                                bytes.fromhex(str(signature.get("value", "")))):
            problems.append("the signature does not match: the export was altered or signed with another key")
        return parsed, problems

    # ----- rebuild ---------------------------------------------------------------------------------------

    def rebuild(self, view: str, progress: Progress, *, keep_shadow: bool = False) -> RebuildReport:
        """Rebuild ``view`` from the store beside the live one and compare them row by row."""
        return self._view(view).rebuild(progress, keep_shadow=keep_shadow)

    def replace(self, view: str) -> int:
        """Replace the live ``view`` by a fresh rebuild (after ``rebuild`` found it wrong)."""
        return self._view(view).replace()

    def _view(self, view: str) -> ViewRebuild:
        if view not in self.views:
            raise AuditError(f"unknown view {view!r}; views: {', '.join(sorted(self.views))}")
        return self.views[view]

    # ----- republish -------------------------------------------------------------------------------------

    async def republish(self, publisher: Publisher | None, progress: Progress, start: int,
                        stop: int | None = None) -> RepublishReport:
        """Send the integration events of positions ``start``..``stop`` again (``publisher`` None: count only).

        Only ``connections.events`` messages go out: driver jobs are work orders, and re-sending an old one
        would make a worker run it again at the marketplace.
        """
        stop = stop if stop is not None else await asyncio.to_thread(self.head)
        events = messages = 0
        first = last = None
        for batch in self._batches(progress, "republish", after=start - 1, stop=stop):
            out = await asyncio.to_thread(self._integration_events, batch)
            if publisher is not None and out:
                await publisher.publish(out)
            events, messages = events + len(batch), messages + len(out)
            first = first if first is not None else batch[0].id
            last = batch[-1].id
        return RepublishReport(events, messages, first, last)

    def _integration_events(self, batch: Sequence[Notification]) -> list[Any]:
        return [
            message
            for notification in batch
            for message in outgoing(notification.topic, self._decode(notification), notification.id, self._job_for)
            if message.topic == topics.EVENTS
        ]

    def _job_for(self, event: Any, _: int) -> DriverJob:
        """The job message ``outgoing`` builds alongside; republish drops it, so it carries no credentials."""
        connection_id = event.originator_id
        if connection_id not in self._drivers:
            self._drivers[connection_id] = self._aggregate_events(connection_id, up_to=1)[0].driver
        return DriverJob(job_id=UUID(event.job_id), connection_id=connection_id,
                         driver=self._drivers[connection_id], kind=event.kind, attempt=event.attempt)

    # ----- reading the store -----------------------------------------------------------------------------

    def head(self) -> int:
        return self.store.recorder.max_notification_id() or 0

    def _batches(self, progress: Progress, label: str, after: int = 0,
                 stop: int | None = None) -> Iterator[Sequence[Notification]]:
        """Notifications after ``after`` up to ``stop`` (default: the head now), a batch at a time."""
        stop = self.head() if stop is None else stop
        progress.start(label, max(0, stop - after))
        position = after
        while position < stop:
            batch = self.store.recorder.select_notifications(start=position + 1, limit=BATCH, stop=stop)
            if not batch:
                break
            yield batch
            progress.advance(batch[-1].id - position)  # positions, so gaps (rolled back ids) count as done
            position = batch[-1].id
        progress.finish()

    def _notifications(self, progress: Progress, label: str, after: int = 0,
                       stop: int | None = None) -> Iterator[Notification]:
        for batch in self._batches(progress, label, after, stop):
            yield from batch

    def _decode(self, notification: Notification) -> Any:
        return self.store.mapper.to_domain_event(notification)

    def _aggregate_events(self, aggregate_id: UUID, up_to: int | None = None) -> list[Any]:
        stored = self.store.recorder.select_events(aggregate_id, lte=up_to)
        return [self.store.mapper.to_domain_event(s) for s in stored]

    def _is_erased(self, connection_id: str) -> bool:
        if connection_id not in self._erased:
            self._erased[connection_id] = self.keys.is_erased(connection_id)
        return self._erased[connection_id]


def _record(notification: Notification) -> StoredRecord:
    return StoredRecord(notification.id, str(notification.originator_id), notification.originator_version,
                        notification.topic, bytes(notification.state))


def _literal(tenant: str | None) -> bytes:
    """The bytes a tenant id shows as in its events' JSON state, when it needs no escaping (else b"").

    Each of a tenant's events holds its id literally, so checking the bytes first spares decoding every other
    tenant's events; an id that JSON would escape is found by decoding and comparing instead.
    """
    if not tenant or not tenant.isascii() or not tenant.isprintable() or '"' in tenant or "\\" in tenant:
        return b""
    return tenant.encode()


def _iso_or_none(moment: datetime | None) -> str | None:
    return None if moment is None else iso(moment)


def records_of(batch: Sequence[Notification]) -> list[StoredRecord]:
    """Stored records as the chain seals them."""
    return [_record(n) for n in batch]
