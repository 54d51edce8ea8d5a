"""What ``CommandResult`` promises about a repeated command id, checked against the application."""

from __future__ import annotations

from collections.abc import Iterator
from uuid import UUID, uuid4

import pytest

from contracts import commands as cmd
from contracts.results import CommandResult, Outcome
from services.connections.adapters.catalog import PydanticCatalog
from services.connections.application import Connections
from services.connections.domain.meta import Meta
from tests.unit.fakes import InMemoryVault

TENANT = "acme"


@pytest.fixture
def app() -> Iterator[Connections]:
    application = Connections(PydanticCatalog(), InMemoryVault(), env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    yield application
    application.close()


def run(app: Connections, command: cmd.Message, command_id: UUID) -> CommandResult:
    return app.execute(command, command_id, Meta(TENANT, "tester", "corr", str(command_id)))


def _connection(app: Connections) -> UUID:
    assert run(app, cmd.InstallDriver(driver="pos"), uuid4()).accepted
    created = run(app, cmd.CreateConnection(name="Till", driver="pos"), uuid4())
    assert created.items[0].connection_id is not None
    return created.items[0].connection_id


def test_a_command_that_changed_something_answers_its_first_result_again(app: Connections) -> None:
    connection_id = _connection(app)
    disable, command_id = cmd.DisableConnections(connection_ids=[connection_id]), uuid4()
    first = run(app, disable, command_id)
    assert first.items[0].outcome is Outcome.DONE and first.position is not None
    assert run(app, cmd.EnableConnections(connection_ids=[connection_id]), uuid4()).items[0].outcome is Outcome.DONE
    again = run(app, disable, command_id)  # not applied a second time, though it would change something now
    assert again.model_copy(update={"position": first.position}) == first  # position: see the docstring
    assert app.repository.get(connection_id).status.value == "active"


def test_a_command_that_changed_nothing_is_evaluated_afresh(app: Connections) -> None:
    connection_id = _connection(app)
    enable, command_id = cmd.EnableConnections(connection_ids=[connection_id]), uuid4()
    first = run(app, enable, command_id)
    assert first.accepted and first.items[0].outcome is Outcome.ALREADY and first.position is None
    assert run(app, cmd.DisableConnections(connection_ids=[connection_id]), uuid4()).accepted
    again = run(app, enable, command_id)  # nothing was recorded for it: it acts on today's state
    assert again.items[0].outcome is Outcome.DONE and again.position is not None
    assert app.repository.get(connection_id).status.value == "active"


def test_a_refused_command_is_evaluated_afresh(app: Connections) -> None:
    create, command_id = cmd.CreateConnection(name="Till", driver="pos"), uuid4()
    assert run(app, create, command_id).reason_code == "driver_not_installed"
    assert run(app, cmd.InstallDriver(driver="pos"), uuid4()).accepted
    assert run(app, create, command_id).accepted


def test_the_contract_says_so() -> None:
    doc = " ".join((CommandResult.__doc__ or "").split())
    assert "changed nothing" in doc and "evaluated afresh" in doc
    assert "the same however often it is repeated" not in doc
