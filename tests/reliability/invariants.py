"""The promises of ``DESIGN.md`` ("Delivery guarantees"), checked against what a scenario left behind.

After a scenario the stack is first let to settle (jobs end, the relay and every view reach the store's head),
then each invariant is checked from the outside, from the store, the topics, the views, the logs:

- commands: every accepted command has exactly its events (and one record of it), a refused one left none,
  an answer repeated for the same command id is the same answer, and every event has a known cause;
- events topic: every stored event's public messages reached ``connections.events.v1`` at least once, in
  order per key, exactly once after dropping repeated message ids; every requested job reached its job topic;
- views: every view equals a fresh rebuild from the store (digest of all rows at the same position);
- jobs: every job ended (succeeded, failed, cancelled, timed out); none is left running;
- secrets: the run's marker secret appears nowhere in the store, the views, the logs or any topic.

Nothing here trusts the processes under test: the checker reads their stores and topics itself.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

import services.connections.application  # noqa: F401 - registers every stored event name for decoding
from contracts import topics
from contracts.jobs import DriverJob
from services.connections.translation import outgoing
from services.projections.adapters import tables, view_state
from services.projections.application import EventStoreReader
from services.projections.rebuild import build
from services.projections.views import all_views
from shared.positions import read_position
from shared.sql import Database, open_database
from tests.reliability.harness import ReliabilityStack
from tests.reliability.load import LoadLog, Sent
from tests.security.scanning import find, scan_files, scan_postgres

_SHOWN = 8  # problems listed per invariant; the count says how many there were


@dataclass
class Invariant:
    """One promise and whether it held; ``problems`` are the evidence when it did not."""

    name: str
    problems: list[str] = field(default_factory=list)
    count: int = 0

    @property
    def held(self) -> bool:
        return self.count == 0

    def fail(self, problem: str) -> None:
        self.count += 1
        if len(self.problems) < _SHOWN:
            self.problems.append(problem)

    def as_dict(self) -> dict[str, Any]:
        return {"held": self.held, "violations": self.count, "evidence": self.problems}


@dataclass
class Verdict:
    """Every invariant of one scenario and the figures read on the way."""

    invariants: dict[str, Invariant]
    figures: dict[str, Any]

    @property
    def held(self) -> bool:
        return all(i.held for i in self.invariants.values())

    def as_dict(self) -> dict[str, Any]:
        return {"held": self.held, "invariants": {n: i.as_dict() for n, i in self.invariants.items()},
                "figures": self.figures}

    def explain(self) -> str:
        broken = [f"{n}: {i.count} violation(s): " + "; ".join(i.problems)
                  for n, i in self.invariants.items() if not i.held]
        return "\n".join(broken) or "all invariants held"


# ----- reading what the stack left behind --------------------------------------------------------------------


@dataclass
class Stored:
    """One stored event, decoded."""

    position: int
    topic: str
    originator_id: str
    event: Any

    @property
    def meta(self) -> dict[str, Any]:
        return getattr(self.event, "meta", None) or {}


def read_store(stack: ReliabilityStack) -> list[Stored]:
    reader = EventStoreReader(env=stack.settings().eventsourcing_env())
    try:
        found: list[Stored] = []
        start = 1
        while True:
            page = reader.recorder.select_notifications(start=start, limit=5000)
            found += [Stored(n.id, n.topic, str(n.originator_id), reader.mapper.to_domain_event(n)) for n in page]
            if len(page) < 5000:
                return found
            start = page[-1].id + 1
    finally:
        reader.close()


def open_jobs(events: Iterable[Stored]) -> dict[str, tuple[str, str]]:
    """Jobs requested and not ended: job id -> (connection id, kind)."""
    running: dict[str, tuple[str, str]] = {}
    for stored in events:
        if stored.topic == "Connection.JobRequested.v1":
            running[stored.event.job_id] = (stored.originator_id, str(stored.event.kind))
        elif stored.topic == "Connection.JobEnded.v1":
            running.pop(stored.event.job_id, None)
    return running


def _positions(stack: ReliabilityStack) -> tuple[int, dict[str, int]]:
    """The relay's position and every view's, as they stored them."""
    settings = stack.settings()
    names = [p.name for p in all_views()]
    relay_db = open_database(settings.sql_url("positions"))
    views_db = open_database(settings.sql_url("views"))
    try:
        with relay_db.transaction() as tx:
            relay = read_position(tx, "relay")
        with views_db.transaction() as tx:
            views = view_state.positions(tx, names)
        return relay, views
    finally:
        relay_db.close()
        views_db.close()


def settle(stack: ReliabilityStack, timeout: float = 90) -> dict[str, Any]:
    """Wait (bounded) until no job runs and the relay and every view reached the store's head.

    Returns what was left when it stopped waiting: open jobs, the head and the positions, the seconds waited.
    """
    begun = time.monotonic()
    state: dict[str, Any] = {}
    while True:
        stack.check_alive()
        events = read_store(stack)
        head = events[-1].position if events else 0
        running = open_jobs(events)
        try:
            relay, views = _positions(stack)
        except Exception as error:  # noqa: BLE001 - a store that is still coming back counts as not there yet
            relay, views = -1, {"unreadable": -1}
            state["error"] = repr(error)
        state = {"head": head, "relay": relay, "views": views, "open_jobs": running,
                 "settle_seconds": round(time.monotonic() - begun, 1)}
        if not running and relay == head and all(p == head for p in views.values()):
            # Caught up; but a report or command still in flight may add events: settled only if the store
            # stays still for a moment.
            time.sleep(1.0)
            if len(read_store(stack)) == len(events):
                return state
        if time.monotonic() - begun > timeout:
            return state
        time.sleep(0.5)


async def _read_topics(bootstrap: str, names: list[str]) -> dict[str, list[ConsumerRecord[Any, Any]]]:
    """Every record of the topics, from the first offset to the end offsets as they are now."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, group_id=None)
    await consumer.start()
    try:
        parts = [TopicPartition(n, p) for n in names for p in (consumer.partitions_for_topic(n) or
                                                                  await _partitions(consumer, n))]
        consumer.assign(parts)
        await consumer.seek_to_beginning(*parts)
        ends = await consumer.end_offsets(parts)
        records: dict[str, list[ConsumerRecord[Any, Any]]] = {n: [] for n in names}
        deadline = time.monotonic() + 60
        while [tp for tp in parts if await consumer.position(tp) < ends[tp]]:
            if time.monotonic() > deadline:
                raise AssertionError("topics could not be read to their end within 60 s")
            batch = await consumer.getmany(timeout_ms=500)
            for tp, part in batch.items():
                records[tp.topic].extend(part)
        return records
    finally:
        await consumer.stop()


