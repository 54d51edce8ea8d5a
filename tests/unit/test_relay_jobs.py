"""The relay's jobs carry the connection as it stood at the job's event, however the relay came by that state.

The relay keeps each connection's state folded forward from the events it reads instead of loading it back for
every job; these tests hold its jobs against the connection loaded from the store at the job's version, for a
relay reading from the start, one started mid-stream (a restart) and one keeping too few connections.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any
from uuid import UUID

import pytest

from contracts import commands as cmd
from contracts import reports
from contracts.jobs import DriverJob
from contracts.registry import decode
from services.connections.adapters.catalog import PydanticCatalog
from services.connections.application import Connections
from services.connections.relay import Relay
from services.connections.translation import SILENT_TOPICS, outgoing, public_payloads
from shared.sealing import open_sealed
from tests.unit.application_suite import CREDENTIALS, create, report, run
from tests.unit.fakes import InMemoryVault

WORKER_KEY = os.urandom(32)


@pytest.fixture
def app() -> Iterator[Connections]:
    application = Connections(PydanticCatalog(), InMemoryVault(), env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    yield application
    application.close()


def _history(app: Connections) -> list[UUID]:
    """Two connections whose credentials and settings change between their jobs; a retried job too."""
    first, _ = create(app, "shopware6", "first")
    second, check = create(app, "shopware6", "second")
    for rotated, language in (("rotated-1", "de-DE"), ("rotated-2", "fr-FR")):
        changed = {**CREDENTIALS["shopware6"], "secret_access_key": rotated}
        assert run(app, cmd.EditConnection(connection_id=first, credentials=changed,
                                           settings={"default_language": language})).accepted
    assert run(app, cmd.EditConnection(connection_id=second, name="renamed")).accepted
    assert report(app, reports.JobStarted(job_id=check, connection_id=second, worker="w"))
    assert report(app, reports.JobFailed(job_id=check, connection_id=second, error_type="unreachable",
                                         retryable=True, message="down"))
    return [first, second]


def _jobs(relay: Relay, app: Connections, after: int, batch: int) -> dict[str, dict[str, Any]]:
    """The jobs the relay publishes reading the store from ``after`` in batches of ``batch``, credentials opened."""
    jobs: dict[str, dict[str, Any]] = {}
    while notifications := app.recorder.select_notifications(after + 1, batch):
        for message in relay._translate(notifications):  # noqa: SLF001 - the relay's translation alone
            if message.envelope.type == DriverJob.message_type:
                _, job = decode(message.envelope.model_dump_json())
                assert isinstance(job, DriverJob)
                jobs[str(message.envelope.message_id)] = _opened(job)
        after = notifications[-1].id
    return jobs


def _opened(job: DriverJob) -> dict[str, Any]:
    fields = job.model_dump(mode="json", exclude={"sealed_credentials"})
    fields["credentials"] = open_sealed(WORKER_KEY, job.sealed_credentials, str(job.job_id)) \
        if job.sealed_credentials else None
    return fields


def _relay(app: Connections, cached: int = 10_000) -> Relay:
    return Relay(app, positions=None, bus=None, worker_key=WORKER_KEY, follower=None,  # type: ignore[arg-type]
                 cached_connections=cached)


class _LoadingRelay(Relay):
    """The reference: every job loads its connection from the store at the job's version."""

    def _connection_at(self, event: Any) -> Any:
        return self.app.repository.get(event.originator_id, version=event.originator_version)


def test_jobs_carry_the_connection_at_their_version_from_the_start_mid_stream_and_with_few_kept(
    app: Connections,
) -> None:
    _history(app)
    expected = _jobs(_LoadingRelay(app, None, None, WORKER_KEY, None), app, 0, 1000)  # type: ignore[arg-type]
    languages = {job["settings"].get("default_language") for job in expected.values()}
    secrets = {job["credentials"]["secret_access_key"] for job in expected.values()}
    assert {"de-DE", "fr-FR"} <= languages and {"rotated-1", "rotated-2"} <= secrets, expected
    assert any(job["attempt"] == 2 for job in expected.values())

    assert _jobs(_relay(app), app, 0, 1000) == expected
    assert _jobs(_relay(app), app, 0, 1) == expected
    assert _jobs(_relay(app, cached=1), app, 0, 3) == expected
    head = app.recorder.max_notification_id() or 0
    for start in range(1, head):  # a relay (re)started at any position publishes the same jobs from there on
        restarted = _jobs(_relay(app), app, start, 2)
        assert restarted == {k: v for k, v in expected.items() if k in restarted}
        assert len(restarted) == sum(1 for n in app.recorder.select_notifications(start + 1, 1000)
                                     if n.topic in ("Connection.JobRequested.v1", "Connection.JobRetried.v1"))


def test_jobs_of_a_connection_known_only_from_the_store_load_it_once(app: Connections,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    _history(app)
    loads: list[UUID] = []
    get = app.repository.get

    def counting(aggregate_id: UUID, **kwargs: Any) -> Any:
        loads.append(aggregate_id)
        return get(aggregate_id, **kwargs)

    monkeypatch.setattr(app.repository, "get", counting)
    _jobs(_relay(app), app, 0, 1000)
    assert loads == []  # every connection's Created event was read: nothing loaded back
    created = [n.id for n in app.recorder.select_notifications(1, 1000) if n.topic == "Connection.Created.v1"]
    _jobs(_relay(app), app, created[-1], 1000)  # started after both creates: each loaded once, then folded
    assert sorted(loads) == sorted(set(loads)) and len(loads) == 2


def test_events_passed_over_undecoded_are_those_that_become_no_message(app: Connections) -> None:
    for topic in SILENT_TOPICS:
        assert public_payloads(topic, object(), 1) == [], topic  # it reads nothing of the event either
    _history(app)
    notifications = app.recorder.select_notifications(1, 1000)
    assert SILENT_TOPICS & {n.topic for n in notifications}, "the history has events the relay passes over"
    relay = _relay(app)
    decoding_all = [(m.topic, m.key, m.envelope.message_id) for n in notifications
                    for m in outgoing(n.topic, app.mapper.to_domain_event(n), n.id, _relay(app)._build_job)]
    assert [(m.topic, m.key, m.envelope.message_id) for m in relay._translate(notifications)] == decoding_all  # noqa: SLF001


def test_message_ids_stay_the_uuid5_of_the_position_and_index() -> None:
    """Consumers drop repeats by message id: a relay of this version must give the ids earlier ones gave."""
    from uuid import NAMESPACE_URL, uuid5

    from services.connections.translation import _message_id

    namespace = uuid5(NAMESPACE_URL, "omni-channel-connections:message")
    for position in (1, 2, 99, 12_345, 10**9):
        for index in (0, 1, 99):
            assert _message_id(position, index) == uuid5(namespace, f"{position}/{index}")
