"""The invariant checker catches what it promises to catch (no processes: stored events and records made up)."""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

import pytest

from tests.reliability.invariants import Stored, _commands, _first_seen
from tests.reliability.load import LoadLog, Sent

pytestmark = pytest.mark.reliability
CONNECTION = "7d0c6f1e-1111-4a4a-8b8b-000000000001"


def _created(position: int, command_id: str, outcome: dict[str, Any]) -> Stored:
    event = SimpleNamespace(command_id=command_id, outcome=outcome, meta={"causation_id": command_id})
    return Stored(position, "ProcessedCommand.Created.v1", f"record-{position}", event)


def _disabled(position: int, cause: str, connection: str = CONNECTION) -> Stored:
    return Stored(position, "Connection.Disabled.v1", connection, SimpleNamespace(meta={"causation_id": cause}))


def _answered(command_id: str, result: dict[str, Any]) -> LoadLog:
    log = LoadLog()
    log.add(Sent(command_id, "t", "http", "DisableConnections", [CONNECTION], 0.0, True, result))
    return log


DONE = {"accepted": True, "items": [{"connection_id": CONNECTION, "outcome": "done"}]}


def test_a_command_applied_twice_is_caught() -> None:
    events = [_created(1, "c1", DONE), _disabled(2, "c1"), _created(3, "c1", DONE), _disabled(4, "c1")]
    verdict = _commands(events, {}, _answered("c1", DONE), {})
    assert not verdict.held and "applied 2 times" in verdict.problems[0]


def test_a_refused_command_that_left_events_is_caught() -> None:
    refused = {"accepted": False, "items": [], "reason_code": "connection_inactive"}
    verdict = _commands([_disabled(1, "c1")], {}, _answered("c1", refused), {})
    assert not verdict.held and "left events" in verdict.problems[0]


def test_events_on_a_connection_the_result_does_not_name_are_caught() -> None:
    events = [_created(1, "c1", DONE), _disabled(2, "c1", "7d0c6f1e-1111-4a4a-8b8b-000000000002")]
    verdict = _commands(events, {}, _answered("c1", DONE), {})
    assert not verdict.held and "events on" in verdict.problems[0]


def test_an_event_nobody_caused_is_caught() -> None:
    verdict = _commands([_created(1, "c1", DONE), _disabled(2, "c1"), _disabled(3, "ghost")], {},
                        _answered("c1", DONE), {})
    assert not verdict.held and "ghost" in verdict.problems[0]


def _results(*answers: dict[str, Any]) -> dict[str, list[Any]]:
    return {"connections.command-results.v1": [
        SimpleNamespace(value=json.dumps({"payload": {"command_id": "c1", **answer}}).encode(), headers=[])
        for answer in answers]}


REFUSED = {"accepted": False, "items": [], "reason_code": "not_found"}


def test_a_different_answer_after_acceptance_is_caught() -> None:
    verdict = _commands([], _results(DONE, REFUSED), None, {})
    assert not verdict.held and "answered differently" in verdict.problems[0]


def test_a_command_that_changed_nothing_is_evaluated_afresh_when_repeated() -> None:
    already = {"accepted": True, "items": [{"connection_id": CONNECTION, "outcome": "already"}]}
    assert _commands([], _results(already, REFUSED), None, {}).held


def test_a_refusal_may_be_followed_by_acceptance_when_the_command_is_repeated() -> None:
    """docs/contracts.md: a refused command is evaluated afresh when repeated (the connection may exist now)."""
    log = _answered("c1", REFUSED)
    log.add(Sent("c1", "t", "http", "DisableConnections", [CONNECTION], 1.0, True, DONE))
    events = [_created(1, "c1", DONE), _disabled(2, "c1")]
    assert _commands(events, _results(REFUSED, DONE), log, {}).held


def test_a_consistent_run_holds() -> None:
    events = [_created(1, "c1", DONE), _disabled(2, "c1")]
    assert _commands(events, {}, _answered("c1", DONE), {}).held


def test_dedupe_keeps_the_first_of_each_message_so_a_resent_suffix_stays_in_order() -> None:
    resent = [("a", 1), ("b", 2), ("b", 2), ("c", 3)]
    assert [p for _, p in _first_seen(resent)] == [1, 2, 3]
    swapped = [("a", 1), ("c", 3), ("b", 2)]
    positions = [p for _, p in _first_seen(swapped)]
    assert positions != sorted(positions)
