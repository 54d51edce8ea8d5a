"""The compatibility gate: a published (type, version) may only change in ways its readers and writers survive.

Compares the last released JSON Schemas (``contracts/released/``) with the current ones. For a version that
is still current, these are breaking and fail the gate:

- a removed field,
- a retyped field (any change of its JSON types or format, including becoming nullable),
- a new required field, or an optional field that became required,
- a narrowed enum (a value no longer accepted, or a free value now restricted to an enum),
- an object that no longer accepts extra fields,
- a released example that no longer decodes (catches tightened limits the structural rules do not see).

A new optional field, a new enum value, a new message type or new descriptions and examples are allowed.

To change a message incompatibly, bump its ``schema_version`` and register an upcaster from the old version
(:func:`contracts.registry.register_upcaster`) that states ``accepted_until``, the end of the deprecation
window (at least :data:`MIN_DEPRECATION_DAYS` after the release that ships the bump; the release command
enforces that). The gate then requires that every released example of the old version decodes into the
current model. After the window, the next release drops the old version and its upcaster may go.

Uses only the standard library, on schemas as JSON, so any two schema sets can be compared.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from contracts.envelope import Message
from contracts.registry import UndecodableMessage, Upcaster, decode_with

MIN_DEPRECATION_DAYS = 180
"""How long an old version stays accepted, at least, after the release that deprecated it."""

Schema = dict[str, Any]


def parse_name(name: str) -> tuple[str, int]:
    """``CreateConnection.v1`` -> ("CreateConnection", 1)."""
    message_type, _, version = name.rpartition(".v")
    if not message_type or not version.isdigit():
        raise ValueError(f"not a schema name: {name!r}")
    return message_type, int(version)


def load_schemas(folder: Path) -> dict[str, Schema]:
    """Every ``<type>.v<version>.json`` in ``folder`` by its name."""
    found: dict[str, Schema] = {}
    for path in sorted(folder.glob("*.v*.json")):
        name = path.name.removesuffix(".json")
        parse_name(name)
        found[name] = json.loads(path.read_text(encoding="utf-8"))
    return found


# --- comparing two schemas --------------------------------------------------------------------------------


class _Comparison:
    """One walk over a released and a current schema of the same (type, version), collecting breaks."""

    def __init__(self, name: str, released: Schema, current: Schema) -> None:
        self.name = name
        self.released_root = released
        self.current_root = current
        self.problems: list[str] = []
        self._seen: set[tuple[int, int]] = set()

    def run(self) -> list[str]:
        self._compare(self.released_root, self.current_root, "")
        return self.problems

    def _fail(self, path: str, what: str) -> None:
        self.problems.append(f"{self.name}: {what} at {path or '(message)'}")

    def _compare(self, released: Any, current: Any, path: str) -> None:
        released = _resolve(released, self.released_root)
        current = _resolve(current, self.current_root)
        pair = (id(released), id(current))
        if pair in self._seen:  # recursive models: each pair of nodes is compared once
            return
        self._seen.add(pair)
        released_branches = list(_branches(released, self.released_root))
        current_branches = list(_branches(current, self.current_root))
        released_types = frozenset().union(*(_types(b) for b in released_branches))
        current_types = frozenset().union(*(_types(b) for b in current_branches))
        if released_types != current_types:
            self._fail(path, f"field retyped from {_show(released_types)} to {_show(current_types)}")
            return
        self._compare_enums(released_branches, current_branches, path)
        for branch in released_branches:
            match = next((c for c in current_branches if _types(c) == _types(branch)), None)
            if match is None:
                continue
            if "object" in _types(branch):
                self._compare_objects(branch, match, path)
            if "array" in _types(branch) and isinstance(branch.get("items"), dict):
                if isinstance(match.get("items"), dict):
                    self._compare(branch["items"], match["items"], f"{path}[]")

    def _compare_enums(self, released: list[Schema], current: list[Schema], path: str) -> None:
        released_values = _enum_values(released)
        current_values = _enum_values(current)
        if current_values is None:
            return  # no restriction now: every released value is still accepted
        if released_values is None:
            self._fail(path, f"enum narrowed: any value was accepted, now only {sorted(map(repr, current_values))}")
            return
        lost = released_values - current_values
        if lost:
            self._fail(path, f"enum narrowed: {', '.join(sorted(map(repr, lost)))} no longer accepted")

    def _compare_objects(self, released: Schema, current: Schema, path: str) -> None:
        released_fields: dict[str, Any] = released.get("properties", {})
        current_fields: dict[str, Any] = current.get("properties", {})
        for field, schema in released_fields.items():
            where = f"{path}.{field}" if path else field
            if field not in current_fields:
                self._fail(where, "field removed")
            else:
                self._compare(schema, current_fields[field], where)
        newly_required = sorted(set(current.get("required", [])) - set(released.get("required", [])))
        for field in newly_required:
            where = f"{path}.{field}" if path else field
            if field in released_fields:
                self._fail(where, "optional field became required")
            else:
                self._fail(where, "new required field")
        released_extra = released.get("additionalProperties", True)
        current_extra = current.get("additionalProperties", True)
        if released_extra is not False and current_extra is False:
            self._fail(path, "extra fields no longer accepted")
        elif isinstance(released_extra, dict) and isinstance(current_extra, dict):
            self._compare(released_extra, current_extra, f"{path}.*" if path else "*")


def _resolve(node: Any, root: Schema) -> Any:
    # Only local references are used by the generated schemas (``#/$defs/Name``).
    while isinstance(node, dict) and "$ref" in node:
        reference = node["$ref"]
        if not reference.startswith("#/"):
            raise ValueError(f"only local $ref are supported, got {reference!r}")
        target: Any = root
        for part in reference[2:].split("/"):
            target = target[part.replace("~1", "/").replace("~0", "~")]
        node = target
    return node


def _branches(node: Any, root: Schema) -> Iterator[Schema]:
    node = _resolve(node, root)
    if not isinstance(node, dict):
        yield {}  # a boolean schema: anything
        return
    alternatives = node.get("anyOf") or node.get("oneOf")
    if alternatives:
        for alternative in alternatives:
            yield from _branches(alternative, root)
    else:
        yield node


def _types(node: Schema) -> frozenset[str]:
    declared = node.get("type")
    if declared is None:
        if "const" in node:
            declared = _json_type(node["const"])
        elif "enum" in node:
            declared = sorted({_json_type(v) for v in node["enum"]})
        elif "properties" in node:
            declared = "object"
        elif "items" in node:
            declared = "array"
        else:
            return frozenset({"any"})
    names = [declared] if isinstance(declared, str) else list(declared)
    fmt = node.get("format")
    return frozenset(f"{n}:{fmt}" if fmt and n == "string" else n for n in names)


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def _enum_values(branches: list[Schema]) -> set[str] | None:
    """The JSON of every value the branches restrict to, or None when some branch takes any value of its type.

    A ``null`` branch restricts to null, so ``Kind | None`` is the kind's values plus null.
    """
    values: set[str] = set()
    for branch in branches:
        if "const" in branch:
            values.add(json.dumps(branch["const"]))
        elif "enum" in branch:
            values.update(json.dumps(v) for v in branch["enum"])
        elif _types(branch) == frozenset({"null"}):
            values.add("null")
        else:
            return None
    return values


def _show(types: frozenset[str]) -> str:
    return " | ".join(sorted(types))


def compare_schemas(name: str, released: Schema, current: Schema) -> list[str]:
    """Every breaking difference from ``released`` to ``current`` (two schemas of the same type and version)."""
    return _Comparison(name, released, current).run()


# --- the gate ---------------------------------------------------------------------------------------------


def _example_values(schema: Schema) -> list[dict[str, Any]]:
    return [e for e in schema.get("examples", []) if isinstance(e, dict)]


def _decodes(
    name: str,
    schema: Schema,
    messages: Mapping[tuple[str, int], type[Message]],
    upcasters: Mapping[tuple[str, int], Upcaster],
) -> list[str]:
    problems = []
    for index, example in enumerate(_example_values(schema), start=1):
        try:
            decode_with(json.dumps(example), None, messages, upcasters)
        except UndecodableMessage as failure:
            problems.append(f"{name}: released example {index} no longer decodes ({failure.reason_code}): {failure}")
    return problems


def _check_retired_version(
    name: str,
    schema: Schema,
    messages: Mapping[tuple[str, int], type[Message]],
    upcasters: Mapping[tuple[str, int], Upcaster],
) -> list[str]:
    """A released version that is no longer current must still be accepted, by upcasting, in its window."""
    message_type, version = parse_name(name)
    newer = sorted(v for (t, v) in messages if t == message_type and v > version)
    if not newer:
        return [
            f"{name}: released message is gone; keep it, or bump its schema_version and register an upcaster "
            f"from v{version}"
        ]
    step = version
    while (message_type, step) not in messages:
        upcaster = upcasters.get((message_type, step))
        if upcaster is None:
            return [
                f"{name}: v{version} is no longer accepted: current is v{newer[-1]}, but there is no upcaster from "
                f"v{step}; register_upcaster({message_type!r}, {step}, fn, accepted_until=...)"
            ]
        if upcaster.accepted_until is None:
            return [
                f"{name}: the upcaster from v{step} states no deprecation window; give it accepted_until (at least "
                f"{MIN_DEPRECATION_DAYS} days after the release that bumps the version)"
            ]
        step += 1
    return _decodes(name, schema, messages, upcasters)


def check_compatibility(
    released: Mapping[str, Schema],
    current: Mapping[str, Schema],
    messages: Mapping[tuple[str, int], type[Message]],
    upcasters: Mapping[tuple[str, int], Upcaster],
) -> list[str]:
    """Every reason the current contract would break a reader or writer of the released one (empty: compatible).

    ``messages`` and ``upcasters`` are the registry to decode with (normally :data:`contracts.registry.MESSAGES`
    and :data:`contracts.registry.UPCASTERS`).
    """
    problems: list[str] = []
    for name, released_schema in sorted(released.items()):
        if name in current:
            found = compare_schemas(name, released_schema, current[name])
            if found:
                message_type, version = parse_name(name)
                found.append(
                    f"{name}: to make this change, bump {message_type}.schema_version to {version + 1} and "
                    f"register_upcaster({message_type!r}, {version}, fn, accepted_until=...) so v{version} stays "
                    "accepted"
                )
            else:
                found = _decodes(name, released_schema, messages, upcasters)
            problems.extend(found)
        else:
            problems.extend(_check_retired_version(name, released_schema, messages, upcasters))
    return problems
