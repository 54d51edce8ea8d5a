"""The compatibility gate: the current contract against the last release, and the gate itself on broken schemas."""

from __future__ import annotations

import copy
import json
from datetime import date
from pathlib import Path
from typing import Any, Literal

import pytest
from pydantic import Field

from contracts import compat, schema_export
from contracts.commands import ConnectionIds
from contracts.envelope import Message
from contracts.registry import MESSAGES, UPCASTERS, Upcaster

RELEASED_DIR = schema_export.PACKAGE_DIR / schema_export.RELEASED


@pytest.fixture(scope="module")
def released() -> dict[str, dict[str, Any]]:
    return compat.load_schemas(RELEASED_DIR)


@pytest.fixture(scope="module")
def current() -> dict[str, dict[str, Any]]:
    return schema_export.current_schemas()


def _payload(schema: dict[str, Any]) -> dict[str, Any]:
    """The payload definition inside a message schema, to break it on purpose."""
    name = schema["properties"]["payload"]["$ref"].rsplit("/", 1)[1]
    definition: dict[str, Any] = schema["$defs"][name]
    return definition


def _gate_on_one(name: str, released: dict[str, Any], changed: dict[str, Any]) -> list[str]:
    return compat.check_compatibility({name: released}, {name: changed}, MESSAGES, UPCASTERS)


# --- the real contract ----------------------------------------------------------------------------------------


def test_current_schemas_are_compatible_with_the_last_release(
    released: dict[str, dict[str, Any]], current: dict[str, dict[str, Any]]
) -> None:
    problems = compat.check_compatibility(released, current, MESSAGES, UPCASTERS)
    assert problems == [], "\n".join(problems)


def test_the_release_holds_every_published_message_and_names_its_number() -> None:
    manifest = json.loads((RELEASED_DIR / schema_export.RELEASE_MANIFEST).read_text())
    assert manifest["release"] >= 1
    assert set(manifest["current"]) | set(manifest["deprecated"]) == set(compat.load_schemas(RELEASED_DIR))


# --- the gate on a deliberately broken schema -------------------------------------------------------------------


def test_gate_fails_on_a_removed_field(released: dict[str, dict[str, Any]]) -> None:
    name = "CreateConnection.v1"
    broken = copy.deepcopy(released[name])
    del _payload(broken)["properties"]["name"]
    _payload(broken)["required"].remove("name")

    problems = _gate_on_one(name, released[name], broken)

    assert problems[0] == "CreateConnection.v1: field removed at payload.name"
    assert "bump CreateConnection.schema_version to 2" in problems[-1]


def test_gate_fails_on_a_retyped_field(released: dict[str, dict[str, Any]]) -> None:
    name = "JobProgressed.v1"
    broken = copy.deepcopy(released[name])
    _payload(broken)["properties"]["done"] = {"type": "string", "title": "Done"}

    problems = _gate_on_one(name, released[name], broken)

    assert problems[0] == "JobProgressed.v1: field retyped from integer to string at payload.done"


def test_gate_fails_on_a_field_that_became_nullable(released: dict[str, dict[str, Any]]) -> None:
    name = "ConnectionCreated.v1"
    broken = copy.deepcopy(released[name])
    _payload(broken)["properties"]["name"] = {"anyOf": [{"type": "string"}, {"type": "null"}]}

    problems = _gate_on_one(name, released[name], broken)

    assert problems[0] == "ConnectionCreated.v1: field retyped from string to null | string at payload.name"


def test_gate_fails_on_a_new_required_field(released: dict[str, dict[str, Any]]) -> None:
    name = "RequestSync.v1"
    broken = copy.deepcopy(released[name])
    _payload(broken)["properties"]["priority"] = {"type": "string"}
    _payload(broken)["required"].append("priority")

    problems = _gate_on_one(name, released[name], broken)

    assert problems[0] == "RequestSync.v1: new required field at payload.priority"


