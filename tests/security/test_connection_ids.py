"""A caller-chosen connection id that is taken gets one answer whoever took it: tenant B learns that the id
cannot be used, never that tenant A has a connection with it."""

from __future__ import annotations

from uuid import UUID, uuid4

from contracts import commands as cmd
from contracts.results import CommandResult
from services.connections.domain.command_log import ProcessedCommand
from services.connections.domain.meta import Meta
from services.connections.domain.tenant import Tenant
from tests.security.conftest import TENANT_A, TENANT_B, WriteSide

A_NAME = "tenant-a-private-name-77c0"


def run(write_side: WriteSide, tenant: str, command: cmd.Message, command_id: UUID | None = None) -> CommandResult:
    command_id = command_id or uuid4()
    return write_side.app.execute(command, command_id, Meta(tenant, f"{tenant}-admin", "corr", str(command_id)))


def create(write_side: WriteSide, tenant: str, connection_id: UUID, name: str = "Till") -> CommandResult:
    return run(write_side, tenant, cmd.CreateConnection(connection_id=connection_id, name=name, driver="pos"))


def _answer(result: CommandResult) -> tuple[bool, str | None, str | None]:
    """What the caller sees, with the id itself taken out of the message."""
    assert result.reason_code is not None and result.message is not None
    return result.accepted, result.reason_code, result.message.replace(str(result.message.split()[2]), "<id>")


def test_a_taken_id_answers_alike_whoever_holds_it(write_side: WriteSide) -> None:
    for tenant in (TENANT_A, TENANT_B):
        assert run(write_side, tenant, cmd.InstallDriver(driver="pos")).accepted
    a_connection = uuid4()
    assert create(write_side, TENANT_A, a_connection, A_NAME).accepted
    deleted_b = uuid4()
    assert create(write_side, TENANT_B, deleted_b).accepted
    assert run(write_side, TENANT_B, cmd.DisableConnections(connection_ids=[deleted_b])).accepted
    assert run(write_side, TENANT_B, cmd.DeleteConnections(connection_ids=[deleted_b])).accepted
    assert write_side.app.repository.get(deleted_b).is_deleted  # POS keeps nothing to delete: done at once
    a_command = uuid4()
    assert run(write_side, TENANT_A, cmd.DisableConnections(connection_ids=[a_connection]), a_command).accepted

    taken = {
        "tenant A's connection": a_connection,
        "B's own deleted connection": deleted_b,
        "tenant A's tenant record": Tenant.id_for(TENANT_A),
        "a command record of A": ProcessedCommand.id_for(TENANT_A, a_command),
    }
    answers = {what: create(write_side, TENANT_B, taken_id) for what, taken_id in taken.items()}
    for what, result in answers.items():
        assert (result.accepted, result.reason_code) == (False, "connection_id_unavailable"), (what, result)
        text = result.model_dump_json()
        assert TENANT_A not in text and A_NAME not in text and "exist" not in text and "tenant" not in text, what
    assert len({_answer(result) for result in answers.values()}) == 1  # nothing tells the cases apart

    # Nothing changed for A, and B's own live connection still answers plainly that it exists.
    assert write_side.app.repository.get(a_connection).name == A_NAME
    own = uuid4()
    assert create(write_side, TENANT_B, own).accepted
    again = create(write_side, TENANT_B, own)
    assert (again.accepted, again.reason_code) == (False, "connection_exists")


def test_the_bus_batch_answers_the_same(write_side: WriteSide) -> None:
    for tenant in (TENANT_A, TENANT_B):
        assert run(write_side, tenant, cmd.InstallDriver(driver="pos")).accepted
    a_connection = uuid4()
    assert create(write_side, TENANT_A, a_connection, A_NAME).accepted
    command = cmd.CreateConnection(connection_id=a_connection, name="hijack", driver="pos")
    [result] = write_side.app.execute_batch([(command, uuid4(), Meta(TENANT_B, "b", "corr", "m"))])
    assert (result.accepted, result.reason_code) == (False, "connection_id_unavailable")
    assert TENANT_A not in result.model_dump_json()