async def _partitions(consumer: AIOKafkaConsumer, topic: str) -> set[int]:
    await consumer._client.force_metadata_update()  # noqa: SLF001 - aiokafka has no public refresh
    return consumer.partitions_for_topic(topic) or set()


async def _namespace_topics(bootstrap: str, namespace: str) -> list[str]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        return sorted(t for t in await admin.list_topics() if t.startswith(namespace))
    finally:
        await admin.close()


def read_topics(stack: ReliabilityStack) -> dict[str, list[ConsumerRecord[Any, Any]]]:
    """Every topic of the stack's namespace, keyed by the name without the namespace."""
    async def read() -> dict[str, list[ConsumerRecord[Any, Any]]]:
        names = await _namespace_topics(stack.bootstrap, stack.namespace)
        found = await _read_topics(stack.bootstrap, names)
        return {name.removeprefix(stack.namespace): records for name, records in found.items()}

    return asyncio.run(read())


def _header(record: ConsumerRecord[Any, Any], name: str) -> str | None:
    for key, value in record.headers or ():
        if key == name:
            return bytes(value).decode()
    return None


# ----- the invariants ------------------------------------------------------------------------------------------


def check(stack: ReliabilityStack, log: LoadLog | None, work_dir: Path,
          settle_timeout: float = 90) -> Verdict:
    """Settle the stack, then check every invariant; never raises for a broken promise (see ``Verdict``)."""
    settled = settle(stack, settle_timeout)
    events = read_store(stack)
    records = read_topics(stack)
    figures: dict[str, Any] = {
        "events_stored": len(events),
        "settle_seconds": settled["settle_seconds"],
    }
    invariants = {
        "commands": _commands(events, records, log, figures),
        "events_topic": _events_topic(events, records, figures),
        "views": _views(stack, events, work_dir, figures),
        "jobs_ended": _jobs(settled, figures),
        "no_secret_leaked": _secrets(stack, records, figures),
    }
    if log is not None:
        figures.update(log.figures())
    figures["dead_letters"] = {name: len(found) for name, found in records.items() if name.endswith(".dlq") and found}
    return Verdict(invariants, figures)