def test_gate_fails_on_an_optional_field_that_became_required(released: dict[str, dict[str, Any]]) -> None:
    name = "EditConnection.v1"
    broken = copy.deepcopy(released[name])
    _payload(broken)["required"].append("name")

    problems = _gate_on_one(name, released[name], broken)

    assert problems[0] == "EditConnection.v1: optional field became required at payload.name"


def test_gate_fails_on_a_narrowed_enum(released: dict[str, dict[str, Any]]) -> None:
    name = "DriverJob.v1"
    broken = copy.deepcopy(released[name])
    broken["$defs"]["JobKind"]["enum"].remove("clean_up")

    problems = _gate_on_one(name, released[name], broken)

    assert problems[0] == "DriverJob.v1: enum narrowed: '\"clean_up\"' no longer accepted at payload.kind"


def test_gate_fails_on_a_free_value_restricted_to_an_enum(released: dict[str, dict[str, Any]]) -> None:
    name = "JobFailed.v1"
    broken = copy.deepcopy(released[name])
    _payload(broken)["properties"]["error_type"]["enum"] = ["timed_out", "invalid_credentials"]

    problems = _gate_on_one(name, released[name], broken)

    assert problems[0].startswith("JobFailed.v1: enum narrowed: any value was accepted, now only")
    assert problems[0].endswith("at payload.error_type")


def test_gate_fails_on_a_change_deep_inside_a_nested_model(released: dict[str, dict[str, Any]]) -> None:
    name = "JobSucceeded.v1"
    broken = copy.deepcopy(released[name])
    del broken["$defs"]["Attribute"]["properties"]["multi_value"]

    problems = _gate_on_one(name, released[name], broken)

    assert problems[0] == "JobSucceeded.v1: field removed at payload.data_model.attributes[].multi_value"


def test_gate_fails_on_an_envelope_change(released: dict[str, dict[str, Any]]) -> None:
    name = "InstallDriver.v1"
    broken = copy.deepcopy(released[name])
    del broken["properties"]["correlation_id"]

    problems = _gate_on_one(name, released[name], broken)

    assert problems[0] == "InstallDriver.v1: field removed at correlation_id"


def test_gate_passes_a_new_optional_field(released: dict[str, dict[str, Any]]) -> None:
    name = "RequestSync.v1"
    changed = copy.deepcopy(released[name])
    _payload(changed)["properties"]["priority"] = {"anyOf": [{"type": "string"}, {"type": "null"}], "default": None}

    assert _gate_on_one(name, released[name], changed) == []


def test_gate_passes_a_widened_enum_and_new_descriptions(released: dict[str, dict[str, Any]]) -> None:
    name = "DriverJob.v1"
    changed = copy.deepcopy(released[name])
    changed["$defs"]["JobKind"]["enum"].append("export")
    _payload(changed)["description"] = "reworded"

    assert _gate_on_one(name, released[name], changed) == []


def test_gate_fails_when_a_released_example_no_longer_decodes(released: dict[str, dict[str, Any]]) -> None:
    class StricterInstallDriver(Message):
        message_type = "InstallDriver"

        driver: str = Field(max_length=2)  # tighter than the released limit: "shopware6" is refused

    messages: dict[tuple[str, int], type[Message]] = {**MESSAGES, ("InstallDriver", 1): StricterInstallDriver}
    name = "InstallDriver.v1"

    problems = compat.check_compatibility({name: released[name]}, {name: released[name]}, messages, UPCASTERS)

    assert problems
    assert problems[0].startswith("InstallDriver.v1: released example")
    assert "no longer decodes (invalid_payload)" in problems[0]


# --- a version bump: allowed while the old version still decodes, in a stated window --------------------------


class RequestSyncV2(Message):
    """RequestSync with a required priority: a breaking change, so a new version."""

    message_type = "RequestSync"
    schema_version = 2

    connection_ids: ConnectionIds
    priority: Literal["low", "normal", "high"]


def _bumped_registry() -> dict[tuple[str, int], type[Message]]:
    messages = {key: model for key, model in MESSAGES.items() if key != ("RequestSync", 1)}
    messages[("RequestSync", 2)] = RequestSyncV2
    return messages


