"""A batch's transaction holds a bounded number of connections, however many bulk commands arrive together."""

from __future__ import annotations

import asyncio
from uuid import UUID, uuid4

from contracts import commands as cmd
from contracts.results import CommandResult
from services.connections.domain.meta import Meta
from services.connections.entrypoints.batching import MAX_CONNECTIONS_PER_BATCH, CommandBatcher, bounded_batches

META = Meta("acme", "tester", "corr", "m")


def _enable(count: int) -> cmd.EnableConnections:
    return cmd.EnableConnections(connection_ids=[uuid4() for _ in range(count)])


def test_bulk_commands_are_cut_by_the_connections_they_name() -> None:
    commands = [_enable(500) for _ in range(20)]
    batches = bounded_batches(commands, lambda c: c, max_size=200)
    assert [len(b) for b in batches] == [2] * 10
    assert [c for b in batches for c in b] == commands  # in order, none lost or split


def test_single_commands_still_share_a_batch_up_to_its_size() -> None:
    creates = [cmd.CreateConnection(name=f"Till {i}", driver="pos") for i in range(450)]
    assert [len(b) for b in bounded_batches(creates, lambda c: c, max_size=200)] == [200, 200, 50]


def test_a_command_over_the_bound_goes_alone_and_whole() -> None:
    big, small = _enable(500), _enable(1)
    batches = bounded_batches([small, big, small], lambda c: c, max_size=200, max_connections=300)
    assert batches == [[small], [big], [small]]


class _RecordingApp:
    def __init__(self) -> None:
        self.transactions: list[int] = []

    def execute_batch(self, commands: list[tuple[cmd.Message, UUID, Meta]]) -> list[CommandResult]:
        self.transactions.append(sum(len(getattr(c, "connection_ids", [])) for c, _, _ in commands))
        return [CommandResult(command_id=i, command_type=c.message_type, accepted=True) for c, i, _ in commands]


def test_the_http_group_commit_keeps_each_transaction_under_the_bound() -> None:
    app = _RecordingApp()
    batcher = CommandBatcher(app, max_size=200)  # type: ignore[arg-type]
    commands = [(_enable(500), uuid4()) for _ in range(20)]

    async def send_all() -> list[CommandResult]:
        return await asyncio.gather(*(batcher.execute(c, i, META) for c, i in commands))

    results = asyncio.run(send_all())
    assert [r.command_id for r in results] == [i for _, i in commands]
    assert sum(app.transactions) == 10_000
    assert max(app.transactions) <= MAX_CONNECTIONS_PER_BATCH