def _commands(events: list[Stored], records: dict[str, list[Any]], log: LoadLog | None,
              figures: dict[str, Any]) -> Invariant:
    """Accepted: exactly its events and one record; refused: none; repeated answers alike; no event uncaused."""
    inv = Invariant("commands")
    processed: dict[str, list[dict[str, Any]]] = defaultdict(list)
    caused: dict[str, set[str]] = defaultdict(set)  # cause id -> connection ids its Connection events are on
    causes: Counter[str] = Counter()
    cause_topics: dict[str, Counter[str]] = defaultdict(Counter)
    for stored in events:
        if stored.topic == "ProcessedCommand.Created.v1":
            processed[str(stored.event.command_id)].append(stored.event.outcome)
            continue
        if not stored.meta:
            # Some creation events (a data model mirror's) carry no meta: nothing to attribute them by.
            figures["events_without_meta"] = figures.get("events_without_meta", 0) + 1
            continue
        if stored.meta.get("actor") == "watchdog":
            # The watchdog's verdicts are caused by silence, not by a message.
            figures["events_by_watchdog"] = figures.get("events_by_watchdog", 0) + 1
            continue
        cause = stored.meta.get("causation_id")
        causes[str(cause)] += 1
        cause_topics[str(cause)][stored.topic] += 1
        if stored.topic.startswith("Connection."):
            caused[str(cause)].add(stored.originator_id)
    for command_id, outcomes in processed.items():
        if len(outcomes) > 1:
            inv.fail(f"command {command_id} was applied {len(outcomes)} times")
    answers: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for record in records.get(topics.COMMAND_RESULTS, []):
        payload = json.loads(record.value)["payload"]
        answers[str(payload["command_id"])].append(payload)
    for command_id, repeated in answers.items():
        # A command that changed something is recorded with its outcome and answered alike ever after. One that
        # changed nothing (refused, or every item "already") stores nothing by design (tests/unit: "...stores
        # nothing") and is evaluated afresh when repeated. So: once done, every later answer (the topic keeps
        # their order) is alike.
        first = next((i for i, a in enumerate(repeated) if _did_something(a)), None)
        later = {json.dumps(_essence(a), sort_keys=True) for a in repeated[first:]} if first is not None else set()
        if len(later) > 1:
            inv.fail(f"command {command_id} was answered differently after it was applied: {repeated[first:][:2]}")
    report_ids = {_header(r, "message_id") for r in records.get(topics.REPORTS, [])}
    sent = log.sent if log is not None else []
    known = {s.command_id for s in sent} | set(processed) | set(answers) | report_ids
    uncaused = [c for c in causes if c not in known]
    for cause in uncaused:
        inv.fail(f"{causes[cause]} stored event(s) caused by {cause}, which is no command or report sent "
                 f"({dict(cause_topics[cause])})")
    copies: dict[str, list[Sent]] = defaultdict(list)  # a command id sent several times is judged as one
    for s in sent:
        copies[s.command_id].append(s)
    unanswered_delivered = 0
    for command_id, sent_copies in copies.items():
        kind = sent_copies[0].command_type
        results = [s.result for s in sent_copies if s.result is not None]
        done = [r for r in results if _did_something(r)]
        accepted = [r for r in results if r.get("accepted")]
        if len({json.dumps(_essence(r), sort_keys=True) for r in done}) > 1:
            inv.fail(f"{kind} {command_id} was applied with different answers: {done[:2]}")
        if done:
            records_of = processed.get(command_id, [])
            if len(records_of) != 1:
                inv.fail(f"accepted {kind} {command_id} has {len(records_of)} records of it in the store, not 1")
                continue
            if _essence(records_of[0]) != _essence(done[0]):
                inv.fail(f"{kind} {command_id}: answered {_essence(done[0])}, stored {_essence(records_of[0])}")
            _match_effects(inv, command_id, done[0], caused)
        elif results:
            if processed.get(command_id) or caused.get(command_id):
                verdict = "accepted with nothing done" if accepted else "refused"
                inv.fail(f"{verdict} {kind} {command_id} left events in the store "
                         f"(on {sorted(caused.get(command_id, set()))})")
        elif any(s.channel == "bus" and s.delivered for s in sent_copies):
            unanswered_delivered += 1
            inv.fail(f"bus command {command_id} ({kind}) was delivered but never answered")
        elif processed.get(command_id):
            _match_effects(inv, command_id, processed[command_id][0], caused)
    figures["commands_recorded_in_store"] = len(processed)
    figures["delivered_bus_commands_unanswered"] = unanswered_delivered
    return inv