def _current_of(messages: dict[tuple[str, int], type[Message]], message_type: str) -> dict[str, dict[str, Any]]:
    return {
        schema_export.schema_name(m): schema_export.message_json_schema(m)
        for (t, _), m in messages.items()
        if t == message_type
    }


def _released_of(released: dict[str, dict[str, Any]], message_type: str) -> dict[str, dict[str, Any]]:
    # Only the message under test, so the gate's verdict is about this change alone.
    return {name: schema for name, schema in released.items() if compat.parse_name(name)[0] == message_type}


def _gate_on_request_sync(
    released: dict[str, dict[str, Any]],
    messages: dict[tuple[str, int], type[Message]],
    upcasters: dict[tuple[str, int], Upcaster],
) -> list[str]:
    return compat.check_compatibility(
        _released_of(released, "RequestSync"), _current_of(messages, "RequestSync"), messages, upcasters
    )


def _add_priority(payload: dict[str, Any]) -> dict[str, Any]:
    return {**payload, "priority": "normal"}


def test_gate_passes_a_bumped_version_whose_old_version_still_decodes(released: dict[str, dict[str, Any]]) -> None:
    messages = _bumped_registry()
    upcasters = {("RequestSync", 1): Upcaster("RequestSync", 1, _add_priority, accepted_until=date(2027, 6, 30))}

    assert _gate_on_request_sync(released, messages, upcasters) == []


def test_gate_fails_a_bumped_version_without_an_upcaster(released: dict[str, dict[str, Any]]) -> None:
    messages = _bumped_registry()

    problems = _gate_on_request_sync(released, messages, {})

    assert problems == [
        "RequestSync.v1: v1 is no longer accepted: current is v2, but there is no upcaster from v1; "
        "register_upcaster('RequestSync', 1, fn, accepted_until=...)"
    ]


def test_gate_fails_a_bumped_version_whose_upcaster_states_no_window(released: dict[str, dict[str, Any]]) -> None:
    messages = _bumped_registry()
    upcasters = {("RequestSync", 1): Upcaster("RequestSync", 1, _add_priority)}

    problems = _gate_on_request_sync(released, messages, upcasters)

    assert len(problems) == 1
    assert problems[0].startswith("RequestSync.v1: the upcaster from v1 states no deprecation window")


def test_gate_fails_a_bumped_version_whose_upcaster_produces_an_invalid_payload(
    released: dict[str, dict[str, Any]],
) -> None:
    messages = _bumped_registry()
    upcasters = {("RequestSync", 1): Upcaster("RequestSync", 1, lambda p: p, accepted_until=date(2027, 6, 30))}

    problems = _gate_on_request_sync(released, messages, upcasters)

    assert problems
    assert all(p.startswith("RequestSync.v1: released example") for p in problems)
    assert "no longer decodes (invalid_payload): invalid RequestSync: priority: Field required" in problems[0]


def test_gate_fails_when_a_released_message_type_is_gone(released: dict[str, dict[str, Any]]) -> None:
    messages = {key: model for key, model in MESSAGES.items() if key[0] != "UninstallDriver"}
    current = _current_of(messages, "UninstallDriver")

    problems = compat.check_compatibility(_released_of(released, "UninstallDriver"), current, messages, UPCASTERS)

    assert problems == [
        "UninstallDriver.v1: released message is gone; keep it, or bump its schema_version and register an "
        "upcaster from v1"
    ]


# --- cutting a release ----------------------------------------------------------------------------------------------


def test_a_release_copies_the_current_schemas_and_counts_up(tmp_path: Path) -> None:
    first = schema_export.release(tmp_path, date(2026, 1, 1))
    second = schema_export.release(tmp_path, date(2026, 2, 1))

    manifest = json.loads((tmp_path / "released" / "release.json").read_text())
    assert first == second == sorted(schema_export.current_schemas())
    assert manifest["release"] == 2 and manifest["released_on"] == "2026-02-01"
    assert compat.load_schemas(tmp_path / "released") == schema_export.current_schemas()