def _match_effects(inv: Invariant, command_id: str, result: dict[str, Any], caused: dict[str, set[str]]) -> None:
    """The connections a command's events are on are exactly the items it reports as done."""
    done = {str(i["connection_id"]) for i in result.get("items", [])
            if i.get("outcome") == "done" and i.get("connection_id")}
    touched = caused.get(command_id, set())
    if done and touched != done:
        inv.fail(f"command {command_id}: items done on {sorted(done)}, events on {sorted(touched)}")


def _did_something(result: dict[str, Any]) -> bool:
    return bool(result.get("accepted")) and any(i.get("outcome") == "done" for i in result.get("items", []))


def _essence(result: dict[str, Any]) -> dict[str, Any]:
    """What must not change between answers to one command (the position may: a repeat names none)."""
    items = [{k: (str(v) if v is not None else None) for k, v in item.items()
              if k in ("connection_id", "driver", "outcome", "reason_code", "job_id")}
             for item in result.get("items", [])]
    return {"accepted": bool(result.get("accepted")), "reason_code": result.get("reason_code"), "items": items}


class _Drivers:
    """Job messages name the connection's driver; the store says which driver each connection has."""

    def __init__(self, events: list[Stored]) -> None:
        self.of = {s.originator_id: s.event.driver for s in events if s.topic == "Connection.Created.v1"}

    def job(self, event: Any, position: int) -> DriverJob:
        return DriverJob(job_id=uuid.UUID(event.job_id), connection_id=event.originator_id,
                         driver=self.of[str(event.originator_id)], kind=event.kind)


def _events_topic(events: list[Stored], records: dict[str, list[Any]], figures: dict[str, Any]) -> Invariant:
    """At least once, in order per key, exactly once after dedupe; every requested job on its job topic."""
    inv = Invariant("events_topic")
    drivers = _Drivers(events)
    expected: dict[str, int] = {}
    expected_jobs: dict[str, set[str]] = defaultdict(set)
    for stored in events:
        for message in outgoing(stored.topic, stored.event, stored.position, drivers.job):
            if message.topic == topics.EVENTS:
                expected[str(message.envelope.message_id)] = stored.position
            else:
                expected_jobs[message.topic].add(str(message.envelope.message_id))
    published = records.get(topics.EVENTS, [])
    seen = [_header(r, "message_id") or "" for r in published]
    distinct = set(seen)
    missing = set(expected) - distinct
    extra = distinct - set(expected)
    for message_id in sorted(missing, key=lambda m: expected[m])[:_SHOWN]:
        inv.fail(f"the event at position {expected[message_id]} (message {message_id}) never reached the topic")
    inv.count += max(0, len(missing) - _SHOWN)
    for message_id in sorted(extra)[:_SHOWN]:
        inv.fail(f"message {message_id} on the events topic is explained by no stored event")
    per_key: dict[bytes, list[tuple[str, int]]] = defaultdict(list)
    for record, message_id in zip(published, seen, strict=True):
        per_key[record.key].append((message_id, int(json.loads(record.value)["payload"]["position"])))
    for key, sequence in per_key.items():
        first = [position for _, position in _first_seen(sequence)]
        if first != sorted(first):
            inv.fail(f"key {key!r}: positions out of order after dedupe: {first[:20]}")
    job_messages = 0
    for topic, wanted in expected_jobs.items():
        found = {_header(r, "message_id") for r in records.get(topic, [])}
        job_messages += len(records.get(topic, []))
        for message_id in sorted(wanted - found)[:_SHOWN]:
            inv.fail(f"job message {message_id} never reached {topic}")
    figures.update({
        "messages_expected": len(expected),
        "messages_published": len(published),
        "messages_distinct": len(distinct),
        "duplicates_seen_by_consumers": len(published) - len(distinct),
        "job_messages_published": job_messages,
        "reports_published": len(records.get(topics.REPORTS, [])),
    })
    return inv


def _first_seen(sequence: list[tuple[str, int]]) -> list[tuple[str, int]]:
    """Keep the first record of each message id (what a consumer that dedupes by message id processes)."""
    kept: dict[str, int] = {}
    for message_id, position in sequence:
        kept.setdefault(message_id, position)
    return list(kept.items())


def _views(stack: ReliabilityStack, events: list[Stored], work_dir: Path, figures: dict[str, Any]) -> Invariant:
    """Each view's rows equal a rebuild from the store into an empty database, at the view's own position."""
    inv = Invariant("views")
    settings = stack.settings()
    live_db = open_database(settings.sql_url("views"))
    work_dir.mkdir(parents=True, exist_ok=True)
    fresh_path = work_dir / f"fresh-views-{uuid.uuid4().hex[:6]}.sqlite"
    fresh_db = open_database(f"sqlite:///{fresh_path}")
    reader = EventStoreReader(env=settings.eventsourcing_env())
    rows = 0
    try:
        for projection in all_views():
            with live_db.transaction() as tx:
                position = view_state.positions(tx, [projection.name])[projection.name]
            with fresh_db.transaction() as tx:
                for spec in projection.tables():
                    tables.create(tx, spec)
            build(reader, fresh_db, projection, up_to=position)
            live, fresh = _rows(live_db, projection.tables()), _rows(fresh_db, projection.tables())
            rows += sum(map(len, live.values()))
            if _digest(live_db, projection.tables()) != _digest(fresh_db, projection.tables()):
                for name in live:
                    differing = sorted(k for k in set(live[name]) | set(fresh[name])
                                       if live[name].get(k) != fresh[name].get(k))
                    for key in differing[:3]:
                        inv.fail(f"view {projection.name}, table {name}, row {key}: live {live[name].get(key)} "
                                 f"!= rebuilt {fresh[name].get(key)}")
                    inv.count += max(0, len(differing) - 3)
                if inv.held:
                    inv.fail(f"view {projection.name}: digests differ though every row compares equal")
    finally:
        reader.close()
        live_db.close()
        fresh_db.close()
        for path in work_dir.glob(f"{fresh_path.name}*"):
            path.unlink(missing_ok=True)
    figures["view_rows"] = rows
    return inv


def _rows(db: Database, specs: list[tables.TableSpec]) -> dict[str, dict[str, Any]]:
    with db.transaction() as tx:
        return {spec.name: {"/".join(str(r[k]) for k in spec.key): r for r in tables.rows(tx, spec)}
                for spec in specs}


def _digest(db: Database, specs: list[tables.TableSpec]) -> str:
    with db.transaction() as tx:
        return tables.digest(tx, specs)


def _jobs(settled: dict[str, Any], figures: dict[str, Any]) -> Invariant:
    inv = Invariant("jobs_ended")
    for job_id, (connection_id, kind) in sorted(settled["open_jobs"].items()):
        inv.fail(f"{kind} job {job_id} of connection {connection_id} never ended")
    figures["jobs_left_running"] = len(settled["open_jobs"])
    if settled["relay"] != settled["head"] or any(p != settled["head"] for p in settled["views"].values()):
        figures["not_caught_up"] = {"head": settled["head"], "relay": settled["relay"], "views": settled["views"]}
    return inv


def _secrets(stack: ReliabilityStack, records: dict[str, list[Any]], figures: dict[str, Any]) -> Invariant:
    """The marker secret, in plaintext, hex or base64 (the security suite's scanner), nowhere: not in a file of
    the data folder, a PostgreSQL table, a process log or any record (key, value, headers) of the namespace."""
    inv = Invariant("no_secret_leaked")
    markers = [stack.marker]
    found, files = scan_files(stack.data_dir, markers)
    tables_scanned = 0
    if stack.store == "postgres":
        in_tables, tables_scanned = scan_postgres(stack.env["OMNI_DATABASE_URL"], markers)
        found += in_tables
    found += scan_files(stack.log_dir, markers)[0]
    for topic, in_topic in records.items():
        for record in in_topic:
            blob = (record.key or b"") + b"\n" + (record.value or b"") + b"\n" + b"".join(
                k.encode() + b"=" + bytes(v or b"") for k, v in record.headers or ())
            found += find(blob, markers, f"topic {topic} offset {record.offset}")
    for where in found:
        inv.fail(where)
    figures["scanned_for_marker"] = {"files": files, "tables": tables_scanned,
                                     "records": sum(map(len, records.values()))}
    return inv
